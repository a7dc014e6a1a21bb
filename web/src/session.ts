// The signed-in session: tokens kept in localStorage, the access token renewed (Refresh)
// a minute before it expires, and everything dropped on sign-out or a refused refresh.
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { del, get, set } from "idb-keyval";

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

/** Runs `work` while holding the lock `name`, shared by every tab of this origin (Web Locks). */
export type Lock = <T>(name: string, work: () => Promise<T>) => Promise<T>;

const webLock: Lock = (name, work) =>
  typeof navigator !== "undefined" && navigator.locks ? (navigator.locks.request(name, work) as Promise<never>) : work();

/**
 * Where the tabs agree on the session while one renews it. Not localStorage: Chromium copies
 * its writes between tab processes a little late, so a tab taking the lock just after another
 * renewed could still read the spent token there. IndexedDB is read the same by every tab.
 */
export type SharedStore = {
  read(): Promise<Session | undefined>;
  write(session: Session | undefined): Promise<void>;
};

export const indexedDb: SharedStore = {
  read: () => get<Session>(KEY),
  write: (session) => (session ? set(KEY, session) : del(KEY)),
};

/**
 * Renews `mine` unless another tab of this browser did so already. A refresh token is spent
 * once, and presenting it again ends the whole session (reuse detection, RFC 9700), so tabs
 * take turns under one lock, and each reads the shared session again first: one whose refresh
 * token is no longer `mine` is the renewed one, adopted as it is. `undefined` when another tab
 * has signed out.
 */
export async function renew(
  mine: Session,
  refresh: (refreshToken: string) => Promise<Tokens>,
  shared: SharedStore = indexedDb,
  storage: Pick<Storage, "getItem" | "setItem" | "removeItem"> = localStorage,
  lock: Lock = webLock,
): Promise<Session | undefined> {
  return lock(`${KEY}.refresh`, async () => {
    // A session kept before the shared store was is still in localStorage only.
    const stored = (await shared.read()) ?? load(storage);
    if (!stored) return undefined;
    if (stored.refreshToken !== mine.refreshToken) return stored;
    const renewed = fromTokens(await refresh(mine.refreshToken), mine.tenant, mine.email);
    await shared.write(renewed);
    save(renewed, storage);
    return renewed;
  });
}

/** Calls `changed` when another tab signs in, renews or signs out; returns the unsubscriber. */
export function watchOtherTabs(changed: (s: Session | undefined) => void): () => void {
  const listener = (e: StorageEvent) => {
    if (e.key === KEY || e.key === null) changed(load());
  };
  window.addEventListener("storage", listener);
  return () => window.removeEventListener("storage", listener);
}

/** Whether the claims grant `permission` at all, if only on one's own or one's team's records. */
export function grants(c: Claims | undefined, permission: string): boolean {
  return c?.permissions.some((p) => p === permission || p.startsWith(`${permission}:`)) ?? false;
}

/** How far the claims grant `permission`: on every record, on one's own (a `:team` grant reaches
 * one's own where a service knows no teams, as sales does), or not at all. */
export function reach(c: Claims | undefined, permission: string): "all" | "own" | "none" {
  if (allows(c, permission)) return "all";
  return grants(c, permission) ? "own" : "none";
}

/** Whether the claims grant `permission` (`users.manage`) outright, as the services decide. */
export function allows(c: Claims | undefined, permission: string): boolean {
  return c?.permissions.includes(permission) ?? false;
}
