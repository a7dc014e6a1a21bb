import { useEffect, useState } from "preact/hooks";
import { customers } from "../api";
import type { Problem } from "../errors";
import type { Customer } from "../gen/crm/customer/v1/customers_pb";
import { dateTime, day } from "../dates";

type Props = {
  onError: (err: unknown) => Problem;
  /** A customer is back: the list shows it again. */
  onRestored: (c: Customer) => void;
};

const PAGE = 25;

/**
 * The customers deleted in the last 30 days that the person may restore, most recently deleted
 * first, each with a Restore button; a refusal shows on its row.
 */
export function RecentlyDeleted({ onError, onRestored }: Props) {
  const [rows, setRows] = useState<Customer[]>();
  const [next, setNext] = useState("");
  const [problem, setProblem] = useState<Problem>();
  const [refused, setRefused] = useState<Record<string, string>>({});
  const [restored, setRestored] = useState<string>();

  const load = async (token: string) => {
    try {
      const answer = await customers.listDeletedCustomers({ pageSize: PAGE, pageToken: token });
      setRows((earlier) => (token ? [...(earlier ?? []), ...answer.customers] : answer.customers));
      setNext(answer.nextPageToken);
      setProblem(undefined);
    } catch (err) {
      setProblem(onError(err));
    }
  };
  useEffect(() => {
    load("");
  }, []);

  const restore = async (c: Customer) => {
    try {
      const { customer } = await customers.restoreCustomer({ id: c.id });
      setRows((all) => all?.filter((r) => r.id !== c.id));
      setRestored(c.displayName);
      if (customer) onRestored(customer);
    } catch (err) {
      const p = onError(err);
      setRefused({ ...refused, [c.id]: p.fields["customer.email"] ?? p.message });
    }
  };

  return (
    <section class="card" aria-labelledby="deleted-title">
      <h2 id="deleted-title">Recently deleted</h2>
      <p class="hint">Deleted customers can be restored for 30 days, with their contacts and tags. After that they are removed for good.</p>
      {restored && (
        <p class="hint" role="status">
          {restored} is restored.
        </p>
      )}
      {problem && <p class="error" role="alert">{problem.message}</p>}
      <div class="scroll" tabIndex={0}><table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Deleted</th>
            <th scope="col">Restorable until</th>
            <th scope="col"><span class="visually-hidden">Action</span></th>
          </tr>
        </thead>
        <tbody>
          {rows?.map((c) => (
            <tr key={c.id}>
              <td>{c.displayName}</td>
              <td>{c.email}</td>
              <td>{dateTime(c.deleteTime)}</td>
              <td>{day(c.purgeTime)}</td>
              <td>
                <button type="button" class="secondary" onClick={() => restore(c)} aria-label={`Restore ${c.displayName}`}>
                  Restore
                </button>
                {refused[c.id] && <p class="error" role="alert">{refused[c.id]}</p>}
              </td>
            </tr>
          ))}
          {rows?.length === 0 && (
            <tr>
              <td colSpan={5} class="empty">Nothing was deleted in the last 30 days.</td>
            </tr>
          )}
        </tbody>
      </table></div>
      {next && (
        <button type="button" class="secondary" onClick={() => load(next)}>
          Show more
        </button>
      )}
    </section>
  );
}
