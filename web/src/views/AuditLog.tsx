import { useEffect, useState } from "preact/hooks";
import { audit } from "../api";
import type { Problem } from "../errors";
import type { AuditEvent, AuditEventKind } from "../gen/crm/iam/v1/audit_pb";
import { AuditOutcome } from "../gen/crm/iam/v1/audit_pb";
import type { User } from "../gen/crm/iam/v1/users_pb";
import { KINDS, detailsText, kindText, targetText } from "../audit";
import { dateTime, dayRange } from "../dates";
import { msg, t } from "../i18n";

const PAGE = 50;

const OUTCOMES: Record<AuditOutcome, string> = {
  [AuditOutcome.UNSPECIFIED]: "",
  [AuditOutcome.SUCCESS]: msg("done"),
  [AuditOutcome.FAILURE]: msg("failed"),
  [AuditOutcome.DENIED]: msg("refused"),
};

/**
 * The audit log: who did what to whom, newest first, filtered by kind, by who acted and by days,
 * with older entries a page at a time. `version` changes when something was just done here.
 */
export function AuditLog({ people, version, onError }: { people: User[]; version: number; onError: (err: unknown) => Problem }) {
  const [kind, setKind] = useState("");
  const [actor, setActor] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [next, setNext] = useState("");
  const [problem, setProblem] = useState<Problem>();
  const filter = () => ({ kinds: kind ? [Number(kind) as AuditEventKind] : [], actorId: actor, ...dayRange(from, to), pageSize: PAGE });

  useEffect(() => {
    let current = true;
    audit
      .listAuditEvents(filter())
      .then((page) => {
        if (!current) return;
        setEvents(page.auditEvents);
        setNext(page.nextPageToken);
        setProblem(undefined);
      })
      .catch((err) => current && setProblem(onError(err)));
    return () => {
      current = false;
    };
  }, [kind, actor, from, to, version]);

  const older = async () => {
    try {
      const page = await audit.listAuditEvents({ ...filter(), pageToken: next });
      setEvents((shown) => [...shown, ...page.auditEvents.filter((e) => !shown.some((s) => s.id === e.id))]);
      setNext(page.nextPageToken);
    } catch (err) {
      setProblem(onError(err));
    }
  };

  const person = (id: string) => {
    const p = people.find((u) => u.id === id);
    return p ? p.displayName || p.email : undefined;
  };
  const filtered = kind || actor || from || to;
  return (
    <>
      <h2 id="audit-title">{t("Audit log")}</h2>
      <div class="filters" role="group" aria-label={t("Which entries")}>
        <label class="inline">
          {t("What")}{" "}
          <select value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
            <option value="">{t("everything")}</option>
            {KINDS.map(([k, words]) => (
              <option key={k} value={String(k)}>
                {t(words)}
              </option>
            ))}
          </select>
        </label>
        <label class="inline">
          {t("Who")}{" "}
          <select value={actor} onChange={(e) => setActor((e.target as HTMLSelectElement).value)}>
            <option value="">{t("anyone")}</option>
            {people.map((p) => (
              <option key={p.id} value={p.id}>
                {p.displayName || p.email}
              </option>
            ))}
          </select>
        </label>
        <label class="inline">
          {t("From")} <input type="date" value={from} max={to || undefined} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
        </label>
        <label class="inline">
          {t("to")} <input type="date" value={to} min={from || undefined} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
        </label>
        {filtered && (
          <button type="button" class="link" onClick={() => (setKind(""), setActor(""), setFrom(""), setTo(""))}>
            {t("Show everything")}
          </button>
        )}
      </div>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      <div class="scroll" tabIndex={0} aria-labelledby="audit-title"><table class="compact">
        <thead>
          <tr>
            <th scope="col">{t("When")}</th>
            <th scope="col">{t("What")}</th>
            <th scope="col">{t("On")}</th>
            <th scope="col">{t("By")}</th>
            <th scope="col">{t("Outcome")}</th>
            <th scope="col">{t("Details")}</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id}>
              <td>{dateTime(e.createTime)}</td>
              <td>{kindText(e.kind)}</td>
              <td>{targetText(e, person)}</td>
              <td>{e.actorId ? (person(e.actorId) ?? t("someone no longer here")) : t("not signed in")}</td>
              <td>{OUTCOMES[e.outcome] && t(OUTCOMES[e.outcome])}</td>
              <td>{detailsText(e)}</td>
            </tr>
          ))}
          {events.length === 0 && (
            <tr>
              <td colSpan={6} class="empty">
                {filtered ? t("No entry matches.") : t("Nothing yet.")}
              </td>
            </tr>
          )}
        </tbody>
      </table></div>
      {next && (
        <div class="pager">
          <button type="button" class="secondary" onClick={older}>
            {t("Older entries")}
          </button>
        </div>
      )}
    </>
  );
}
