import { useState } from "preact/hooks";
import { Code, ConnectError } from "@connectrpc/connect";
import { rest } from "../api";
import { addAnswer, importBody, parseCsv, rejectedCsv, type Report } from "../csv";
import type { Problem } from "../errors";
import { t } from "../i18n";

type Props = { onError: (err: unknown) => Problem; onDone: () => void };

/** Rows a request carries. */
const BATCH = 200;

/** Import customers from a CSV file, a batch at a time, with progress and the rejected rows. */
export function Import({ onError, onDone }: Props) {
  const [progress, setProgress] = useState<{ done: number; total: number }>();
  const [report, setReport] = useState<Report>();
  const [ignored, setIgnored] = useState<string[]>([]);
  const [problem, setProblem] = useState<Problem>();

  const run = async (file: File) => {
    setReport(undefined);
    setProblem(undefined);
    const { rows, ignored } = parseCsv(await file.text());
    setIgnored(ignored);
    let sum: Report = { received: 0, created: 0, skipped: 0, failed: 0, rejected: [], warned: [] };
    const id = crypto.randomUUID();
    setProgress({ done: 0, total: rows.length });
    try {
      for (let first = 0; first < rows.length; first += BATCH) {
        const batch = rows.slice(first, first + BATCH);
        const answer = await rest("/api/v1/customers/import", {
          method: "POST",
          headers: { "content-type": "application/x-ndjson" },
          body: importBody(batch, `${id}-${first}`),
        });
        const json = await answer.json();
        if (!answer.ok) {
          // google.rpc.Status as JSON: its code says what to tell.
          throw new ConnectError(json.message ?? answer.statusText, (json.code as Code) ?? Code.Unknown);
        }
        sum = addAnswer(sum, json, batch, first);
        setProgress({ done: Math.min(first + BATCH, rows.length), total: rows.length });
      }
      setReport(sum);
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

  return (
    <div class="card" role="region" aria-label={t("Import customers")}>
      <h2>{t("Import from a CSV file")}</h2>
      <p class="hint">
        {t("A header row names the columns: company (or legal name), first name, last name, email, phone, tags (separated by ;), notes; street, city, state, postcode, country (its name or its two letters); for a business, its contact person, contact email, contact phone and job title.")}
      </p>
      <label class="field">
        <span>{t("CSV file")}</span>
        <input type="file" accept=".csv,text/csv" onChange={(e) => {
          const file = (e.target as HTMLInputElement).files?.[0];
          if (file) run(file);
        }} />
      </label>
      {progress && (
        <label class="field">
          <span>
            {t("Imported {{done}} of {{total}} rows", { done: progress.done, total: progress.total })}
          </span>
          <progress value={progress.done} max={progress.total} />
        </label>
      )}
      {ignored.length > 0 && <p class="hint">{t("Columns not read: {{columns}}.", { columns: ignored.join(", ") })}</p>}
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {report && (
        <div role="status">
          <p>
            {t("{{created}} added, {{skipped}} already there, {{failed}} rejected.", { created: report.created, skipped: report.skipped, failed: report.failed })}
          </p>
          {report.warned.length > 0 && (
            <>
              <p>{t("Imported, with a phone that is not a number kept in the notes as written:")}</p>
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
