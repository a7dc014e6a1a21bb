import { useState } from "preact/hooks";
import { opportunities } from "../api";
import type { Problem } from "../errors";
import { ApprovalState, type Opportunity } from "../gen/crm/sales/v1/opportunities_pb";
import { formatMoney } from "../money";
import { TextArea } from "./Field";

/** Where a request to win above the workspace's large-deal limit stands, in words (none: ""). */
export function approvalText(o: Opportunity, nameOf: (id: string) => string): string {
  const a = o.approval;
  if (!a) return "";
  const amount = formatMoney(a.amount);
  switch (a.state) {
    case ApprovalState.PENDING:
      return `Waiting for a sales manager to approve ${amount} (asked by ${nameOf(a.requestedByUserId)}).`;
    case ApprovalState.APPROVED:
      return `Approved up to ${amount} by ${nameOf(a.decidedByUserId)}: it can be won.`;
    case ApprovalState.DECLINED:
      return `Not approved at ${amount} by ${nameOf(a.decidedByUserId)}: “${a.reason}”`;
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
    <form class="confirm" onSubmit={ask} aria-label={`Ask to approve ${card.name}`} noValidate>
      <TextArea label="A note for the sales managers (optional)" name={`approval-note-${card.id}`} value={note} onInput={setNote} error={problem?.fields.note} rows={2} />
      {problem && !problem.fields.note && <p class="error" role="alert">{problem.message}</p>}
      <span class="actions">
        <button type="submit">Ask for approval</button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
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
      <h3 id={`approval-${o.id}`}>Approval asked</h3>
      <p>
        {nameOf(a.requestedByUserId)} asks to win {o.name} at {formatMoney(a.amount)}, above the workspace's large-deal limit.
        {a.note && ` “${a.note}”`}
      </p>
      <TextArea label="Why (needed to decline; the requester reads it)" name={`approval-reason-${o.id}`} value={reason} onInput={setReason} error={problem?.fields.reason} rows={2} />
      {problem && !problem.fields.reason && <p class="error" role="alert">{problem.message}</p>}
      <span class="actions">
        <button type="button" onClick={() => decide(true)}>
          Approve
        </button>
        <button type="button" class="secondary" onClick={() => decide(false)}>
          Decline
        </button>
      </span>
    </section>
  );
}
