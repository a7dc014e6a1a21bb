import { useState } from "preact/hooks";
import { opportunities } from "../api";
import { dateTime, dayInput, fromDayInput } from "../dates";
import type { Problem } from "../errors";
import type { Opportunity } from "../gen/crm/sales/v1/opportunities_pb";
import type { Pipeline } from "../gen/crm/sales/v1/pipelines_pb";
import { amountText, parseAmount, percentage } from "../money";
import { Field, TextArea } from "./Field";
import { useSaving } from "./saving";
import { DecideApproval, approvalText } from "./Approval";
import { t } from "../i18n";

type Props = {
  opportunity: Opportunity;
  pipeline: Pipeline;
  nameOf: (userId: string) => string;
  /** Whether the person approves wins above the large-deal limit. */
  canApprove: boolean;
  onError: (err: unknown) => Problem;
  onSaved: (o: Opportunity) => void;
  onClose: () => void;
};

/** One opportunity: what it is worth, when it should close, how likely, its notes and its way through the stages. */
export function OpportunityDetail({ opportunity: o, pipeline, nameOf, canApprove, onError, onSaved, onClose }: Props) {
  const [form, setForm] = useState({ name: o.name, amount: amountText(o.amount), close: dayInput(o.expectedCloseTime), probability: String(o.probability), notes: o.notes });
  const { problem, saved, save: saving, refuse, edited } = useSaving(onError);
  const set = (key: keyof typeof form) => (value: string) => (edited(), setForm({ ...form, [key]: value }));
  const currency = o.amount?.currencyCode || pipeline.currencyCode || "MYR";
  const stageName = (id: string) => pipeline.stages.find((s) => s.id === id)?.name ?? t("another pipeline's stage");

  const save = async (e: Event) => {
    e.preventDefault();
    const local: Record<string, string> = {};
    const amount = parseAmount(form.amount, currency);
    if (!amount) local["opportunity.amount"] = t("write an amount such as 25,000.00");
    const probability = percentage(form.probability);
    if (probability === undefined) local["opportunity.probability"] = t("a whole percentage from 0 to 100");
    if (Object.keys(local).length > 0) {
      return refuse(local);
    }
    const paths = [
      form.name !== o.name && "name",
      form.amount !== amountText(o.amount) && "amount",
      form.close !== dayInput(o.expectedCloseTime) && "expected_close_time",
      probability !== o.probability && "probability",
      form.notes !== o.notes && "notes",
    ].filter((p): p is string => Boolean(p));
    if (paths.length === 0) return;
    await saving(async () => {
      const { opportunity } = await opportunities.updateOpportunity({
        opportunity: {
          id: o.id,
          etag: o.etag,
          name: form.name,
          amount,
          expectedCloseTime: fromDayInput(form.close, "noon"),
          probability,
          notes: form.notes,
        },
        updateMask: { paths },
      });
      if (opportunity) onSaved(opportunity);
    });
  };

  const f = problem?.fields ?? {};
  const field = (name: string) => f[`opportunity.${name}`] ?? f[name];
  return (
    <form class="card stack" onSubmit={save} aria-label={t("Opportunity {{name}}", { name: o.name })} noValidate>
      <div class="section-head">
        <h2>{o.name}</h2>
        <button type="button" class="secondary" onClick={onClose}>
          {t("Close")}
        </button>
      </div>
      {o.approval && <p class="notice">{approvalText(o, nameOf)}</p>}
      {canApprove && <DecideApproval o={o} nameOf={nameOf} onError={onError} onDecided={onSaved} />}
      <div class="row">
        <Field label={t("Name")} name="opp-name" value={form.name} onInput={set("name")} error={field("name")} />
        <Field label={t("Amount ({{currency}})", { currency })} name="opp-amount" value={form.amount} onInput={set("amount")} error={field("amount")} />
        <div class="field">
          <label for="field-opp-close">{t("Expected to close")}</label>
          <input id="field-opp-close" type="date" value={form.close} onInput={(e) => set("close")((e.target as HTMLInputElement).value)} />
        </div>
        <Field label={t("Likelihood (%)")} name="opp-probability" type="number" value={form.probability} onInput={set("probability")} error={field("probability")} hint={t("The stage's unless changed")} />
      </div>
      <TextArea label={t("Notes")} name="opp-notes" value={form.notes} onInput={set("notes")} error={field("notes")} rows={3} />
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {saved && !problem && <p role="status">{t("Saved.")}</p>}
      <button type="submit">{t("Save the opportunity")}</button>
      <h3>{t("Its way through the stages")}</h3>
      <ol class="history" aria-label={t("Stage history")}>
        {o.stageHistory.map((c, i) => (
          <li key={i}>
            {c.fromStageId ? `${stageName(c.fromStageId)} → ` : t("Entered") + " "}
            {stageName(c.toStageId)} · {dateTime(c.changeTime)} · {nameOf(c.changedByUserId)}
          </li>
        ))}
      </ol>
    </form>
  );
}
