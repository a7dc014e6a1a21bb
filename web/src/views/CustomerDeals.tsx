import { useEffect, useState } from "preact/hooks";
import { opportunities } from "../api";
import { day, fromDayInput } from "../dates";
import type { Problem } from "../errors";
import { OpportunityStatus, type Opportunity } from "../gen/crm/sales/v1/opportunities_pb";
import { formatMoney, parseAmount } from "../money";
import { allPages } from "../paging";
import { Field } from "./Field";
import { usePipelines } from "./pipelines";
import { useSaving } from "./saving";
import { t } from "../i18n";

type Props = { customerId: string; customerName: string; mayOpen: boolean; onError: (err: unknown) => Problem };

/** A customer's opportunities (open, won and lost), and a new one for a customer who comes back. */
export function CustomerDeals({ customerId, customerName, mayOpen, onError }: Props) {
  const [list, setList] = useState<Opportunity[]>([]);
  const [form, setForm] = useState({ name: "", amount: "", close: "", pipeline: "" });
  const { problem, setProblem, saved, save: saving, refuse, edited } = useSaving(onError);
  const { all, chosen } = usePipelines((err) => setProblem(onError(err)));
  const pipeline = all.find((p) => p.id === form.pipeline) ?? chosen;
  const stageName = (o: Opportunity) =>
    all.find((p) => p.id === o.pipelineId)?.stages.find((s) => s.id === o.stageId)?.name ?? "";
  const set = (key: keyof typeof form) => (value: string) => (edited(), setForm({ ...form, [key]: value }));

  const reload = async () => {
    const { items } = await allPages(async (pageToken) => {
      const page = await opportunities.listOpportunities({ customerId, pageSize: 100, pageToken });
      return { items: page.opportunities, next: page.nextPageToken };
    });
    setList(items);
  };
  useEffect(() => {
    reload().catch((err) => setProblem(onError(err)));
  }, [customerId]);

  const create = async (e: Event) => {
    e.preventDefault();
    if (!pipeline) return;
    const amount = parseAmount(form.amount, pipeline.currencyCode);
    if (!amount) return refuse({ "opportunity.amount": t("write an amount such as 25,000.00") });
    await saving(async () => {
      await opportunities.createOpportunity({
        opportunity: {
          name: form.name.trim() || t("{{customerName}}: repeat order", { customerName }),
          customerId,
          pipelineId: pipeline.id,
          amount,
          expectedCloseTime: fromDayInput(form.close, "noon"),
        },
        requestId: crypto.randomUUID(),
      });
      setForm({ ...form, name: "", amount: "", close: "" });
      await reload();
    });
  };

  // A won or lost one is reopened (an undo) until its reopenable_until; a refusal shows beside it.
  const [reopenProblem, setReopenProblem] = useState<{ id: string; message: string }>();
  const reopenable = (o: Opportunity) => !!o.reopenableUntil && Number(o.reopenableUntil.seconds) * 1000 > Date.now();
  const reopen = async (o: Opportunity) => {
    try {
      await opportunities.reopenOpportunity({ id: o.id, etag: o.etag });
      setReopenProblem(undefined);
      await reload();
    } catch (err) {
      setReopenProblem({ id: o.id, message: onError(err).message });
    }
  };

  const f = problem?.fields ?? {};
  const field = (name: string) => f[`opportunity.${name}`] ?? f[name];
  const status = (o: Opportunity) =>
    o.status === OpportunityStatus.OPEN ? t("open · {{stage}}", { stage: stageName(o) }) : o.status === OpportunityStatus.WON ? t("won {{day}}", { day: day(o.closeTime) }) : t("lost {{day}}", { day: day(o.closeTime) });
  return (
    <div class="stack">
      <h3>{t("Opportunities")}</h3>
      <ul class="contacts" aria-label={t("Opportunities")}>
        {list.map((o) => (
          <li key={o.id}>
            <span>
              {o.name} · {formatMoney(o.amount)}
            </span>
            <span class="hint">{status(o)}</span>
            {o.status !== OpportunityStatus.OPEN && reopenable(o) && (
              <button type="button" class="link" onClick={() => reopen(o)} aria-label={t("Reopen {{name}}", { name: o.name })}>
                {t("Reopen")}
              </button>
            )}
            {reopenProblem?.id === o.id && (
              <span class="error" role="alert">
                {reopenProblem.message}
              </span>
            )}
          </li>
        ))}
        {list.length === 0 && <li class="hint">{t("None yet.")}</li>}
      </ul>
      {mayOpen && pipeline && (
        <form onSubmit={create} aria-label={t("New opportunity")} noValidate class="stack">
          <div class="row">
            <Field label={t("Opportunity name")} name="deal-name" value={form.name} onInput={set("name")} error={field("name")} hint={t("Empty: \"{{customerName}}: repeat order\"", { customerName })} />
            <Field label={t("Amount ({{currencyCode}})", { currencyCode: pipeline.currencyCode })} name="deal-amount" value={form.amount} onInput={set("amount")} error={field("amount")} />
            <div class="field">
              <label for="field-deal-close">{t("Expected to close")}</label>
              <input id="field-deal-close" type="date" value={form.close} onInput={(e) => set("close")((e.target as HTMLInputElement).value)} />
            </div>
            {all.length > 1 && (
              <div class="field">
                <label for="field-deal-pipeline">{t("Pipeline")}</label>
                <select id="field-deal-pipeline" value={pipeline.id} onChange={(e) => set("pipeline")((e.target as HTMLSelectElement).value)}>
                  {all.map((p) => (
                    <option key={p.id} value={p.id}>
                      {p.name}
                    </option>
                  ))}
                </select>
              </div>
            )}
          </div>
          {problem && <p class="error" role="alert">{problem.message}</p>}
          {saved && !problem && <p role="status">{t("Added to the pipeline.")}</p>}
          <button type="submit" class="secondary">
            {t("Add an opportunity")}
          </button>
        </form>
      )}
    </div>
  );
}
