import { useEffect, useRef, useState } from "preact/hooks";
import { opportunities } from "../api";
import { day } from "../dates";
import type { Problem } from "../errors";
import { OpportunityStatus, type Opportunity } from "../gen/crm/sales/v1/opportunities_pb";
import { formatMoney } from "../money";
import { DEAL_SIZES, dealColumnSort, dealHashOf, dealRequest, dealViewOf, narrowedDeals, type DealColumn, type DealSort, type DealView } from "../dealView";
import { PersonChoice } from "./DealsOf";
import { PageSize, SortableHeading } from "./ListControls";
import { SavedViews } from "./SavedViews";
import { usePeople, usePipelines } from "./pipelines";
import { t } from "../i18n";

type Props = {
  onError: (err: unknown) => Problem;
  /** Who is signed in. */
  me: string;
  /** Whether they read everyone's opportunities (else only their own are listed). */
  readAll: boolean;
  /** Whether they may share saved views (`views.share`). */
  shareViews: boolean;
};

/** Every opportunity of the workspace (open, won or lost, in every pipeline) as a list: ordered by a column, narrowed, counted and paged, as the address says. */
export function Deals({ onError, me, readAll, shareViews }: Props) {
  const [view, setView] = useState<DealView>(() => dealViewOf(window.location.hash));
  const [rows, setRows] = useState<Opportunity[]>([]);
  const [total, setTotal] = useState<number>();
  const [loaded, setLoaded] = useState(false);
  // The tokens of the pages shown so far ("" the first): Previous goes back along them.
  const [pages, setPages] = useState<string[]>([""]);
  const [next, setNext] = useState("");
  const [problem, setProblem] = useState<Problem>();
  const asked = useRef(0);
  const fail = (err: unknown) => setProblem(onError(err));
  // The rows wait for the names of their owners and stages (or for those to fail): names
  // arriving after the rows would reflow the table under the reader's eyes.
  const [peopleFailed, setPeopleFailed] = useState(false);
  const people = usePeople(() => setPeopleFailed(true));
  const [pipelinesFailed, setPipelinesFailed] = useState(false);
  const { all } = usePipelines((err) => (setPipelinesFailed(true), fail(err)));
  const named = (people.length > 0 || peopleFailed) && (all.length > 0 || pipelinesFailed);
  const shownRows = named ? rows : [];
  const nameOf = (id: string) => people.find((u) => u.id === id)?.displayName ?? (id === me ? t("me") : id ? t("someone") : t("nobody"));
  const stageName = (o: Opportunity) => all.find((p) => p.id === o.pipelineId)?.stages.find((s) => s.id === o.stageId)?.name ?? "";
  const change = (part: Partial<DealView>) => {
    const shown = { ...view, ...part };
    setView(shown);
    history.replaceState(null, "", dealHashOf(shown));
  };

  const fetchPage = async (token: string) => {
    const ticket = ++asked.current;
    try {
      const answer = await opportunities.listOpportunities({ ...dealRequest(view), pageToken: token });
      // A slower answer to an earlier change never overwrites a newer one.
      if (ticket !== asked.current) return;
      if (!token) setTotal(answer.totalSize);
      setRows(answer.opportunities);
      setNext(answer.nextPageToken);
      setLoaded(true);
      setProblem(undefined);
    } catch (err) {
      if (ticket === asked.current) fail(err);
    }
  };
  // Words are asked for a moment after the last keystroke.
  useEffect(() => {
    const timer = setTimeout(() => {
      setPages([""]);
      fetchPage("");
    }, 150);
    return () => clearTimeout(timer);
  }, [view]);
  // Back, forward and a link to another list show it.
  useEffect(() => {
    const follow = () => {
      if (!window.location.hash.startsWith("#deals")) return;
      setView((shown) => (dealHashOf(shown) === window.location.hash ? shown : dealViewOf(window.location.hash)));
    };
    window.addEventListener("hashchange", follow);
    return () => window.removeEventListener("hashchange", follow);
  }, []);

  const forward = () => (setPages([...pages, next]), fetchPage(next));
  const back = () => {
    const earlier = pages.slice(0, -1);
    setPages(earlier);
    fetchPage(earlier[earlier.length - 1] ?? "");
  };
  const status = (o: Opportunity) =>
    o.status === OpportunityStatus.OPEN ? t("open · {{stage}}", { stage: stageName(o) }) : o.status === OpportunityStatus.WON ? t("won {{day}}", { day: day(o.closeTime) }) : t("lost {{day}}", { day: day(o.closeTime) });
  const heading = (column: DealColumn, label: string) => <SortableHeading label={label} {...dealColumnSort(column, view.sort)} change={(sort: DealSort) => change({ sort })} />;

  return (
    <section aria-labelledby="deals-title">
      <div class="section-head">
        <h1 id="deals-title">{t("Deals")}</h1>
      </div>
      <SavedViews list="opportunities" current={dealHashOf(view).split("?")[1] ?? ""} open={(saved) => change(dealViewOf(`#deals?${saved}`))} me={me} share={shareViews} onError={onError} />
      <div class="filters" role="group" aria-label={t("Which deals")}>
        <label class="inline">
          {t("Name has")}{" "}
          <input type="search" value={view.words} size={14} maxLength={200} onInput={(e) => change({ words: (e.target as HTMLInputElement).value })} />
        </label>
        <label class="inline">
          {t("Status")}{" "}
          <select value={view.status} onChange={(e) => change({ status: (e.target as HTMLSelectElement).value as DealView["status"] })}>
            <option value="">{t("any")}</option>
            <option value="open">{t("open")}</option>
            <option value="won">{t("won")}</option>
            <option value="lost">{t("lost")}</option>
          </select>
        </label>
        {readAll && <PersonChoice label={t("Owner")} anyone={t("anyone")} mine={t("me")} whose={view.owner} me={me} people={people} choose={(owner) => change({ owner })} />}
        <PageSize sizes={DEAL_SIZES} size={view.size} change={(size) => change({ size })} />
      </div>
      {/* Always there (empty until counted), so the count arriving moves nothing below it. */}
      <p class="hint count" role="status" aria-live="polite">
        {total !== undefined
          ? `${narrowedDeals(view) ? t("{{count}} deals match", { count: total }) : t("{{count}} open deals", { count: total })}${total > view.size ? ` · ${t("page {{page}} of {{pages}}", { page: pages.length, pages: Math.ceil(total / view.size) })}` : ""}`
          : ""}
      </p>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {/* Columns of fixed widths: rows arriving (or a page of longer names) move no heading. */}
      <div class="scroll" tabIndex={0}><table class="deals">
        <colgroup>
          <col class="name" />
          <col class="status" />
          <col class="owner" />
          <col class="amount" />
          <col />
          <col />
          <col />
        </colgroup>
        <thead>
          <tr>
            <th scope="col">{t("Name")}</th>
            <th scope="col">{t("Status")}</th>
            <th scope="col">{t("Owner")}</th>
            {heading("amount", t("Amount"))}
            {heading("close", t("Expected close"))}
            {heading("updated", t("Changed"))}
            {heading("created", t("Added"))}
          </tr>
        </thead>
        <tbody>
          {shownRows.map((o) => (
            <tr key={o.id}>
              <td class="name">
                <a href={`#pipeline/${o.id}`}>{o.name}</a>
              </td>
              <td>{status(o)}</td>
              <td>{nameOf(o.ownerId)}</td>
              <td class="number">{formatMoney(o.amount)}</td>
              <td>{day(o.expectedCloseTime)}</td>
              <td>{day(o.updateTime)}</td>
              <td>{day(o.createTime)}</td>
            </tr>
          ))}
          {shownRows.length === 0 && (
            <tr>
              <td colSpan={7} class="empty">
                {!loaded || !named ? t("Loading…") : narrowedDeals(view) ? t("No deal matches.") : t("No open deals.")}
              </td>
            </tr>
          )}
        </tbody>
      </table></div>
      {(pages.length > 1 || next) && (
        <div class="pager">
          <button type="button" class="secondary" onClick={back} disabled={pages.length <= 1}>
            {t("Previous")}
          </button>
          <button type="button" class="secondary" onClick={forward} disabled={!next}>
            {t("Next")}
          </button>
        </div>
      )}
    </section>
  );
}
