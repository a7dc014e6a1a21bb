// The signed-in session: tokens kept in localStorage, the access token renewed (Refresh)
// a minute before it expires, and everything dropped on sign-out or a refused refresh.
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";

export type Session = {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires (ms since the epoch). */
  expiresAt: number;
  tenant: string;
  email: string;
};

const KEY = "kilang-crm.session";

export type Tokens = {
  accessToken: string;
  refreshToken: string;
  accessTokenExpireTime?: Timestamp;
};

/** A session from a Login, Register or Refresh answer. */
export function fromTokens(tokens: Tokens, tenant: string, email: string, now = Date.now()): Session {
  const expiresAt = tokens.accessTokenExpireTime
    ? timestampDate(tokens.accessTokenExpireTime).getTime()
    : now + 15 * 60_000;
  return {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    expiresAt,
    tenant,
    email,
  };
}

/** How long to wait before renewing: a minute before expiry, never less than 5 s. */
export function refreshDelay(session: Session, now = Date.now()): number {
  return Math.max(5_000, session.expiresAt - now - 60_000);
}

export function load(storage: Pick<Storage, "getItem"> = localStorage): Session | undefined {
  const raw = storage.getItem(KEY);
  if (!raw) return undefined;
  try {
    const s = JSON.parse(raw) as Session;
    return typeof s.accessToken === "string" && typeof s.refreshToken === "string" ? s : undefined;
  } catch {
    return undefined;
  }
}

export function save(session: Session | undefined, storage: Pick<Storage, "setItem" | "removeItem"> = localStorage) {
  if (session) storage.setItem(KEY, JSON.stringify(session));
  else storage.removeItem(KEY);
}

/** What the console reads from its own access token: who is signed in, where, allowed what. */
export type Claims = { userId: string; tenantId: string; permissions: string[] };

/**
 * The claims of a JWT access token (its payload, base64url JSON), unverified: the services
 * verify it; the console only uses it to name the user and hide what they may not do.
 */
export function claims(accessToken: string): Claims | undefined {
  const payload = accessToken.split(".")[1];
  if (!payload) return undefined;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const json = new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
    const c = JSON.parse(json) as { sub?: unknown; tid?: unknown; perms?: unknown };
    if (typeof c.sub !== "string" || typeof c.tid !== "string") return undefined;
    const permissions = Array.isArray(c.perms) ? c.perms.filter((p): p is string => typeof p === "string") : [];
    return { userId: c.sub, tenantId: c.tid, permissions };
  } catch {
    return undefined;
  }
}

/** Whether the claims grant `permission` (`users.manage`) outright, as the services decide. */
export function allows(c: Claims | undefined, permission: string): boolean {
  return c?.permissions.includes(permission) ?? false;
}
