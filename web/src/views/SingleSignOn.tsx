import { useEffect, useState } from "preact/hooks";
import { sso } from "../api";
import type { Problem } from "../errors";
import type { SsoSettings } from "../gen/crm/iam/v1/sso_pb";
import { Field } from "./Field";
import { useSaving } from "./saving";
import { msg, t } from "../i18n";

type Props = { onError: (err: unknown) => Problem };

type Form = {
  enabled: boolean;
  issuer: string;
  clientId: string;
  secret: string;
  redirect: string;
  domains: string;
  provision: boolean;
  defaultRole: string;
};

/** The page the provider sends people back to: the console's own address. */
const here = () => `${window.location.origin}/`;

function formOf(s: SsoSettings | undefined): Form {
  return {
    enabled: s?.enabled ?? false,
    issuer: s?.issuerUrl ?? "",
    clientId: s?.clientId ?? "",
    secret: "",
    redirect: s?.redirectUri || here(),
    domains: (s?.allowedEmailDomains ?? []).join(", "),
    provision: s?.provisionUsers ?? false,
    defaultRole: s?.defaultRole || "viewer",
  };
}

/** Built-in roles a person created at their first sign-in may get. */
const ROLES: [string, string][] = [
  ["viewer", msg("Viewer")],
  ["sales_rep", msg("Sales rep")],
  ["sales_manager", msg("Sales manager")],
];

/**
 * The workspace's single sign-on: its OpenID provider (issuer, the CRM's client there, the page
 * it sends people back to), which emails may sign in, and whether a first sign-in creates the
 * person. Invited people whose provider vouches for their email join through it.
 */
export function SingleSignOn({ onError }: Props) {
  const [stored, setStored] = useState<SsoSettings>();
  const [form, setForm] = useState<Form>(formOf(undefined));
  // Nothing is typed before the stored settings are read: they would replace it.
  const [loaded, setLoaded] = useState(false);
  const { problem, setProblem, saved, save: saving, edited } = useSaving(onError);

  useEffect(() => {
    sso
      .getSsoSettings({})
      .then((r) => {
        setStored(r.settings);
        setForm(formOf(r.settings));
      })
      .catch((err) => setProblem(onError(err)))
      .finally(() => setLoaded(true));
  }, []);

  const set = (key: "issuer" | "clientId" | "secret" | "redirect" | "domains") => (value: string) => (
    edited(), setForm({ ...form, [key]: value })
  );

  const save = async (e: Event) => {
    e.preventDefault();
    await saving(async () => {
      const { settings } = await sso.updateSsoSettings({
        settings: {
          enabled: form.enabled,
          issuerUrl: form.issuer.trim(),
          clientId: form.clientId.trim(),
          // Empty keeps the stored secret.
          clientSecret: form.secret,
          redirectUri: form.redirect.trim(),
          allowedEmailDomains: form.domains
            .split(",")
            .map((d) => d.trim())
            .filter(Boolean),
          groupsClaim: stored?.groupsClaim ?? "",
          groupRoles: stored?.groupRoles ?? {},
          defaultRole: form.defaultRole,
          provisionUsers: form.provision,
          etag: stored?.etag ?? "",
        },
      });
      setStored(settings);
      setForm(formOf(settings));
    });
  };

  const f = problem?.fields ?? {};
  const s = "settings.";
  return (
    <form class="card stack" onSubmit={save} aria-label={t("Single sign-on")} noValidate>
      <h2>{t("Single sign-on")}</h2>
      <p class="hint">
        {t("People sign in with the account of your business's OpenID provider (Google Workspace, Microsoft Entra, Keycloak…). Register the CRM at your provider as a web application with the return address below, then copy its issuer, client id and secret here.")}
      </p>
      <fieldset class="plain" disabled={!loaded} aria-busy={!loaded}>
      <label class="inline">
        <input type="checkbox" checked={form.enabled} onChange={(e) => (edited(), setForm({ ...form, enabled: (e.target as HTMLInputElement).checked }))} />
        {t("People may sign in with single sign-on")}
      </label>
      <div class="row">
        <Field label={t("Issuer")} name="sso-issuer" value={form.issuer} onInput={set("issuer")} error={f[`${s}issuer_url`]} hint={t("e.g. https://accounts.google.com")} />
        <Field label={t("Client id")} name="sso-client-id" value={form.clientId} onInput={set("clientId")} error={f[`${s}client_id`]} />
        <Field
          label={t("Client secret")}
          name="sso-client-secret"
          type="password"
          value={form.secret}
          onInput={set("secret")}
          error={f[`${s}client_secret`]}
          hint={stored?.clientSecretSet ? t("A secret is stored: leave empty to keep it") : undefined}
        />
      </div>
      <div class="row">
        <Field label={t("Return address (register it at the provider)")} name="sso-redirect" value={form.redirect} onInput={set("redirect")} error={f[`${s}redirect_uri`]} />
        <Field
          label={t("Only emails of these domains")}
          name="sso-domains"
          value={form.domains}
          onInput={set("domains")}
          error={f[`${s}allowed_email_domains`]}
          hint={t("Separated by commas, e.g. kilangbatik.my; empty for any")}
        />
      </div>
      <label class="inline">
        <input type="checkbox" checked={form.provision} onChange={(e) => (edited(), setForm({ ...form, provision: (e.target as HTMLInputElement).checked }))} />
        {t("Someone not invited yet becomes a user at their first sign-in")}
      </label>
      <label class="inline">
        {t("with the role")}{" "}
        <select
          value={form.defaultRole}
          disabled={!form.provision}
          onChange={(e) => (edited(), setForm({ ...form, defaultRole: (e.target as HTMLSelectElement).value }))}
        >
          {ROLES.map(([id, name]) => (
            <option key={id} value={id}>
              {t(name)}
            </option>
          ))}
        </select>
      </label>
      {f[`${s}default_role`] && <p class="field-error">{f[`${s}default_role`]}</p>}
      </fieldset>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {saved && !problem && <p role="status">{t("Saved.")}</p>}
      <div class="actions">
        <button type="submit" disabled={!loaded}>
          {t("Save single sign-on")}
        </button>
      </div>
    </form>
  );
}
