import { useEffect, useState } from "preact/hooks";
import { tenants } from "../api";
import type { Problem } from "../errors";
import { CustomerVisibility, MfaPolicy, type Tenant } from "../gen/crm/iam/v1/tenants_pb";
import { Field } from "./Field";
import { wholeNumber } from "../money";
import { useSaving } from "./saving";
import { SingleSignOn } from "./SingleSignOn";
import { CustomFieldSettings } from "./CustomFieldSettings";
import { msg, t } from "../i18n";

type Props = {
  tenantId: string;
  onError: (err: unknown) => Problem;
  /** What people may do changed (who sees which customers): the session renews its token. */
  onAccessChanged: () => void;
};

/** Locales the notifications are written in (Malay, English); any other gets English. */
const LOCALES: [string, string][] = [
  ["ms-MY", msg("Bahasa Melayu (Malaysia)")],
  ["en-MY", msg("English (Malaysia)")],
  ["en-SG", msg("English (Singapore)")],
  ["en-GB", msg("English (United Kingdom)")],
  ["en-US", msg("English (United States)")],
];

const POLICIES: [MfaPolicy, string][] = [
  [MfaPolicy.OPTIONAL, msg("Each person chooses")],
  [MfaPolicy.ADMINS, msg("Required for those who manage people (owners, admins)")],
  [MfaPolicy.EVERYONE, msg("Required for everyone")],
];

const VISIBILITIES: [CustomerVisibility, string][] = [
  [CustomerVisibility.EVERYONE, msg("Every customer of the shop (they change only their own)")],
  [CustomerVisibility.OWN, msg("Only their own customers")],
];

type Form = {
  name: string;
  currency: string;
  timeZone: string;
  locale: string;
  threshold: string;
  idle: string;
  lifetime: string;
  policy: MfaPolicy;
  visibility: CustomerVisibility;
};

function formOf(t: Tenant): Form {
  const s = t.settings;
  return {
    name: t.name,
    currency: s?.defaultCurrencyCode ?? "",
    timeZone: s?.timeZone ?? "",
    locale: s?.locale ?? "",
    threshold: String(s?.dealApprovalThresholdUnits ?? 0n),
    idle: String(s?.sessionIdleTimeoutMinutes ?? 0),
    lifetime: String(s?.sessionMaxLifetimeHours ?? 0),
    policy: s?.mfaPolicy || MfaPolicy.OPTIONAL,
    visibility: s?.customerVisibility || CustomerVisibility.OWN,
  };
}

