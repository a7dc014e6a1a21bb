import { useEffect, useState } from "preact/hooks";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { customers, leads } from "../api";
import type { Problem } from "../errors";
import type { Customer } from "../gen/crm/customer/v1/customers_pb";
import type { Lead } from "../gen/crm/sales/v1/leads_pb";
import { dateTime, day } from "../dates";
import { t } from "../i18n";

const PAGE = 25;

/** A deleted record as its row shows it. */
type Row = { id: string; name: string; detail: string; deleteTime?: Timestamp; purgeTime?: Timestamp };

type ListProps<T> = {
  /** The heading's id, unique on its screen. */
  id: string;
  title: string;
  hint: string;
  /** The second column's heading (what `Row.detail` holds). */
  detail: string;
  page: (token: string) => Promise<{ items: T[]; next: string }>;
  row: (item: T) => Row;
  restore: (item: T) => Promise<T | undefined>;
  /** A refusal in words for its row (a field's message before the whole one's). */
  refusal: (p: Problem) => string;
  onError: (err: unknown) => Problem;
  onRestored: (item: T) => void;
};

/**
 * Records deleted in the last 30 days that the person may restore, most recently deleted first,
 * each with a Restore button; a refusal shows on its row.
 */
function DeletedList<T>({ id, title, hint, detail, page, row, restore, refusal, onError, onRestored }: ListProps<T>) {
  const [rows, setRows] = useState<T[]>();
  const [next, setNext] = useState("");
  const [problem, setProblem] = useState<Problem>();
  const [refused, setRefused] = useState<Record<string, string>>({});
  const [restored, setRestored] = useState<string>();

  const load = async (token: string) => {
    try {
      const answer = await page(token);
      setRows((earlier) => (token ? [...(earlier ?? []), ...answer.items] : answer.items));
      setNext(answer.next);
      setProblem(undefined);
    } catch (err) {
      setProblem(onError(err));
    }
  };
  useEffect(() => {
    load("");
  }, []);

  const bringBack = async (item: T) => {
    const r = row(item);
    try {
      const back = await restore(item);
      setRows((all) => all?.filter((x) => row(x).id !== r.id));
      setRestored(r.name);
      if (back) onRestored(back);
    } catch (err) {
      setRefused({ ...refused, [r.id]: refusal(onError(err)) });
    }
  };

  return (
    <section class="card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      <p class="hint">{hint}</p>
      {restored && (
        <p class="hint" role="status">
          {t("{{restored}} is restored.", { restored })}
        </p>
      )}
      {problem && <p class="error" role="alert">{problem.message}</p>}
      <div class="scroll" tabIndex={0}><table>
        <thead>
          <tr>
            <th scope="col">{t("Name")}</th>
            <th scope="col">{detail}</th>
            <th scope="col">{t("Deleted")}</th>
            <th scope="col">{t("Restorable until")}</th>
            <th scope="col"><span class="visually-hidden">{t("Action")}</span></th>
          </tr>
        </thead>
        <tbody>
          {rows?.map((item) => {
            const r = row(item);
            return (
              <tr key={r.id}>
                <td>{r.name}</td>
                <td>{r.detail}</td>
                <td>{dateTime(r.deleteTime)}</td>
                <td>{day(r.purgeTime)}</td>
                <td>
                  <button type="button" class="secondary" onClick={() => bringBack(item)} aria-label={t("Restore {{name}}", { name: r.name })}>
                    {t("Restore")}
                  </button>
                  {refused[r.id] && <p class="error" role="alert">{refused[r.id]}</p>}
                </td>
              </tr>
            );
          })}
          {rows?.length === 0 && (
            <tr>
              <td colSpan={5} class="empty">{t("Nothing was deleted in the last 30 days.")}</td>
            </tr>
          )}
        </tbody>
      </table></div>
      {next && (
        <button type="button" class="secondary" onClick={() => load(next)}>
          {t("Show more")}
        </button>
      )}
    </section>
  );
}

type Props<T> = {
  onError: (err: unknown) => Problem;
  /** It is back: its list shows it again. */
  onRestored: (item: T) => void;
};

/** The customers deleted in the last 30 days, restorable with their contacts and tags. */
export function RecentlyDeleted({ onError, onRestored }: Props<Customer>) {
  return (
    <DeletedList<Customer>
      id="deleted-title"
      title={t("Recently deleted")}
      hint={t("Deleted customers can be restored for 30 days, with their contacts and tags. After that they are removed for good.")}
      detail={t("Email")}
      page={async (pageToken) => {
        const answer = await customers.listDeletedCustomers({ pageSize: PAGE, pageToken });
        return { items: answer.customers, next: answer.nextPageToken };
      }}
      row={(c) => ({ id: c.id, name: c.displayName, detail: c.email, deleteTime: c.deleteTime, purgeTime: c.purgeTime })}
      restore={async (c) => (await customers.restoreCustomer({ id: c.id })).customer}
      refusal={(p) => p.fields["customer.email"] ?? p.message}
      onError={onError}
      onRestored={onRestored}
    />
  );
}

/** The leads deleted in the last 30 days, restorable as they were. */
export function RecentlyDeletedLeads({ onError, onRestored }: Props<Lead>) {
  return (
    <DeletedList<Lead>
      id="deleted-leads-title"
      title={t("Recently deleted leads")}
      hint={t("Deleted leads can be restored for 30 days, as they were. After that they are removed for good.")}
      detail={t("Company")}
      page={async (pageToken) => {
        const answer = await leads.listDeletedLeads({ pageSize: PAGE, pageToken });
        return { items: answer.leads, next: answer.nextPageToken };
      }}
      row={(l) => ({ id: l.id, name: l.contactName, detail: l.companyName, deleteTime: l.deleteTime, purgeTime: l.purgeTime })}
      restore={async (l) => (await leads.restoreLead({ id: l.id })).lead}
      refusal={(p) => p.message}
      onError={onError}
      onRestored={onRestored}
    />
  );
}
