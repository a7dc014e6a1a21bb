// The audit log as people read it: what happened in words, on whom or what, and its facts.
import { AuditEventKind, type AuditEvent } from "./gen/crm/iam/v1/audit_pb";
import { roleName } from "./roles";
import { msg, t } from "./i18n";

/** Each kind of entry in words, in the order the filter offers them. */
export const KINDS: [AuditEventKind, string][] = [
  [AuditEventKind.LOGIN_SUCCEEDED, msg("Signed in")],
  [AuditEventKind.LOGIN_FAILED, msg("Sign-in failed")],
  [AuditEventKind.LOCKOUT, msg("Locked out")],
  [AuditEventKind.LOGOUT, msg("Signed out")],
  [AuditEventKind.REFRESH_TOKEN_REUSED, msg("Old session token used again")],
  [AuditEventKind.USER_CREATED, msg("Person added")],
  [AuditEventKind.USER_UPDATED, msg("Person changed")],
  [AuditEventKind.USER_DELETED, msg("Person removed")],
  [AuditEventKind.ROLE_GRANTED, msg("Role given")],
  [AuditEventKind.ROLE_REVOKED, msg("Role taken")],
  [AuditEventKind.ROLE_CHANGED, msg("Role defined")],
  [AuditEventKind.API_KEY_CHANGED, msg("API key")],
  [AuditEventKind.MFA_CHANGED, msg("Second factor")],
  [AuditEventKind.TENANT_CHANGED, msg("Workspace")],
];

/** What an entry records, in words. */
export function kindText(kind: AuditEventKind): string {
  return t(KINDS.find(([k]) => k === kind)?.[1] ?? msg("Other"));
}

/** A person as the log names them: their name, else their email, else "someone". */
export type NameOf = (userId: string) => string | undefined;

/**
 * What an entry acted on, in words: a person by name, a role by its name, a key by its name, the
 * workspace; "" when the entry names nothing (a failed sign-in by an unknown email).
 */
export function targetText(e: AuditEvent, nameOf: NameOf): string {
  const d = e.details;
  switch (e.targetType) {
    case "user":
      return nameOf(e.targetId) ?? t("someone no longer here");
    case "account":
      // A sign-in by single sign-on that matched nobody: the provider's account, as it said it.
      return nameOf(e.targetId) ?? e.targetId;
    case "session":
      return nameOf(d.user_id ?? "") ?? t("a session");
    case "role":
      return d.name ? t("the {{role}} role", { role: roleName(d.name) }) : t("a role");
    case "api_key":
      return d.name ? t("the key {{name}}", { name: d.name }) : d.prefix ? t("the key {{name}}", { name: `${d.prefix}…` }) : t("an API key");
    case "tenant":
      return t("the workspace");
    default:
      return e.targetId ? `${e.targetType} ${e.targetId}` : "";
  }
}

/** Facts that say more than the kind does: the role given, the fields changed, the reason. */
export function detailsText(e: AuditEvent): string {
  const d = e.details;
  const facts: string[] = [];
  if (d.role) facts.push(t("role {{role}}", { role: roleName(d.role) }));
  if (d.roles) facts.push(t("roles {{roles}}", { roles: d.roles.split(",").filter(Boolean).map(roleName).join(", ") }));
  if (d.change) facts.push(d.change.replaceAll("_", " "));
  if (d.fields) facts.push(t("changed {{fields}}", { fields: d.fields.split(",").map((f) => f.replaceAll("_", " ")).join(", ") }));
  if (d.reason) facts.push(d.reason.replaceAll("_", " "));
  if (d.via) facts.push(t("by {{way}}", { way: d.via.replaceAll("_", " ") }));
  if (d.method) facts.push(t("with {{method}}", { method: d.method.replaceAll("_", " ") }));
  if (d.second_factor) facts.push(t("second factor {{kind}}", { kind: d.second_factor }));
  return facts.join(" · ");
}
