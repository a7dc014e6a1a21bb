import { useEffect, useState } from "preact/hooks";
import { Code, ConnectError } from "@connectrpc/connect";
import { rest, tenants } from "../api";
import { FIELDS, addAnswer, importBody, parseCsv, rejectedCsv, type Columns, type DuplicatePolicy, type Field, type Parsed, type Report, type Target } from "../csv";
import { useCustomFields } from "./CustomFields";
import type { Problem } from "../errors";
import { msg, t } from "../i18n";

type Props = {
  onError: (err: unknown) => Problem;
  onDone: () => void;
  tenantId: string;
  /** Whether the person may keep the columns for the workspace (`tenant.manage`). */
  canRemember: boolean;
};

/** Rows a request carries. */
const BATCH = 200;
/** Rows the preview shows. */
const PREVIEW = 5;

/** Each field's name in the console, in the order the mapping offers them. */
const FIELD_NAMES: Record<Field, string> = {
  type: msg("Type (business or individual)"),
  given_name: msg("First name"),
  family_name: msg("Last name"),
  legal_name: msg("Company (legal name)"),
  email: msg("Email"),
  phones: msg("Phones (separated by ;)"),
  tags: msg("Tags (separated by ;)"),
  notes: msg("Notes"),
  street: msg("Street"),
  city: msg("City"),
  state: msg("State"),
  postcode: msg("Postcode"),
  country: msg("Country"),
  contact: msg("Contact person"),
  contact_email: msg("Contact email"),
  contact_phone: msg("Contact phone"),
  job_title: msg("Contact's job title"),
};

const POLICIES: [DuplicatePolicy, string][] = [
  ["DUPLICATE_POLICY_SKIP", msg("Leave the customer already there, and count the row as skipped")],
  ["DUPLICATE_POLICY_UPDATE", msg("Update the customer already there with the row")],
  ["DUPLICATE_POLICY_FAIL", msg("Reject the row")],
];

type Chosen = { name: string; parsed: Parsed };

/** Import customers from a CSV file: a preview of its first rows, the field each column fills
 * (remembered for the workspace), what to do with a customer already there, then a batch at a
 * time, with progress and the rejected rows. */
