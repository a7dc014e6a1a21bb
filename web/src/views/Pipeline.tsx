import { useEffect, useState } from "preact/hooks";
import { leads, opportunities } from "../api";
import { reason as reasonOf, type Problem } from "../errors";
import { ConnectError } from "@connectrpc/connect";
import { AskApproval, approvalText } from "./Approval";
import { LeadSource, LeadStatus, type Lead } from "../gen/crm/sales/v1/leads_pb";
import { LeadFields } from "./leadFields";
import { LeadDetail } from "./LeadDetail";
import { RecentlyDeletedLeads } from "./RecentlyDeleted";
import { UserStatus } from "../gen/crm/iam/v1/users_pb";
import { LossReason, OpportunityStatus, type Opportunity } from "../gen/crm/sales/v1/opportunities_pb";
import { formatMoney, parseAmount, sumMoney } from "../money";
import { PhoneKind } from "../gen/crm/common/v1/contact_points_pb";
import { PipelineChooser } from "./PipelineChooser";
import { DealsOf } from "./DealsOf";
import { LeadFilters, leadStatusName } from "./LeadFilters";
import { ANY_LEAD, leadFilterOf, leadHashOf, sameLeads, type LeadFilter } from "../leadView";
import { SavedViews } from "./SavedViews";
import { OpportunityDetail } from "./OpportunityDetail";
import { Timeline } from "./Timeline";
import { RecordType } from "../gen/crm/activity/v1/records_pb";
import { PipelineEditor } from "./PipelineEditor";
import { day } from "../dates";
import { allPages } from "../paging";
import { usePeople, usePipelines } from "./pipelines";
import { msg, t } from "../i18n";

type Props = { onError: (err: unknown) => Problem };
/** What the signed-in user may do to leads: all of them, their own, or none (as sales decides). */
export type LeadRights = { userId: string; write: "all" | "own" | "none"; convert: "all" | "own" | "none" };
type BoardProps = Props & {
  canAssign: boolean;
  /** Approving wins above the workspace's large-deal limit (`deals.approve_large`). */
  canApprove: boolean;
  canManage: boolean;
  /** Reads everyone's opportunities (else only one's own: the board needs no owner filter). */
  readAll: boolean;
  leadRights: LeadRights;
  /** Logging activities and adding tasks on a lead's or an opportunity's timeline. */
  timelineRights: { log: boolean; task: boolean };
  /** Shares saved views with the workspace and changes the shared ones (`views.share`). */
  shareViews: boolean;
};

/** Whether `rights` reach `lead` for a right of theirs. */
function reaches(rights: LeadRights, right: "write" | "convert", lead: Lead): boolean {
  return rights[right] === "all" || (rights[right] === "own" && lead.ownerId === rights.userId);
}



/** Why a deal was lost, as people say it. */
const LOSS_REASONS: [LossReason, string][] = [
  [LossReason.PRICE, msg("Lost: price")],
  [LossReason.COMPETITOR, msg("Lost: a competitor")],
  [LossReason.NO_BUDGET, msg("Lost: no budget")],
  [LossReason.TIMING, msg("Lost: timing")],
  [LossReason.PRODUCT_FIT, msg("Lost: not the right product")],
  [LossReason.NO_RESPONSE, msg("Lost: no response")],
];

/** The most open opportunities a board shows (read 200 a page). */
export const BOARD_LIMIT = 2000;

/** The cards a column shows at first, and how many more each "Show more" adds. */
export const COLUMN_SHOWN = 25;

/** Every open opportunity of a pipeline (of one owner, when given), page after page, up to BOARD_LIMIT. */
async function openOpportunities(pipelineId: string, ownerId: string): Promise<{ items: Opportunity[]; more: boolean }> {
  return allPages(async (pageToken) => {
    const page = await opportunities.listOpportunities({ pipelineId, ownerId, status: OpportunityStatus.OPEN, pageSize: 200, pageToken });
    return { items: page.opportunities, next: page.nextPageToken };
  }, BOARD_LIMIT);
}

