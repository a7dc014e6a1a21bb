import { useEffect, useState } from "preact/hooks";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { activities, tasks, timeline } from "../api";
import type { Problem } from "../errors";
import { dateTime } from "../dates";
import { ActivityKind } from "../gen/crm/activity/v1/activities_pb";
import type { RecordType } from "../gen/crm/activity/v1/records_pb";
import { TimelineEntryKind, type TimelineEntry } from "../gen/crm/activity/v1/timeline_pb";
import { Field, TextArea } from "./Field";
import { msg, t } from "../i18n";

type Props = {
  recordType: RecordType;
  recordId: string;
  /** The record's name, for the labels. */
  name: string;
  onError: (err: unknown) => Problem;
  may: { log: boolean; task: boolean };
};

const PAGE = 20;

/** What the composer writes: an activity of a kind, or a task. */
type Mode = "call" | "whatsapp" | "note" | "task";
const MODES: [Mode, string][] = [
  ["call", msg("Log a call")],
  ["whatsapp", msg("Log a WhatsApp")],
  ["note", msg("Add a note")],
  ["task", msg("Add a task")],
];
const KIND: Record<Exclude<Mode, "task">, ActivityKind> = {
  call: ActivityKind.CALL,
  whatsapp: ActivityKind.WHATSAPP,
  note: ActivityKind.NOTE,
};

const LABEL: Partial<Record<TimelineEntryKind, string>> = {
  [TimelineEntryKind.ACTIVITY]: msg("Activity"),
  [TimelineEntryKind.TASK]: msg("Task"),
  [TimelineEntryKind.CUSTOMER]: msg("Customer"),
  [TimelineEntryKind.CONTACT]: msg("Contact"),
  [TimelineEntryKind.LEAD]: msg("Lead"),
  [TimelineEntryKind.OPPORTUNITY]: msg("Deal"),
  [TimelineEntryKind.NOTIFICATION]: msg("Message"),
};

/** A moment an hour from now, as a datetime-local input holds it. */
function inAnHour(): string {
  const d = new Date(Date.now() + 3_600_000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * A record's timeline, newest first (its activities and tasks, and what happened to it in the
 * other contexts), with a composer at the top: log a call, a WhatsApp or a note, or add a task.
 */
export function Timeline({ recordType, recordId, name, onError, may }: Props) {
  const [entries, setEntries] = useState<TimelineEntry[]>([]);
  const [next, setNext] = useState("");
  const [problem, setProblem] = useState<Problem>();
  const [mode, setMode] = useState<Mode>(may.log ? "call" : "task");
  const [body, setBody] = useState("");
  const [outcome, setOutcome] = useState("");
  const [title, setTitle] = useState("");
  const [due, setDue] = useState(inAnHour);
  const [busy, setBusy] = useState(false);
  const record = { type: recordType, id: recordId };

  const load = async (token: string) => {
    try {
      const page = await timeline.listTimeline({ record, pageSize: PAGE, pageToken: token });
      setEntries((all) => (token ? [...all, ...page.entries] : page.entries));
      setNext(page.nextPageToken);
      return page.entries;
    } catch (err) {
      setProblem(onError(err));
      return [];
    }
  };

  useEffect(() => {
    load("");
  }, [recordId]);

  // The timeline is drawn from events: what was just written shows a moment later.
  const until = async (shown: (e: TimelineEntry) => boolean) => {
    for (let i = 0; i < 20; i++) {
      const first = await load("");
      if (first.some(shown)) return;
      await new Promise((r) => setTimeout(r, 150));
    }
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      if (mode === "task") {
        const { task } = await tasks.createTask({
          task: {
            title,
            dueTime: due ? timestampFromDate(new Date(due)) : undefined,
            timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
            remindBeforeMinutes: 0,
            related: [record],
          },
          requestId: crypto.randomUUID(),
        });
        setTitle("");
        setProblem(undefined);
        if (task) await until((e) => e.taskId === task.id);
      } else {
        const { activity } = await activities.logActivity({
          activity: { kind: KIND[mode], body, outcome, related: [record] },
          requestId: crypto.randomUUID(),
        });
        setBody("");
        setOutcome("");
        setProblem(undefined);
        if (activity) await until((e) => e.activityId === activity.id);
      }
    } catch (err) {
      setProblem(onError(err));
    } finally {
      setBusy(false);
    }
  };

  const complete = async (entry: TimelineEntry) => {
    try {
      await tasks.completeTask({ id: entry.taskId });
      await until((e) => e.taskId === entry.taskId && e.attributes.status === "done");
    } catch (err) {
      setProblem(onError(err));
    }
  };

  const f = problem?.fields ?? {};
  const offered = MODES.filter(([m]) => (m === "task" ? may.task : may.log));
  return (
    <section class="timeline" aria-label={t("Timeline of {{name}}", { name })}>
      <h3>{t("Timeline")}</h3>
      {offered.length > 0 && (
        <form onSubmit={submit} class="stack" aria-label={t("Log or plan")} noValidate>
          <div class="actions" role="radiogroup" aria-label={t("What to add")}>
            {offered.map(([m, label]) => (
              <label key={m} class="choice">
                <input type="radio" name={`compose-${recordId}`} checked={mode === m} onChange={() => setMode(m)} /> {t(label)}
              </label>
            ))}
          </div>
          {mode === "task" ? (
            <div class="row">
              <Field label={t("Task")} name={`task-title-${recordId}`} value={title} onInput={setTitle} error={f["task.title"]} hint={t("e.g. Send the quotation")} />
              <Field label={t("Due")} name={`task-due-${recordId}`} type="datetime-local" value={due} onInput={setDue} error={f["task.due_time"]} hint={t("You are reminded then")} />
            </div>
          ) : (
            <div class="row">
              <TextArea label={t("What was said")} name={`activity-body-${recordId}`} value={body} onInput={setBody} error={f["activity.body"]} rows={3} hint={t("Markdown: *slanted*, **bold**, lists")} />
              <Field label={t("Outcome")} name={`activity-outcome-${recordId}`} value={outcome} onInput={setOutcome} error={f["activity.outcome"]} hint={t("e.g. Wants samples")} />
            </div>
          )}
          {problem && <p class="error" role="alert">{problem.message}</p>}
          <button type="submit" disabled={busy}>
            {mode === "task" ? t("Add the task") : t("Save to the timeline")}
          </button>
        </form>
      )}
      {entries.length === 0 ? (
        <p class="empty">{t("Nothing yet.")}</p>
      ) : (
        <ol class="entries">
          {entries.map((e) => (
            <li key={`${e.id}-${e.subject?.id}`}>
              {/* The kind, unless the line says it already ("Task: ..."). */}
              {!e.summary.startsWith(LABEL[e.kind] ?? "Entry") && <span class="kind">{t(LABEL[e.kind] ?? "Entry")} </span>}
              <span>{e.summary}</span>{" "}
              <time class="hint">{dateTime(e.occurTime)}</time>
              {e.kind === TimelineEntryKind.TASK && e.attributes.status === "open" && may.task && (
                <button type="button" class="link" onClick={() => complete(e)} aria-label={t("Done: {{title}}", { title: e.attributes.title ?? e.summary })}>
                  {t("Mark done")}
                </button>
              )}
            </li>
          ))}
        </ol>
      )}
      {next && (
        <button type="button" class="secondary" onClick={() => load(next)}>
          {t("Show older")}
        </button>
      )}
    </section>
  );
}
