import { useState } from "preact/hooks";
import { leads } from "../api";
import type { Problem } from "../errors";
import { PhoneKind } from "../gen/crm/common/v1/contact_points_pb";
import type { Lead } from "../gen/crm/sales/v1/leads_pb";
import { amountText, parseAmount } from "../money";
import { Field, TextArea } from "./Field";
import { LeadFields } from "./leadFields";
import { useSaving } from "./saving";
import { t } from "../i18n";

type Props = {
  lead: Lead;
  readOnly?: boolean;
  currency: string;
  onError: (err: unknown) => Problem;
  onSaved: (l: Lead) => void;
  /** The lead was deleted (restorable for 30 days from Recently deleted leads). */
  onDeleted: (id: string) => void;
  onClose: () => void;
};

type Form = { contact: string; company: string; email: string; phone: string; source: string; value: string; interest: string; notes: string };

function formOf(l: Lead): Form {
  return {
    contact: l.contactName,
    company: l.companyName,
    email: l.email,
    phone: l.phone?.e164Number ?? "",
    source: String(l.source),
    value: amountText(l.estimatedValue),
    interest: l.interest,
    notes: l.notes,
  };
}

/** One lead's details, corrected by field mask and etag, and deleted after a yes. */
export function LeadDetail({ lead, readOnly = false, currency, onError, onSaved, onDeleted, onClose }: Props) {
  const [form, setForm] = useState<Form>(() => formOf(lead));
  const [deleting, setDeleting] = useState(false);
  const [deleteProblem, setDeleteProblem] = useState<string>();
  const remove = async () => {
    try {
      // With the etag: a lead someone changed meanwhile is not deleted unseen.
      await leads.deleteLead({ id: lead.id, etag: lead.etag });
      onDeleted(lead.id);
    } catch (err) {
      setDeleteProblem(onError(err).message);
    }
  };
  const { problem, saved, save: saving, refuse, edited } = useSaving(onError);
  const set = (key: keyof Form) => (value: string) => (edited(), setForm({ ...form, [key]: value }));
  const valueCurrency = lead.estimatedValue?.currencyCode || currency;

  const save = async (e: Event) => {
    e.preventDefault();
    const amount = form.value.trim() ? parseAmount(form.value, valueCurrency) : undefined;
    if (form.value.trim() && !amount) return refuse({ "lead.estimated_value": t("write an amount such as 25,000.00") });
    const was = formOf(lead);
    const names: [keyof Form, string][] = [
      ["contact", "contact_name"],
      ["company", "company_name"],
      ["email", "email"],
      ["phone", "phone"],
      ["source", "source"],
      ["value", "estimated_value"],
      ["interest", "interest"],
      ["notes", "notes"],
    ];
    const paths = names.filter(([key]) => form[key] !== was[key]).map(([, path]) => path);
    if (paths.length === 0) return;
    await saving(async () => {
      const { lead: updated } = await leads.updateLead({
        lead: {
          id: lead.id,
          etag: lead.etag,
          contactName: form.contact,
          companyName: form.company,
          email: form.email,
          phone: form.phone.trim() ? { kind: lead.phone?.kind || PhoneKind.MOBILE, e164Number: form.phone.trim(), primary: true } : undefined,
          source: Number(form.source),
          estimatedValue: amount,
          interest: form.interest,
          notes: form.notes,
        },
        updateMask: { paths },
      });
      if (updated) onSaved(updated);
    });
  };

  const f = problem?.fields ?? {};
  return (
    <form class="card stack" onSubmit={save} aria-label={t("Lead {{contactName}}", { contactName: lead.contactName })} noValidate>
      <div class="section-head">
        <h2>{lead.contactName}</h2>
        <button type="button" class="secondary" onClick={onClose}>
          {t("Close")}
        </button>
      </div>
      {readOnly && <p class="hint">{t("Another rep's lead: its owner or a sales manager changes it.")}</p>}
      <fieldset disabled={readOnly} class="plain">
      <div class="row">
        <LeadFields prefix="edit-lead" form={form} set={set} fields={f} currency={valueCurrency} />
        <Field label={t("Interested in")} name="edit-lead-interest" value={form.interest} onInput={set("interest")} error={f["lead.interest"]} hint={t("e.g. 200 batik uniforms")} />
      </div>
      <TextArea label={t("Notes")} name="edit-lead-notes" value={form.notes} onInput={set("notes")} error={f["lead.notes"]} rows={3} />
      </fieldset>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {saved && !problem && <p role="status">{t("Saved.")}</p>}
      {!readOnly && <button type="submit">{t("Save the lead")}</button>}
      {deleting ? (
        <div class="confirm" role="group" aria-label={t("Delete the lead {{contactName}}?", { contactName: lead.contactName })}>
          {deleteProblem ? (
            <p class="error" role="alert">
              {deleteProblem}
            </p>
          ) : (
            <span>{t("Delete the lead {{name}}? It can be restored for 30 days.", { name: lead.contactName })}</span>
          )}
          <span class="actions">
            {!deleteProblem && (
              <button type="button" onClick={remove}>
                {t("Yes, delete")}
              </button>
            )}
            <button type="button" class="secondary" onClick={() => (setDeleting(false), setDeleteProblem(undefined))}>
              {t("Keep")}
            </button>
          </span>
        </div>
      ) : (
        !readOnly &&
        !lead.convertedCustomerId && (
          <div class="actions">
            <button type="button" class="secondary" onClick={() => setDeleting(true)}>
              {t("Delete the lead")}
            </button>
          </div>
        )
      )}
    </form>
  );
}