/** The sales day: leads to qualify and convert, and a pipeline (the default, or one chosen) as a board. */
export function Pipeline({ onError, canAssign, canApprove, canManage, readAll, leadRights, timelineRights, shareViews }: BoardProps) {
  const [cards, setCards] = useState<Opportunity[]>([]);
  const [moreCards, setMoreCards] = useState(false);
  const [leadRows, setLeadRows] = useState<Lead[]>([]);
  const [leadsToken, setLeadsToken] = useState("");
  const [problem, setProblem] = useState<Problem>();
  const [dragged, setDragged] = useState<string>();
  // Whose deals the board shows ("" for everyone's), and how many cards each stage shows.
  const [whose, setWhose] = useState("");
  const [shown, setShown] = useState<Record<string, number>>({});
  const [details, setDetails] = useState<Opportunity>();
  // Won and Lost ask first (on the card), and offer an undo after (above the board).
  const [closing, setClosing] = useState<{ id: string; reason?: LossReason }>();
  // `large`: refused for the large-deal limit, so a sales manager can be asked (`asking`).
  const [cardProblem, setCardProblem] = useState<{ id: string; message: string; large?: boolean }>();
  const [asking, setAsking] = useState<string>();
  const [closed, setClosed] = useState<{ opportunity: Opportunity; reopened?: boolean; problem?: string }>();
  // The lead whose details are open, as the list has it now (its etag follows every change).
  const [openLeadId, setOpenLeadId] = useState<string>();
  const [showDeleted, setShowDeleted] = useState(false);
  // The lead just deleted, named with the way back.
  const [leadDeleted, setLeadDeleted] = useState<string>();
  const openLead = leadRows.find((l) => l.id === openLeadId);
  const fail = (err: unknown) => setProblem(onError(err));
  const { all, chosen: pipeline, choose, saved } = usePipelines(fail, "board");
  const [editing, setEditing] = useState<"new" | "chosen">();
  const people = usePeople(fail);
  const nameOf = (id: string) => people.find((u) => u.id === id)?.displayName ?? (id ? t("someone") : t("nobody"));

  // Which leads are listed (as the address says: a reload, a link or a saved view keeps it),
  // and how many there are.
  const [leadFilter, setFilterState] = useState<LeadFilter>(() => leadFilterOf(window.location.hash));
  const setLeadFilter = (next: LeadFilter) => {
    setFilterState(next);
    // Not while a card or a lead is open at its own address.
    if (!window.location.hash.startsWith("#pipeline/")) history.replaceState(null, "", leadHashOf(next));
  };
  /** The screen's address with the leads as they are listed (a closed card goes back to it). */
  const listed = () => leadHashOf(leadFilter);
  const [leadTotal, setLeadTotal] = useState<number>();
  const leadsAsked = { status: leadFilter.status, ownerId: leadFilter.owner, query: leadFilter.words.trim(), pageSize: 50 };
  useEffect(() => {
    let current = true;
    // Typed words are asked for a moment after the last keystroke; a choice at once.
    const timer = setTimeout(() => leads
      .listLeads(leadsAsked)
      .then((first) => {
        if (!current) return;
        // A lead added while the whole list was on its way stays (once).
        const kept = (added: Lead[]) => (leadFilter === ANY_LEAD ? added.filter((a) => !first.leads.some((l) => l.id === a.id)) : []);
        setLeadRows((added) => [...kept(added), ...first.leads]);
        setLeadsToken(first.nextPageToken);
        setLeadTotal(first.totalSize);
        setProblem(undefined);
      })
      .catch((err) => current && fail(err)), leadFilter.words ? 150 : 0);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [leadFilter]);
  // The board of the pipeline shown, again whenever another is chosen or a conversion adds to it.
  const [boardVersion, setBoardVersion] = useState(0);
  useEffect(() => {
    if (!pipeline) return;
    let current = true;
    openOpportunities(pipeline.id, whose)
      .then((r) => {
        if (!current) return;
        setCards(r.items);
        setMoreCards(r.more);
      })
      .catch(fail);
    return () => {
      current = false;
    };
  }, [pipeline?.id, whose, boardVersion]);

  const moreLeads = async () => {
    try {
      const next = await leads.listLeads({ ...leadsAsked, pageToken: leadsToken });
      setLeadRows((rows) => [...rows, ...next.leads.filter((l) => !rows.some((r) => r.id === l.id))]);
      setLeadsToken(next.nextPageToken);
    } catch (err) {
      fail(err);
    }
  };

  const replace = (o: Opportunity) => {
    setCards((all) => (o.status === OpportunityStatus.OPEN ? all.map((c) => (c.id === o.id ? o : c)) : all.filter((c) => c.id !== o.id)));
    // The open details follow a card moved, won or lost on the board (with its new etag).
    setDetails((d) => (d?.id !== o.id ? d : o.status === OpportunityStatus.OPEN ? { ...o, stageHistory: o.stageHistory.length ? o.stageHistory : d.stageHistory } : undefined));
  };

  const move = async (card: Opportunity, stageId: string) => {
    if (card.stageId === stageId) return;
    try {
      const { opportunity } = await opportunities.moveOpportunityStage({ id: card.id, stageId, etag: card.etag });
      if (opportunity) replace(opportunity);
    } catch (err) {
      fail(err);
    }
  };
  // Read again when opened: the list leaves out the stage history.
  const open = async (card: Opportunity) => {
    try {
      const { opportunity } = await opportunities.getOpportunity({ id: card.id });
      // Its details are read against its own pipeline's stages: that board is shown.
      if (opportunity) choose(opportunity.pipelineId);
      setDetails(opportunity);
    } catch (err) {
      fail(err);
    }
  };
  // The record open is in the address: `#pipeline/<id>` an opportunity, `#pipeline/leads/<id>` a
  // lead (a notice's link, a reload, back and forward); `#pipeline` none.
  const openLeadById = async (id: string) => {
    try {
      const { lead } = await leads.getLead({ id });
      if (!lead) return;
      setLeadRows((rows) => (rows.some((r) => r.id === lead.id) ? rows.map((r) => (r.id === lead.id ? lead : r)) : [lead, ...rows]));
      setOpenLeadId(lead.id);
    } catch (err) {
      fail(err);
    }
  };
  useEffect(() => {
    const follow = () => {
      const [path] = window.location.hash.split("?");
      const [screen, id, leadId] = path.split("/");
      if (screen !== "#pipeline") return;
      // Back or a link to other leads lists them.
      if (!id) setFilterState((now) => (sameLeads(now, leadFilterOf(window.location.hash)) ? now : leadFilterOf(window.location.hash)));
      if (id === "leads" && leadId) return (setDetails(undefined), openLeadById(leadId));
      setOpenLeadId(undefined);
      if (id) open({ id } as Opportunity);
      else setDetails(undefined);
    };
    follow();
    window.addEventListener("hashchange", follow);
    return () => window.removeEventListener("hashchange", follow);
  }, []);
  // A refusal shows on the card it concerns, in words.
  const failOn = (card: Opportunity, err: unknown) =>
    setCardProblem({ id: card.id, message: onError(err).message, large: reasonOf(ConnectError.from(err)) === "LARGE_DEAL_APPROVAL" });
  const closedNow = (opportunity: Opportunity | undefined) => {
    setClosing(undefined);
    setCardProblem(undefined);
    if (!opportunity) return;
    replace(opportunity);
    setClosed({ opportunity });
  };
  const win = async (card: Opportunity) => {
    try {
      closedNow((await opportunities.winOpportunity({ id: card.id, etag: card.etag })).opportunity);
    } catch (err) {
      failOn(card, err);
    }
  };
  const lose = async (card: Opportunity, reason: LossReason) => {
    try {
      closedNow((await opportunities.loseOpportunity({ id: card.id, reason, etag: card.etag })).opportunity);
    } catch (err) {
      failOn(card, err);
    }
  };
  // The undo: the opportunity open again, back on the board where it was.
  const reopen = async () => {
    if (!closed) return;
    const o = closed.opportunity;
    try {
      const { opportunity } = await opportunities.reopenOpportunity({ id: o.id, etag: o.etag });
      if (opportunity && opportunity.pipelineId === pipeline?.id) setCards((all) => [...all.filter((c) => c.id !== opportunity.id), opportunity]);
      if (opportunity) setClosed({ opportunity, reopened: true });
    } catch (err) {
      setClosed({ ...closed, problem: onError(err).message });
    }
  };
  const qualify = async (lead: Lead, qualified: boolean) => {
    try {
      const { lead: done } = await leads.qualifyLead({
        id: lead.id,
        qualified,
        score: qualified ? 70 : 0,
        reason: qualified ? "qualified in the console" : "not a fit, in the console",
        etag: lead.etag,
      });
      if (done) setLeadRows((all) => all.map((l) => (l.id === done.id ? done : l)));
    } catch (err) {
      fail(err);
    }
  };
  const assign = async (lead: Lead, ownerId: string) => {
    try {
      const { lead: done } = await leads.assignLead({ id: lead.id, ownerId, etag: lead.etag });
      if (done) setLeadRows((all) => all.map((l) => (l.id === done.id ? done : l)));
      setProblem(undefined);
    } catch (err) {
      fail(err);
    }
  };
  const convert = async (lead: Lead) => {
    try {
      // Into the pipeline on the board.
      const { lead: done } = await leads.convertLead({ id: lead.id, pipelineId: pipeline?.id ?? "", requestId: crypto.randomUUID() });
      if (done) setLeadRows((all) => all.map((l) => (l.id === done.id ? done : l)));
      setBoardVersion((v) => v + 1);
      setProblem(undefined);
    } catch (err) {
      fail(err);
    }
  };

  return (
    <section aria-labelledby="pipeline-title">
      <div class="section-head">
        <h1 id="pipeline-title">{t("Pipeline")}{pipeline ? `: ${pipeline.name}` : ""}</h1>
      </div>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      <NewLead currency={pipeline?.currencyCode ?? "MYR"} onError={onError} onCreated={(l) => setLeadRows((rows) => [l, ...rows.filter((r) => r.id !== l.id)])} />
      <div class="section-head">
        <h2>{t("Leads")}</h2>
        {leadRights.write !== "none" && (
          <button type="button" class="secondary" onClick={() => setShowDeleted(!showDeleted)} aria-expanded={showDeleted}>
            {showDeleted ? t("Close recently deleted leads") : t("Recently deleted leads")}
          </button>
        )}
      </div>
      {leadDeleted && (
        <p class="hint" role="status">
          {t("The lead {{leadDeleted}} is deleted: it can be restored for 30 days from Recently deleted leads.", { leadDeleted })}
        </p>
      )}
      {showDeleted && (
        <RecentlyDeletedLeads onError={onError} onRestored={(l) => (setLeadDeleted(undefined), setLeadRows((rows) => [l, ...rows.filter((r) => r.id !== l.id)]))} />
      )}
      {openLead && (
        <LeadDetail
          key={openLead.id}
          lead={openLead}
          readOnly={!reaches(leadRights, "write", openLead)}
          currency={pipeline?.currencyCode ?? "MYR"}
          onError={onError}
          onSaved={(l) => setLeadRows((all) => all.map((r) => (r.id === l.id ? l : r)))}
          onDeleted={(id) => {
            setLeadDeleted(openLead.contactName);
            setOpenLeadId(undefined);
            history.replaceState(null, "", listed());
            setLeadRows((all) => all.filter((r) => r.id !== id));
          }}
          onClose={() => (window.location.hash = listed())}
        />
      )}
      {openLead && (
        <Timeline key={`timeline-${openLead.id}`} recordType={RecordType.LEAD} recordId={openLead.id} name={openLead.contactName} onError={onError} may={timelineRights} />
      )}
      <SavedViews
        list="leads"
        current={leadHashOf(leadFilter).split("?")[1] ?? ""}
        open={(saved) => setLeadFilter(leadFilterOf(`#pipeline?${saved}`))}
        me={leadRights.userId}
        share={shareViews}
        onError={onError}
      />
      <LeadFilters filter={leadFilter} set={setLeadFilter} me={leadRights.userId} people={people} total={leadTotal} />
      <div class="scroll" tabIndex={0}><table>
        <thead>
          <tr>
            <th scope="col">{t("Contact")}</th>
            <th scope="col">{t("Company")}</th>
            <th scope="col">{t("Value")}</th>
            <th scope="col">{t("Status")}</th>
            <th scope="col">{t("Owner")}</th>
            <th scope="col">{t("Next step")}</th>
          </tr>
        </thead>
        <tbody>
          {leadRows.map((lead) => (
            <tr key={lead.id}>
              <td>
                <button type="button" class="link" onClick={() => (window.location.hash = `#pipeline/leads/${lead.id}`)} aria-label={t("Details of the lead {{contactName}}", { contactName: lead.contactName })}>
                  {lead.contactName}
                </button>
              </td>
              <td>{lead.companyName}</td>
              <td>{formatMoney(lead.estimatedValue)}</td>
              <td>{leadStatusName(lead.status)}</td>
              <td>
                {canAssign && lead.status !== LeadStatus.CONVERTED ? (
                  <select aria-label={t("Owner of {{contactName}}", { contactName: lead.contactName })} value={lead.ownerId} onChange={(e) => assign(lead, (e.target as HTMLSelectElement).value)}>
                    {!people.some((u) => u.id === lead.ownerId) && <option value={lead.ownerId}>{nameOf(lead.ownerId)}</option>}
                    {people
                      .filter((u) => u.status === UserStatus.ACTIVE || u.id === lead.ownerId)
                      .map((u) => (
                        <option key={u.id} value={u.id}>
                          {u.displayName}
                        </option>
                      ))}
                  </select>
                ) : (
                  nameOf(lead.ownerId)
                )}
              </td>
              <td>
                {(lead.status === LeadStatus.NEW || lead.status === LeadStatus.CONTACTED) && reaches(leadRights, "write", lead) && (
                  <span class="actions">
                    <button type="button" onClick={() => qualify(lead, true)} aria-label={t("Qualify {{contactName}}", { contactName: lead.contactName })}>
                      {t("Qualify")}
                    </button>
                    <button type="button" class="secondary" onClick={() => qualify(lead, false)} aria-label={t("Not a fit: {{contactName}}", { contactName: lead.contactName })}>
                      {t("Not a fit")}
                    </button>
                  </span>
                )}
                {lead.status === LeadStatus.QUALIFIED && reaches(leadRights, "convert", lead) && (
                  <button type="button" onClick={() => convert(lead)} aria-label={t("Convert {{contactName}}", { contactName: lead.contactName })}>
                    {t("Convert")}
                  </button>
                )}
              </td>
            </tr>
          ))}
          {leadRows.length === 0 && (
            <tr>
              <td colSpan={6} class="empty">{leadFilter === ANY_LEAD ? t("No leads yet.") : t("No lead matches.")}</td>
            </tr>
          )}
        </tbody>
      </table></div>
      {leadsToken && (
        <div class="pager">
          <button type="button" class="secondary" onClick={moreLeads}>
            {t("More leads")}
          </button>
        </div>
      )}
      <div class="section-head">
        <h2>{t("Board")}</h2>
        <span class="actions">
          <PipelineChooser all={all} chosen={pipeline} choose={choose} />
          {readAll && <DealsOf whose={whose} me={leadRights.userId} people={people} choose={(id) => (setWhose(id), setShown({}))} />}
          {canManage && (
            <>
              <button type="button" class="secondary" onClick={() => setEditing("chosen")} disabled={!pipeline}>
                {t("Edit the pipeline")}
              </button>
              <button type="button" class="secondary" onClick={() => setEditing("new")}>
                {t("New pipeline")}
              </button>
            </>
          )}
        </span>
      </div>
      {editing && (
        <PipelineEditor
          key={editing === "new" ? "new" : pipeline?.id}
          pipeline={editing === "new" ? undefined : pipeline}
          onError={onError}
          onSaved={(p) => (setEditing(undefined), saved(p))}
          onClose={() => setEditing(undefined)}
        />
      )}
      {details && pipeline && (
        <OpportunityDetail
          key={details.id}
          opportunity={details}
          pipeline={pipeline}
          nameOf={nameOf}
          canApprove={canApprove}
          onError={onError}
          onSaved={(o) => (replace(o), setDetails(o))}
          onClose={() => (window.location.hash = listed())}
        />
      )}
      {details && (
        <Timeline key={`timeline-${details.id}`} recordType={RecordType.OPPORTUNITY} recordId={details.id} name={details.name} onError={onError} may={timelineRights} />
      )}
      {moreCards && <p class="hint">{t("Showing the first {{count}} open opportunities.", { count: BOARD_LIMIT })}</p>}
      {closed && (
        <div class="notice undo" role="status" aria-label={t("Last change on the board")}>
          <span>
            {closed.reopened
              ? t("{{name}} is open again.", { name: closed.opportunity.name })
              : closed.opportunity.status === OpportunityStatus.WON ? t("{{name}} marked as won. A message to the customer waits a few minutes: undo before then and none is sent.", { name: closed.opportunity.name }) : t("{{name}} marked as lost. A message to the customer waits a few minutes: undo before then and none is sent.", { name: closed.opportunity.name })}
          </span>
          {closed.problem && <span class="error">{closed.problem}</span>}
          <span class="actions">
            {!closed.reopened && (
              <button type="button" onClick={reopen}>
                {t("Undo")}
              </button>
            )}
            <button type="button" class="secondary" onClick={() => setClosed(undefined)}>
              {t("Dismiss")}
            </button>
          </span>
        </div>
      )}
      <div class="board" tabIndex={0} role="group" aria-label={t("Board of {{pipeline}}", { pipeline: pipeline?.name ?? t("the pipeline") })}>
        {pipeline?.stages.map((stage) => {
          const inStage = cards.filter((c) => c.stageId === stage.id);
          const showing = shown[stage.id] ?? COLUMN_SHOWN;
          return (
          <div
            key={stage.id}
            class="column"
            role="region"
            aria-label={t("Stage {{name}}", { name: stage.name })}
            onDragOver={(e) => e.preventDefault()}
            onDrop={(e) => {
              e.preventDefault();
              const card = cards.find((c) => c.id === dragged);
              if (card) move(card, stage.id);
            }}
          >
            <div class="column-head">
              <h3 translate={false}>{stage.name}</h3>
              <p class="hint">
                {t("{{count}} deals", { count: inStage.length })}
                {inStage.length > 0 && ` · ${sumMoney(inStage.map((c) => c.amount)).map(formatMoney).join(" + ")}`}
              </p>
            </div>
            {inStage
              .slice(0, showing)
              .map((card) => (
                <article key={card.id} class="opportunity" draggable
                  onDragStart={(e) => {
                    // Firefox starts a drag only with data set.
                    e.dataTransfer?.setData("text/plain", card.id);
                    setDragged(card.id);
                  }} aria-label={card.name}>
                  <button type="button" class="link card-name" onClick={() => (window.location.hash = `#pipeline/${card.id}`)} aria-label={t("Details of {{name}}", { name: card.name })}>
                    {card.name}
                  </button>
                  <span>
                    {formatMoney(card.amount)} · {card.probability}%
                  </span>
                  {readAll && !whose && <span class="hint owner">{nameOf(card.ownerId)}</span>}
                  {card.expectedCloseTime && <span class="hint">{t("closes {{day}}", { day: day(card.expectedCloseTime) })}</span>}
                  <select
                    aria-label={t("Move {{name}} to", { name: card.name })}
                    value={card.stageId}
                    onChange={(e) => move(card, (e.target as HTMLSelectElement).value)}
                  >
                      {pipeline.stages.map((s) => (
                        <option key={s.id} value={s.id} translate={false}>
                          {s.name}
                        </option>
                      ))}
                  </select>
                  {closing?.id === card.id ? (
                    <div class="confirm" role="group" aria-label={closing.reason ? t("Mark {{name}} as lost?", { name: card.name }) : t("Mark {{name}} as won?", { name: card.name })}>
                      <span>
                        {closing.reason
                          ? t("Mark as {{reason}}?", { reason: t(LOSS_REASONS.find(([r]) => r === closing.reason)?.[1] ?? "Lost").toLowerCase() })
                          : t("Mark as won at {{amount}}?", { amount: formatMoney(card.amount) })}
                      </span>
                      <span class="actions">
                        <button type="button" onClick={() => (closing.reason ? lose(card, closing.reason) : win(card))}>
                          {closing.reason ? t("Yes, lost") : t("Yes, won")}
                        </button>
                        <button type="button" class="secondary" onClick={() => setClosing(undefined)}>
                          {t("Cancel")}
                        </button>
                      </span>
                    </div>
                  ) : (
                    <div class="actions">
                      <button type="button" onClick={() => (setClosing({ id: card.id }), setCardProblem(undefined))} aria-label={t("Won… {{name}}", { name: card.name })}>
                        {t("Won…")}
                      </button>
                      <select
                        aria-label={t("Lost… {{name}}, because of", { name: card.name })}
                        value=""
                        onChange={(e) => {
                          const reason = Number((e.target as HTMLSelectElement).value) as LossReason;
                          if (reason) (setClosing({ id: card.id, reason }), setCardProblem(undefined));
                        }}
                      >
                        <option value="">{t("Lost…")}</option>
                        {LOSS_REASONS.map(([reason, label]) => (
                          <option key={reason} value={reason}>
                            {t(label)}
                          </option>
                        ))}
                      </select>
                    </div>
                  )}
                  {card.approval && <p class="hint">{approvalText(card, nameOf)}</p>}
                  {cardProblem?.id === card.id && (
                    <p class="error" role="alert">
                      {cardProblem.message}
                    </p>
                  )}
                  {cardProblem?.id === card.id && cardProblem.large && asking !== card.id && (
                    <button type="button" class="secondary" onClick={() => setAsking(card.id)}>
                      {t("Ask a sales manager to approve")}
                    </button>
                  )}
                  {asking === card.id && (
                    <AskApproval
                      card={card}
                      onError={onError}
                      onAsked={(o) => (replace(o), setAsking(undefined), setCardProblem(undefined))}
                      onCancel={() => setAsking(undefined)}
                    />
                  )}
                </article>
              ))}
            {inStage.length > showing && (
              <button type="button" class="secondary more" onClick={() => setShown({ ...shown, [stage.id]: showing + COLUMN_SHOWN })}>
                {t("Show {{count}} more of {{left}}", { count: Math.min(COLUMN_SHOWN, inStage.length - showing), left: inStage.length - showing })}
              </button>
            )}
          </div>
          );
        })}
      </div>
    </section>
  );
}

function NewLead({ currency, onError, onCreated }: Props & { currency: string; onCreated: (l: Lead) => void }) {
  const [form, setForm] = useState({ contact: "", company: "", email: "", phone: "", value: "", source: String(LeadSource.WALK_IN) });
  const [problem, setProblem] = useState<Problem>();
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });
  const submit = async (e: Event) => {
    e.preventDefault();
    const amount = form.value ? parseAmount(form.value, currency) : undefined;
    if (form.value && !amount) {
      setProblem({ message: t("Please correct the marked fields."), fields: { "lead.estimated_value": t("write an amount such as 25,000.00") }, signInAgain: false });
      return;
    }
    try {
      const { lead } = await leads.createLead({
        lead: {
          contactName: form.contact,
          companyName: form.company,
          email: form.email,
          phone: form.phone.trim() ? { kind: PhoneKind.MOBILE, e164Number: form.phone.trim(), primary: true } : undefined,
          source: Number(form.source),
          estimatedValue: amount,
        },
        requestId: crypto.randomUUID(),
      });
      if (lead) {
        onCreated(lead);
        setForm({ ...form, contact: "", company: "", email: "", phone: "", value: "" });
        setProblem(undefined);
      }
    } catch (err) {
      setProblem(onError(err));
    }
  };
  const f = problem?.fields ?? {};
  return (
    <form class="card" onSubmit={submit} aria-label={t("New lead")} noValidate>
      <h2>{t("New lead")}</h2>
      <div class="row">
        <LeadFields prefix="lead" form={form} set={set} fields={f} currency={currency} />
      </div>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      <button type="submit">{t("Add the lead")}</button>
    </form>
  );
}
