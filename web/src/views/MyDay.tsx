import { useEffect, useState } from "preact/hooks";
import { opportunities, tasks } from "../api";
import type { Problem } from "../errors";
import { dateTime } from "../dates";
import type { Task } from "../gen/crm/activity/v1/tasks_pb";
import { RecordType } from "../gen/crm/activity/v1/records_pb";
import { ApprovalState, OpportunityStatus, type Opportunity } from "../gen/crm/sales/v1/opportunities_pb";
import { formatMoney } from "../money";
import { allPages } from "../paging";
import { usePeople } from "./pipelines";
import { t } from "../i18n";

type Props = {
  onError: (err: unknown) => Problem;
  /** Whether they approve large deals (`deals.approve_large`): the requests waiting are theirs. */
  canApprove?: boolean;
};

type Day = { overdue: Task[]; today: Task[]; upcoming: Task[] };

/** Where a task's first record opens in the console. */
export function recordLink(task: Task): string | undefined {
  const r = task.related[0];
  if (!r) return undefined;
  return r.type === RecordType.CUSTOMER
    ? `#customers/${r.id}`
    : r.type === RecordType.LEAD
      ? `#pipeline/leads/${r.id}`
      : r.type === RecordType.OPPORTUNITY
        ? `#pipeline/${r.id}`
        : undefined;
}

/**
 * "My day": one's open tasks overdue, due today and in the next 7 days, ticked off in place; and
 * for whoever approves large deals, the requests to win above the limit waiting for them.
 */
export function MyDay({ onError, canApprove = false }: Props) {
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

  const done = async (task: Task) => {
    try {
      await tasks.completeTask({ id: task.id, etag: task.etag });
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
          {list.map((task) => {
            const link = recordLink(task);
            return (
              <li key={task.id}>
                <label class="choice">
                  <input type="checkbox" onChange={() => done(task)} aria-label={t("Done: {{title}}", { title: task.title })} /> {link ? <a href={link}>{task.title}</a> : task.title}
                </label>{" "}
                <time class="hint">{dateTime(task.dueTime)}</time>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );

  return (
    <section aria-labelledby="day-title">
      <h1 id="day-title">{t("My day")}</h1>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {canApprove && <Waiting onError={onError} />}
      {!day ? (
        <p>{t("Loading your tasks…")}</p>
      ) : (
        <>
          {group(t("Overdue"), day.overdue, t("Nothing overdue."))}
          {group(t("Today"), day.today, t("Nothing due today."))}
          {group(t("Next 7 days"), day.upcoming, t("Nothing planned this week."))}
        </>
      )}
    </section>
  );
}

/** The open opportunities whose request to win above the large-deal limit waits for a sales manager. */
function Waiting({ onError }: { onError: (err: unknown) => Problem }) {
  const [waiting, setWaiting] = useState<Opportunity[]>();
  const [problem, setProblem] = useState<Problem>();
  const people = usePeople(() => {});
  const nameOf = (id: string) => people.find((u) => u.id === id)?.displayName ?? t("someone");
  useEffect(() => {
    allPages(async (pageToken) => {
      const page = await opportunities.listOpportunities({
        approvalState: ApprovalState.PENDING,
        status: OpportunityStatus.OPEN,
        pageSize: 100,
        pageToken,
      });
      return { items: page.opportunities, next: page.nextPageToken };
    })
      .then(({ items }) => setWaiting(items))
      .catch((err) => setProblem(onError(err)));
  }, []);
  return (
    <section aria-label={t("Waiting for your approval")} class="card">
      <h2>
        {t("Waiting for your approval")} <span class="count">{waiting?.length ?? 0}</span>
      </h2>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {waiting?.length === 0 ? (
        <p class="empty">{t("No large deal waits for an approval.")}</p>
      ) : (
        <ul class="tasks">
          {waiting?.map((o) => (
            <li key={o.id}>
              <a href={`#pipeline/${o.id}`}>{o.name}</a>: {formatMoney(o.approval?.amount)}{t(", asked by {{name}}", { name: nameOf(o.approval?.requestedByUserId ?? "") })}
              {o.approval?.note ? ` (“${o.approval.note}”)` : ""}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