export function Import({ onError, onDone, tenantId, canRemember }: Props) {
  const [remembered, setRemembered] = useState<Record<string, string>>({});
  const [chosen, setChosen] = useState<Chosen>();
  const [columns, setColumns] = useState<Columns>({});
  const [policy, setPolicy] = useState<DuplicatePolicy>("DUPLICATE_POLICY_SKIP");
  const [remember, setRemember] = useState(true);
  const [progress, setProgress] = useState<{ done: number; total: number; checking: boolean }>();
  const [report, setReport] = useState<Report>();
  // The report is of a check (nothing written): the file stays chosen, to import after.
  const [checked, setChecked] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  // The workspace's custom fields: columns can fill them too.
  const custom = useCustomFields(onError);

  useEffect(() => {
    // The workspace's columns; without them, each header is guessed from its name.
    tenants
      .getTenant({ id: tenantId })
      .then(({ tenant }) => setRemembered(tenant?.settings?.importColumns ?? {}))
      .catch(() => undefined);
  }, [tenantId]);

  const choose = async (file: File) => {
    setReport(undefined);
    setProblem(undefined);
    setProgress(undefined);
    const parsed = parseCsv(await file.text(), remembered, custom);
    setChosen({ name: file.name, parsed });
    setColumns(parsed.columns);
  };

  /** Keeps the columns for the workspace's next import, if they changed; a refusal is told but
   * does not stop the import. */
  const keep = async () => {
    const kept = { ...remembered, ...columns };
    if (JSON.stringify(kept) === JSON.stringify(remembered)) return;
    try {
      await tenants.updateTenant({
        tenant: { id: tenantId, settings: { importColumns: kept } },
        updateMask: { paths: ["settings.import_columns"] },
      });
      setRemembered(kept);
    } catch (err) {
      setProblem(onError(err));
    }
  };

  /** Imports the file, or with `checking` only checks every row (a dry run: nothing written). */
  const run = async (checking: boolean) => {
    if (!chosen) return;
    const { rows } = chosen.parsed;
    setReport(undefined);
    setChecked(false);
    setProblem(undefined);
    if (canRemember && remember && !checking) await keep();
    let sum: Report = { received: 0, created: 0, updated: 0, skipped: 0, failed: 0, rejected: [], warned: [] };
    const id = crypto.randomUUID();
    setProgress({ done: 0, total: rows.length, checking });
    try {
      for (let first = 0; first < rows.length; first += BATCH) {
        const batch = rows.slice(first, first + BATCH);
        const answer = await rest("/api/v1/customers/import", {
          method: "POST",
          headers: { "content-type": "application/x-ndjson" },
          body: importBody(batch, `${id}-${first}`, columns, policy, custom, checking),
        });
        const json = await answer.json();
        if (!answer.ok) {
          // google.rpc.Status as JSON: its code says what to tell.
          throw new ConnectError(json.message ?? answer.statusText, (json.code as Code) ?? Code.Unknown);
        }
        sum = addAnswer(sum, json, batch, first);
        setProgress({ done: Math.min(first + BATCH, rows.length), total: rows.length, checking });
      }
      setReport(sum);
      setChecked(checking);
      if (checking) return;
      setChosen(undefined);
      onDone();
    } catch (err) {
      setProblem(onError(err));
    }
  };

  const download = () => {
    if (!report) return;
    const url = URL.createObjectURL(new Blob([rejectedCsv(report.rejected)], { type: "text/csv" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = "rejected-customers.csv";
    a.click();
    URL.revokeObjectURL(url);
  };

  const used = Object.values(columns).filter(Boolean);
  const twice = [...new Set(used.filter((f, i) => used.indexOf(f) !== i))] as Target[];
  const named = (f: Target) =>
    f.startsWith("custom.") ? (custom.find((c) => `custom.${c.key}` === f)?.label ?? f) : t(FIELD_NAMES[f as Field]);
  const running = progress !== undefined && report === undefined && problem === undefined;
  const note = (created: number, skipped: number, failed: number) =>
    checked
      ? t("Checked, nothing imported yet: {{created}} would be added, {{skipped}} already there, {{failed}} would be rejected.", { created, skipped, failed })
      : t("{{created}} added, {{skipped}} already there, {{failed}} rejected.", { created, skipped, failed });

  return (
    <div class="card" role="region" aria-label={t("Import customers")}>
      <h2>{t("Import from a CSV file")}</h2>
      <p class="hint">
        {t("A header row names the columns. You will see the first rows and choose the field each column fills before anything is imported.")}
      </p>
      <label class="field">
        <span>{t("CSV file")}</span>
        <input type="file" accept=".csv,text/csv" onChange={(e) => {
          const file = (e.target as HTMLInputElement).files?.[0];
          if (file) choose(file);
        }} />
      </label>
      {chosen && !running && (
        <section aria-label={t("Preview and columns")}>
          <h3>{t("{{count}} rows in {{file}}: the first ones, and the field each column fills", { count: chosen.parsed.rows.length, file: chosen.name })}</h3>
          <div class="scroll" tabIndex={0}><table class="compact preview">
            <thead>
              <tr>
                {chosen.parsed.headers.map((h) => (
                  <th scope="col" key={h.key}>
                    <span translate={false}>{h.label}</span>
                    <select
                      aria-label={t("Column “{{column}}” fills", { column: h.label })}
                      value={columns[h.key] ?? ""}
                      onChange={(e) => setColumns({ ...columns, [h.key]: (e.target as HTMLSelectElement).value as Target | "" })}
                    >
                      <option value="">{t("Not imported")}</option>
                      {(Object.keys(FIELDS) as Field[]).map((f) => (
                        <option key={f} value={f}>{named(f)}</option>
                      ))}
                      {custom.map((c) => (
                        <option key={c.key} value={`custom.${c.key}`}>{c.label}</option>
                      ))}
                    </select>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {chosen.parsed.rows.slice(0, PREVIEW).map((row, i) => (
                <tr key={i}>
                  {chosen.parsed.headers.map((h) => (
                    <td key={h.key} class={columns[h.key] ? undefined : "muted"}>{row[h.key]}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table></div>
          {twice.length > 0 && (
            <p class="hint">
              {t("More than one column fills {{fields}}: each row takes the first one that is filled.", { fields: twice.map(named).join(", ") })}
            </p>
          )}
          {used.length === 0 && <p class="error" role="alert">{t("No column fills a field: choose at least one.")}</p>}
          <fieldset class="choices">
            <legend>{t("A row whose email is already a customer's")}</legend>
            {POLICIES.map(([p, label]) => (
              <label key={p}>
                <input type="radio" name="duplicate-policy" checked={policy === p} onChange={() => setPolicy(p)} />
                {t(label)}
              </label>
            ))}
          </fieldset>
          {canRemember && (
            <label class="check">
              <input type="checkbox" checked={remember} onChange={(e) => setRemember((e.target as HTMLInputElement).checked)} />
              {t("Remember these columns for the workspace's next imports")}
            </label>
          )}
          <div class="actions">
            <button type="button" disabled={used.length === 0} onClick={() => run(false)}>
              {t("Import {{count}} rows", { count: chosen.parsed.rows.length })}
            </button>
            <button type="button" class="secondary" disabled={used.length === 0} onClick={() => run(true)}>
              {t("Check the rows first")}
            </button>
            <button type="button" class="secondary" onClick={() => setChosen(undefined)}>{t("Cancel")}</button>
          </div>
        </section>
      )}
      {progress && (
        <label class="field">
          <span>
            {progress.checking
              ? t("Checked {{done}} of {{total}} rows", { done: progress.done, total: progress.total })
              : t("Imported {{done}} of {{total}} rows", { done: progress.done, total: progress.total })}
          </span>
          <progress value={progress.done} max={progress.total} />
        </label>
      )}
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {report && (
        <div role="status">
          <p>{note(report.created, report.skipped, report.failed)}</p>
          {report.updated > 0 && (
            <p>
              {checked
                ? t("{{count}} customers already there would be updated from their rows.", { count: report.updated })
                : t("{{count}} customers already there updated from their rows.", { count: report.updated })}
            </p>
          )}
          {report.warned.length > 0 && (
            <>
              <p>
                {checked
                  ? t("Would be imported, with a phone that is not a number kept in the notes as written:")
                  : t("Imported, with a phone that is not a number kept in the notes as written:")}
              </p>
              <ul>
                {report.warned.map((w) => (
                  <li key={w.line}>
                    {t("line {{line}}", { line: w.line })} ({w.email}): {w.problems}
                  </li>
                ))}
              </ul>
            </>
          )}
          {report.rejected.length > 0 && (
            <>
              <div class="scroll" tabIndex={0}><table class="compact">
                <thead>
                  <tr>
                    <th scope="col">{t("Line")}</th>
                    <th scope="col">{t("Email")}</th>
                    <th scope="col">{t("Why")}</th>
                  </tr>
                </thead>
                <tbody>
                  {report.rejected.map((r) => (
                    <tr key={r.line}>
                      <td>{r.line}</td>
                      <td>{r.email}</td>
                      <td>{r.problems}</td>
                    </tr>
                  ))}
                </tbody>
              </table></div>
              <button type="button" class="secondary" onClick={download}>
                {t("Download the rejected rows")}
              </button>
            </>
          )}
        </div>
      )}
    </div>
  );
}
