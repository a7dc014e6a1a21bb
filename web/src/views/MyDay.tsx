import { useEffect, useState } from "preact/hooks";
import { tasks } from "../api";
import type { Problem } from "../errors";
import { dateTime } from "../dates";
import type { Task } from "../gen/crm/activity/v1/tasks_pb";
import { RecordType } from "../gen/crm/activity/v1/records_pb";

type Props = { onError: (err: unknown) => Problem };

type Day = { overdue: Task[]; today: Task[]; upcoming: Task[] };

/** Where a task's first record opens in the console. */
export function recordLink(t: Task): string | undefined {
  const r = t.related[0];
  if (!r) return undefined;
  return r.type === RecordType.CUSTOMER ? `#customers/${r.id}` : r.type === RecordType.LEAD || r.type === RecordType.OPPORTUNITY ? "#pipeline" : undefined;
}

/** "My day": one's open tasks overdue, due today and in the next 7 days, ticked off in place. */
export function MyDay({ onError }: Props) {
  const [day, setDay] = useState<Day>();
  const [problem, setProblem] = useState<Problem>();
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

  const load = async () => {
    try {
      const d = await tasks.getMyDay({ timeZone: zone, pageSize: 50 });
      setDay({ overdue: d.overdue, today: d.today, upcoming: d.upcoming });
      setProblem(undefined);
    } catch (err) {
      setProblem(onError(err));
    }
  };
  useEffect(() => {
    load();
  }, []);

  const done = async (t: Task) => {
    try {
      await tasks.completeTask({ id: t.id, etag: t.etag });
      await load();
    } catch (err) {
      setProblem(onError(err));
    }
  };

  const group = (title: string, list: Task[], empty: string) => (
    <section aria-label={title} class="card">
      <h2>
        {title} <span class="count">{list.length}</span>
      </h2>
      {list.length === 0 ? (
        <p class="empty">{empty}</p>
      ) : (
        <ul class="tasks">
          {list.map((t) => {
            const link = recordLink(t);
            return (
              <li key={t.id}>
                <label class="choice">
                  <input type="checkbox" onChange={() => done(t)} aria-label={`Done: ${t.title}`} /> {link ? <a href={link}>{t.title}</a> : t.title}
                </label>{" "}
                <time class="hint">{dateTime(t.dueTime)}</time>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );

  return (
    <section aria-labelledby="day-title">
      <h1 id="day-title">My day</h1>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {!day ? (
        <p>Loading your tasks…</p>
      ) : (
        <>
          {group("Overdue", day.overdue, "Nothing overdue.")}
          {group("Today", day.today, "Nothing due today.")}
          {group("Next 7 days", day.upcoming, "Nothing planned this week.")}
        </>
      )}
    </section>
  );
}
