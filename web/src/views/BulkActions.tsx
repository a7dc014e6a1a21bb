import { useState } from "preact/hooks";
import { customers } from "../api";
import type { Problem } from "../errors";
import { CustomerStatus, type Customer, type CustomerBatchResult } from "../gen/crm/customer/v1/customers_pb";
import type { User } from "../gen/crm/iam/v1/users_pb";
import { inBatches, type Outcome } from "../bulk";
import { customersCsv } from "../csv";
import { STATUSES } from "../customerForm";
import { t } from "../i18n";

/** What the person may do to the customers they selected. */
export type BulkRights = { write: boolean; remove: boolean; exporting: boolean };

type Props = {
  /** How many are selected (every match, when that was chosen). */
  count: number;
  /** The selected customers, gathered when an action runs (every page of the matches). */
  gather: (progress: (found: number) => void) => Promise<Customer[]>;
  people: User[];
  me: string;
  may: BulkRights;
  onError: (err: unknown) => Problem;
  /** An action ended: the list is read again and the selection cleared. */
  onDone: () => void;
  /** The workspace's custom fields: an export's columns after the details. */
  fields: { key: string }[];
};

/** The action running, and how far it is. */
type Running = { what: string; answered: number; of: number };

/**
 * The bar over a list with customers selected: give them to someone, set their status, add or
 * take away a tag, export them, or delete them (after a yes; each waits 30 days in Recently
 * deleted). Each runs 100 at a time with its progress, and ends with how many were done and
 * each one that was not, by name, with why.
 */
export function BulkActions({ count, gather, people, me, may, onError, onDone, fields }: Props) {
  const [owner, setOwner] = useState("");
  const [status, setStatus] = useState("");
  const [tag, setTag] = useState("");
  const [running, setRunning] = useState<Running>();
  const [report, setReport] = useState<{ what: string; outcome: Outcome; names: Map<string, string> }>();
  const [problem, setProblem] = useState<string>();
  const [confirming, setConfirming] = useState(false);

  const run = async (what: string, send: (ids: string[], requestId: string) => Promise<{ results: CustomerBatchResult[] }>) => {
    setProblem(undefined);
    setReport(undefined);
    setRunning({ what, answered: 0, of: count });
    try {
      const chosen = await gather((found) => setRunning({ what, answered: 0, of: Math.max(found, count) }));
      const names = new Map(chosen.map((c) => [c.id, c.displayName]));
      const outcome = await inBatches(
        chosen.map((c) => c.id),
        async (ids, requestId) => (await send(ids, requestId)).results,
        (answered) => setRunning({ what, answered, of: chosen.length }),
      );
      setReport({ what, outcome, names });
      onDone();
    } catch (err) {
      setProblem(onError(err).message);
    } finally {
      setRunning(undefined);
      setConfirming(false);
    }
  };
  const change = (what: string, part: { ownerId?: string; status?: CustomerStatus; addTags?: string[]; removeTags?: string[] }) =>
    run(what, (ids, requestId) => customers.batchUpdateCustomers({ ids, requestId, ...part }));
  const exportChosen = async () => {
    setProblem(undefined);
    try {
      const chosen = await gather(() => undefined);
      const url = URL.createObjectURL(new Blob([customersCsv(chosen, fields)], { type: "text/csv" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = "customers-selected.csv";
      a.click();
      URL.revokeObjectURL(url);
    } catch (err) {
      setProblem(onError(err).message);
    }
  };
  const busy = running !== undefined;
  const words = tag.trim();
  const chosen = count > 0;

  // Kept while nothing is selected, so the last action's report stays after the list is read again.
  return (
    <div class={chosen ? "bulk card" : "bulk"} role={chosen ? "region" : undefined} aria-label={chosen ? t("Selected customers") : undefined}>
      {chosen && <p class="bulk-count">{t("{{count}} selected", { count })}</p>}
      {chosen && may.write && (
        <div class="bulk-actions">
          <label class="inline">
            {t("Give to")}{" "}
            <select value={owner} onChange={(e) => setOwner((e.target as HTMLSelectElement).value)}>
              <option value="">{t("choose someone")}</option>
              <option value={me}>{t("me")}</option>
              {people
                .filter((u) => u.id !== me)
                .map((u) => (
                  <option key={u.id} value={u.id}>
                    {u.displayName}
                  </option>
                ))}
            </select>
          </label>
          <button type="button" class="secondary" disabled={busy || !owner} onClick={() => change(t("Given to someone"), { ownerId: owner })}>
            {t("Give")}
          </button>
          <label class="inline">
            {t("Status")}{" "}
            <select value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
              <option value="">{t("choose a status")}</option>
              {STATUSES.map(([s, label]) => (
                <option key={s} value={s}>
                  {t(label)}
                </option>
              ))}
            </select>
          </label>
          <button type="button" class="secondary" disabled={busy || !status} onClick={() => change(t("Status set"), { status: Number(status) as CustomerStatus })}>
            {t("Set")}
          </button>
          <label class="inline">
            {t("Tag")} <input value={tag} size={12} onInput={(e) => setTag((e.target as HTMLInputElement).value)} />
          </label>
          <button type="button" class="secondary" disabled={busy || !words} onClick={() => change(t("Tag added"), { addTags: [words] })}>
            {t("Add the tag")}
          </button>
          <button type="button" class="secondary" disabled={busy || !words} onClick={() => change(t("Tag taken away"), { removeTags: [words] })}>
            {t("Take the tag away")}
          </button>
        </div>
      )}
      {chosen && <div class="bulk-actions">
        {may.exporting && (
          <button type="button" class="secondary" disabled={busy} onClick={exportChosen}>
            {t("Export them as a CSV file")}
          </button>
        )}
        {may.remove && !confirming && (
          <button type="button" class="danger" disabled={busy} onClick={() => setConfirming(true)}>
            {t("Delete them…")}
          </button>
        )}
      </div>}
      {confirming && (
        <div class="confirm" role="group" aria-label={t("Delete {{count}} customers?", { count })}>
          <p>{t("Delete {{count}} customers? Each waits 30 days in Recently deleted, where it can be restored.", { count })}</p>
          <button type="button" class="danger" disabled={busy} onClick={() => run(t("Deleted"), (ids, requestId) => customers.batchDeleteCustomers({ ids, requestId }))}>
            {t("Yes, delete them")}
          </button>
          <button type="button" class="secondary" disabled={busy} onClick={() => setConfirming(false)}>
            {t("Keep them")}
          </button>
        </div>
      )}
      <div role="status" aria-live="polite">
        {running && (
          <p class="hint">
            <progress max={running.of} value={running.answered} aria-label={running.what} />{" "}
            {t("{{answered}} of {{of}} done", { answered: running.answered, of: running.of })}
          </p>
        )}
        {report && (
          <div>
            <p>{t("{{what}}: {{count}} customers.", { what: report.what, count: report.outcome.done })}</p>
            {report.outcome.failed.length > 0 && (
              <>
                <p>{t("{{count}} not done:", { count: report.outcome.failed.length })}</p>
                <ul>
                  {report.outcome.failed.slice(0, 20).map((f) => (
                    <li key={f.id}>
                      <span translate={false}>{report.names.get(f.id) ?? f.id}</span>: {f.message}
                    </li>
                  ))}
                </ul>
              </>
            )}
          </div>
        )}
      </div>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
    </div>
  );
}
