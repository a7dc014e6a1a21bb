import { useEffect, useState } from "preact/hooks";
import { day, fromDayInput } from "../dates";
import { allPages } from "../paging";
import { apiKeys } from "../api";
import type { Problem } from "../errors";
import type { ApiKey } from "../gen/crm/iam/v1/api_keys_pb";
import type { Role } from "../gen/crm/iam/v1/roles_pb";
import { roleName } from "../roles";
import { Field } from "./Field";
import { t } from "../i18n";

type Props = { roles: Role[]; onError: (err: unknown) => Problem; onChanged: () => void };


/** Keys for integrations (the shop's web store, an accounting tool): made, shown once, revoked. */
export function ApiKeys({ roles, onError, onChanged }: Props) {
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const [form, setForm] = useState({ name: "", role: "", expires: "" });
  const [made, setMade] = useState<{ name: string; secret: string }>();
  const [copied, setCopied] = useState(false);
  const [revoking, setRevoking] = useState<string>();
  const [problem, setProblem] = useState<Problem>();
  const choosable = roles.filter((r) => r.name !== "owner");
  const role = form.role || choosable.find((r) => r.name === "viewer")?.id || choosable[0]?.id || "";
  const nameOf = (id: string) => {
    const found = roles.find((r) => r.id === id);
    return found ? roleName(found.name) : id;
  };

  const reload = async () => {
    const { items } = await allPages(async (pageToken) => {
      const page = await apiKeys.listApiKeys({ pageSize: 100, pageToken });
      return { items: page.apiKeys, next: page.nextPageToken };
    });
    setKeys(items);
  };
  useEffect(() => {
    reload().catch((err) => setProblem(onError(err)));
  }, []);

  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const r = await apiKeys.createApiKey({
        name: form.name,
        roleId: role,
        expireTime: fromDayInput(form.expires, "end"),
        requestId: crypto.randomUUID(),
      });
      setMade({ name: form.name, secret: r.secret });
      setCopied(false);
      setForm({ name: "", role: "", expires: "" });
      setProblem(undefined);
      await reload();
      onChanged();
    } catch (err) {
      setProblem(onError(err));
    }
  };

  const revoke = async (key: ApiKey) => {
    try {
      await apiKeys.revokeApiKey({ id: key.id });
      setRevoking(undefined);
      await reload();
      onChanged();
    } catch (err) {
      setProblem(onError(err));
    }
  };

  const copy = async () => {
    if (!made) return;
    try {
      await navigator.clipboard.writeText(made.secret);
      setCopied(true);
    } catch {
      // No clipboard (an insecure page, a refused permission): the key stays shown to copy by hand.
    }
  };

  const f = problem?.fields ?? {};
  return (
    <div class="stack">
      <h2>{t("Keys for integrations")}</h2>
      <p class="hint">{t("A key lets another program (the web store, an accounting tool) use the CRM with one role's permissions, until it expires or is revoked.")}</p>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {made && (
        <div class="card" role="region" aria-label={t("New key")}>
          <p role="status">
            {t("The key for {{name}}. Store it in the integration now: it is not shown again.", { name: made.name })}
          </p>
          <code class="secret" data-secret>
            {made.secret}
          </code>
          <div class="actions">
            <button type="button" class="secondary" onClick={copy}>
              {copied ? t("Copied") : t("Copy the key")}
            </button>
            <button type="button" onClick={() => setMade(undefined)}>
              {t("Done")}
            </button>
          </div>
        </div>
      )}
      <form class="card" onSubmit={create} aria-label={t("New key for an integration")} noValidate>
        <div class="row">
          <Field label={t("What it is for")} name="key-name" value={form.name} onInput={(v) => setForm({ ...form, name: v })} error={f.name} />
          <div class="field">
            <label for="field-key-role">{t("It acts as")}</label>
            <select id="field-key-role" value={role} onChange={(e) => setForm({ ...form, role: (e.target as HTMLSelectElement).value })} aria-invalid={f.role_id ? "true" : undefined}>
              {choosable.map((r) => (
                <option key={r.id} value={r.id}>
                  {roleName(r.name)}
                </option>
              ))}
            </select>
            {f.role_id && <span class="field-error">{f.role_id}</span>}
          </div>
          <div class="field">
            <label for="field-key-expires">{t("Stops working after (optional)")}</label>
            <input id="field-key-expires" type="date" value={form.expires} onInput={(e) => setForm({ ...form, expires: (e.target as HTMLInputElement).value })} aria-invalid={f.expire_time ? "true" : undefined} />
            {f.expire_time && <span class="field-error">{f.expire_time}</span>}
          </div>
        </div>
        <button type="submit">{t("Make a key")}</button>
      </form>
      <div class="scroll" tabIndex={0}><table>
        <thead>
          <tr>
            <th scope="col">{t("For")}</th>
            <th scope="col">{t("Acts as")}</th>
            <th scope="col">{t("Key starts with")}</th>
            <th scope="col">{t("Made")}</th>
            <th scope="col">{t("Last used")}</th>
            <th scope="col">{t("Stops")}</th>
            <th scope="col">
              <span class="visually-hidden">{t("Actions")}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.id}>
              <td>{k.name}</td>
              <td>{nameOf(k.roleId)}</td>
              <td>
                <code>{k.prefix}…</code>
              </td>
              <td>{day(k.createTime)}</td>
              <td>{day(k.lastUseTime)}</td>
              <td>{day(k.expireTime)}</td>
              <td>
                {k.revokeTime ? (
                  t("Revoked {{day}}", { day: day(k.revokeTime) })
                ) : revoking === k.id ? (
                  <span class="actions" role="group" aria-label={t("Revoke the key for {{name}}?", { name: k.name })}>
                    <button type="button" onClick={() => revoke(k)}>
                      {t("Yes, revoke")}
                    </button>
                    <button type="button" class="secondary" onClick={() => setRevoking(undefined)}>
                      {t("Keep")}
                    </button>
                  </span>
                ) : (
                  <button type="button" class="link" onClick={() => setRevoking(k.id)} aria-label={t("Revoke the key for {{name}}", { name: k.name })}>
                    {t("Revoke")}
                  </button>
                )}
              </td>
            </tr>
          ))}
          {keys.length === 0 && (
            <tr>
              <td colSpan={7} class="empty">
                {t("No keys yet.")}
              </td>
            </tr>
          )}
        </tbody>
      </table></div>
    </div>
  );
}
