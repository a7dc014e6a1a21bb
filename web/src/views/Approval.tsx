import { useState } from "preact/hooks";
import { opportunities } from "../api";
import type { Problem } from "../errors";
import { ApprovalState, type Opportunity } from "../gen/crm/sales/v1/opportunities_pb";
import { formatMoney } from "../money";
import { TextArea } from "./Field";
import { t } from "../i18n";

/** Where a request to win above the workspace's large-deal limit stands, in words (none: ""). */
export function approvalText(o: Opportunity, nameOf: (id: string) => string): string {
  const a = o.approval;
  if (!a) return "";
  const amount = formatMoney(a.amount);
  switch (a.state) {
    case ApprovalState.PENDING:
      return t("Waiting for a sales manager to approve {{amount}} (asked by {{requestedByUserId}}).", { amount, requestedByUserId: nameOf(a.requestedByUserId) });
    case ApprovalState.APPROVED:
      return t("Approved up to {{amount}} by {{decidedByUserId}}: it can be won.", { amount, decidedByUserId: nameOf(a.decidedByUserId) });
    case ApprovalState.DECLINED:
      return t("Not approved at {{amount}} by {{decidedByUserId}}: “{{reason}}”", { amount, decidedByUserId: nameOf(a.decidedByUserId), reason: a.reason });
    default:
      return "";
  }
}

type AskProps = { card: Opportunity; onError: (err: unknown) => Problem; onAsked: (o: Opportunity) => void; onCancel: () => void };

/** Asking a sales manager to approve winning `card` at its amount, with a note for them. */
export function AskApproval({ card, onError, onAsked, onCancel }: AskProps) {
  const [note, setNote] = useState("");
  const [problem, setProblem] = useState<Problem>();
  const ask = async (e: Event) => {
    e.preventDefault();
    try {
      const { opportunity } = await opportunities.requestApproval({ id: card.id, note });
      if (opportunity) onAsked(opportunity);
    } catch (err) {
      setProblem(onError(err));
    }
  };
  return (
    <form class="confirm" onSubmit={ask} aria-label={t("Ask to approve {{name}}", { name: card.name })} noValidate>
      <TextArea label={t("A note for the sales managers (optional)")} name={`approval-note-${card.id}`} value={note} onInput={setNote} error={problem?.fields.note} rows={2} />
      {problem && !problem.fields.note && <p class="error" role="alert">{problem.message}</p>}
      <span class="actions">
        <button type="submit">{t("Ask for approval")}</button>
        <button type="button" class="secondary" onClick={onCancel}>
          {t("Cancel")}
        </button>
      </span>
    </form>
  );
}

type DecideProps = { o: Opportunity; nameOf: (id: string) => string; onError: (err: unknown) => Problem; onDecided: (o: Opportunity) => void };

/** A waiting request, for whoever may approve large deals: approve, or decline with a reason. */
export function DecideApproval({ o, nameOf, onError, onDecided }: DecideProps) {
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState<Problem>();
  const a = o.approval;
  if (!a || a.state !== ApprovalState.PENDING) return null;
  const decide = async (approve: boolean) => {
    try {
      const { opportunity } = await opportunities.decideApproval({ id: o.id, approve, reason });
      if (opportunity) onDecided(opportunity);
    } catch (err) {
      setProblem(onError(err));
    }
  };
  return (
    <section class="card stack" aria-labelledby={`approval-${o.id}`}>
      <h3 id={`approval-${o.id}`}>{t("Approval asked")}</h3>
      <p>
        {t("{{requestedByUserId}} asks to win {{name}} at {{amount}}, above the workspace's large-deal limit.", { requestedByUserId: nameOf(a.requestedByUserId), name: o.name, amount: formatMoney(a.amount) })}
        {a.note && ` “${a.note}”`}
      </p>
      <TextArea label={t("Why (needed to decline; the requester reads it)")} name={`approval-reason-${o.id}`} value={reason} onInput={setReason} error={problem?.fields.reason} rows={2} />
      {problem && !problem.fields.reason && <p class="error" role="alert">{problem.message}</p>}
      <span class="actions">
        <button type="button" onClick={() => decide(true)}>
          {t("Approve")}
        </button>
        <button type="button" class="secondary" onClick={() => decide(false)}>
          {t("Decline")}
        </button>
      </span>
    </section>
  );
}
