import { LeadSource } from "../gen/crm/sales/v1/leads_pb";
import { Field } from "./Field";
import { msg, t } from "../i18n";

/** Where leads come from, as people say it. */
export const SOURCES: [LeadSource, string][] = [
  [LeadSource.WALK_IN, msg("Walk-in")],
  [LeadSource.REFERRAL, msg("Referral")],
  [LeadSource.WEBSITE, msg("Website")],
  [LeadSource.SOCIAL_MEDIA, msg("Social media")],
  [LeadSource.TRADE_SHOW, msg("Trade show")],
  [LeadSource.EMAIL_CAMPAIGN, msg("Email campaign")],
  [LeadSource.COLD_OUTREACH, msg("Cold outreach")],
  [LeadSource.OTHER, msg("Other")],
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
      <Field label={t("Contact name")} name={`${prefix}-contact`} value={form.contact} onInput={set("contact")} error={f["lead.contact_name"]} />
      <Field label={t("Company")} name={`${prefix}-company`} value={form.company} onInput={set("company")} error={f["lead.company_name"]} />
      <Field label={t("Lead email")} name={`${prefix}-email`} type="email" value={form.email} onInput={set("email")} error={f["lead.email"]} />
      <Field label={t("Lead phone")} name={`${prefix}-phone`} value={form.phone} onInput={set("phone")} error={f["lead.phone.e164_number"] ?? f["lead.phone"]} />
      <div class="field">
        <label for={`field-${prefix}-source`}>{t("Source")}</label>
        <select id={`field-${prefix}-source`} value={form.source} onChange={(e) => set("source")((e.target as HTMLSelectElement).value)}>
          {SOURCES.map(([source, label]) => (
            <option key={source} value={source}>
              {t(label)}
            </option>
          ))}
        </select>
      </div>
      <Field label={t("Estimated value ({{currency}})", { currency })} name={`${prefix}-value`} value={form.value} onInput={set("value")} error={f["lead.estimated_value"]} />
    </>
  );
}