/** The workspace (tenant): its name, and the settings its owners choose. */
export function Settings({ tenantId, onError, onAccessChanged }: Props) {
  const [tenant, setTenant] = useState<Tenant>();
  const [form, setForm] = useState<Form>();
  const { problem, setProblem, saved, save: saving, refuse, edited } = useSaving(onError);
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];

  useEffect(() => {
    tenants
      .getTenant({ id: tenantId })
      .then((r) => {
        setTenant(r.tenant);
        if (r.tenant) setForm(formOf(r.tenant));
      })
      .catch((err) => setProblem(onError(err)));
  }, [tenantId]);

  if (!tenant || !form) {
    return <section aria-label={t("Workspace")}>{problem ? <p class="error" role="alert">{problem.message}</p> : <p>{t("Loading…")}</p>}</section>;
  }
  const set = (key: keyof Form) => (value: string) => (edited(), setForm({ ...form, [key]: value }));

  const save = async (e: Event) => {
    e.preventDefault();
    // Numbers are checked here first; everything else by the service, beside its field.
    const numbers = { threshold: wholeNumber(form.threshold), idle: wholeNumber(form.idle), lifetime: wholeNumber(form.lifetime) };
    const local: Record<string, string> = {};
    if (numbers.threshold === undefined) local["tenant.settings.deal_approval_threshold_units"] = t("must be a whole amount, 0 or more");
    if (numbers.idle === undefined) local["tenant.settings.session_idle_timeout_minutes"] = t("must be a whole number of minutes (0 for the default)");
    if (numbers.lifetime === undefined) local["tenant.settings.session_max_lifetime_hours"] = t("must be a whole number of hours (0 for the default)");
    if (Object.keys(local).length > 0) {
      return refuse(local);
    }
    const before = formOf(tenant);
    const paths: string[] = [];
    if (form.name !== before.name) paths.push("name");
    const { name: _n, ...settingsNow } = form;
    const { name: _b, ...settingsBefore } = before;
    if (JSON.stringify(settingsNow) !== JSON.stringify(settingsBefore)) paths.push("settings");
    if (paths.length === 0) return;
    await saving(async () => {
      const { tenant: updated } = await tenants.updateTenant({
        tenant: {
          id: tenant.id,
          etag: tenant.etag,
          name: form.name,
          settings: {
            defaultCurrencyCode: form.currency.trim(),
            timeZone: form.timeZone.trim(),
            locale: form.locale,
            dealApprovalThresholdUnits: BigInt(numbers.threshold!),
            sessionIdleTimeoutMinutes: numbers.idle!,
            sessionMaxLifetimeHours: numbers.lifetime!,
            mfaPolicy: form.policy,
            customerVisibility: form.visibility,
          },
        },
        updateMask: { paths },
      });
      if (updated) {
        if (updated.settings?.customerVisibility !== tenant.settings?.customerVisibility) onAccessChanged();
        setTenant(updated);
        setForm(formOf(updated));
      }
    });
  };

  const f = problem?.fields ?? {};
  const s = "tenant.settings.";
  const locales = LOCALES.some(([code]) => code === form.locale) ? LOCALES : [...LOCALES, [form.locale, form.locale] as [string, string]];
  return (
    <section aria-labelledby="settings-title">
      <div class="section-head">
        <h1 id="settings-title">{t("Workspace")}</h1>
        <span class="hint">{t("Sign-in name: {{slug}}", { slug: tenant.slug })}</span>
      </div>
      <form class="card stack" onSubmit={save} aria-label={t("Workspace settings")} noValidate>
        <div class="row">
          <Field label={t("Business name")} name="tenant-name" value={form.name} onInput={set("name")} error={f["tenant.name"]} />
          <Field label={t("Currency")} name="tenant-currency" value={form.currency} onInput={set("currency")} error={f[`${s}default_currency_code`]} hint={t("ISO 4217, e.g. MYR")} />
          <Field label={t("Time zone")} name="tenant-zone" value={form.timeZone} onInput={set("timeZone")} error={f[`${s}time_zone`]} list="time-zones" hint={t("e.g. Asia/Kuala_Lumpur")} />
          <div class="field">
            <label for="field-tenant-locale">{t("Language (of the console and the notices, for whoever has not chosen their own)")}</label>
            <select id="field-tenant-locale" value={form.locale} onChange={(e) => set("locale")((e.target as HTMLSelectElement).value)} aria-invalid={f[`${s}locale`] ? "true" : undefined}>
              {locales.map(([code, label]) => (
                <option key={code} value={code}>
                  {t(label)}
                </option>
              ))}
            </select>
            {f[`${s}locale`] && <span class="field-error">{f[`${s}locale`]}</span>}
          </div>
        </div>
        <datalist id="time-zones">
          {zones.map((z) => (
            <option key={z} value={z} />
          ))}
        </datalist>
        <div class="row">
          <Field label={t("Deals above this amount need a sales manager to win")} name="tenant-threshold" type="number" value={form.threshold} onInput={set("threshold")} error={f[`${s}deal_approval_threshold_units`]} hint={t("Whole units of the default currency; 0 for no limit. Deals in other currencies always need a manager")} />
          <Field label={t("Sign out after this many idle minutes")} name="tenant-idle" type="number" value={form.idle} onInput={set("idle")} error={f[`${s}session_idle_timeout_minutes`]} hint={t("5 to 10080; 0 for 30")} />
          <Field label={t("Sessions last at most (hours)")} name="tenant-lifetime" type="number" value={form.lifetime} onInput={set("lifetime")} error={f[`${s}session_max_lifetime_hours`]} hint={t("1 to 2160; 0 for 8")} />
        </div>
        <fieldset class="choices">
          <legend>{t("Second factor at sign-in")}</legend>
          {POLICIES.map(([policy, label]) => (
            <label key={policy}>
              <input type="radio" name="mfa-policy" checked={form.policy === policy} onChange={() => (edited(), setForm({ ...form, policy }))} />
              {t(label)}
            </label>
          ))}
        </fieldset>
        {f[`${s}mfa_policy`] && <p class="field-error">{f[`${s}mfa_policy`]}</p>}
        <fieldset class="choices">
          <legend>{t("Which customers sales reps see")}</legend>
          {VISIBILITIES.map(([visibility, label]) => (
            <label key={visibility}>
              <input type="radio" name="customer-visibility" checked={form.visibility === visibility} onChange={() => (edited(), setForm({ ...form, visibility }))} />
              {t(label)}
            </label>
          ))}
        </fieldset>
        {f[`${s}customer_visibility`] && <p class="field-error">{f[`${s}customer_visibility`]}</p>}
        {problem && <p class="error" role="alert">{problem.message}</p>}
        {saved && !problem && <p role="status">{t("Saved.")}</p>}
        <div class="actions">
          <button type="submit">{t("Save the workspace")}</button>
        </div>
      </form>
      <CustomFieldSettings onError={onError} />
      <SingleSignOn onError={onError} />
    </section>
  );
}
