import { LeadSource } from "../gen/crm/sales/v1/leads_pb";
import { Field } from "./Field";

/** Where leads come from, as people say it. */
export const SOURCES: [LeadSource, string][] = [
  [LeadSource.WALK_IN, "Walk-in"],
  [LeadSource.REFERRAL, "Referral"],
  [LeadSource.WEBSITE, "Website"],
  [LeadSource.SOCIAL_MEDIA, "Social media"],
  [LeadSource.TRADE_SHOW, "Trade show"],
  [LeadSource.EMAIL_CAMPAIGN, "Email campaign"],
  [LeadSource.COLD_OUTREACH, "Cold outreach"],
  [LeadSource.OTHER, "Other"],
];

/** The fields a lead is added and corrected with. */
export type LeadForm = { contact: string; company: string; email: string; phone: string; source: string; value: string };

type Props = {
  /** Names the inputs (`lead` → `field-lead-contact`), one form's apart from another's. */
  prefix: string;
  form: LeadForm;
  set: (key: keyof LeadForm) => (value: string) => void;
  fields: Record<string, string>;
  currency: string;
};

/** A lead's contact, company, email, phone, source and estimated value, each with its error. */
export function LeadFields({ prefix, form, set, fields: f, currency }: Props) {
  return (
    <>
      <Field label="Contact name" name={`${prefix}-contact`} value={form.contact} onInput={set("contact")} error={f["lead.contact_name"]} />
      <Field label="Company" name={`${prefix}-company`} value={form.company} onInput={set("company")} error={f["lead.company_name"]} />
      <Field label="Lead email" name={`${prefix}-email`} type="email" value={form.email} onInput={set("email")} error={f["lead.email"]} />
      <Field label="Lead phone" name={`${prefix}-phone`} value={form.phone} onInput={set("phone")} error={f["lead.phone.e164_number"] ?? f["lead.phone"]} />
      <div class="field">
        <label for={`field-${prefix}-source`}>Source</label>
        <select id={`field-${prefix}-source`} value={form.source} onChange={(e) => set("source")((e.target as HTMLSelectElement).value)}>
          {SOURCES.map(([source, label]) => (
            <option key={source} value={source}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <Field label={`Estimated value (${currency})`} name={`${prefix}-value`} value={form.value} onInput={set("value")} error={f["lead.estimated_value"]} />
    </>
  );
}
