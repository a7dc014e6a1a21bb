import { expect, it } from "vitest";
import { allows, claims, grants, reach, fromTokens, load, refreshDelay, renew, save, type Lock, type Session, type SharedStore } from "./session";

it("renews a minute before the access token expires", () => {
  const now = 1_000_000;
  const s = fromTokens(
    { accessToken: "a", refreshToken: "r", accessTokenExpireTime: { seconds: BigInt((now + 15 * 60_000) / 1000), nanos: 0 } as never },
    "kilang",
    "siti@kilang.example",
    now,
  );
  expect(s.expiresAt).toBe(now + 15 * 60_000);
  expect(refreshDelay(s, now)).toBe(14 * 60_000);
  // Already close to expiry: renew soon, but not in a tight loop.
  expect(refreshDelay({ ...s, expiresAt: now + 10_000 }, now)).toBe(5_000);
});

it("keeps the session across reloads and forgets it on sign-out", () => {
  const store = new Map<string, string>();
  const storage = {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => void store.set(k, v),
    removeItem: (k: string) => void store.delete(k),
  };
  const s: Session = { accessToken: "a", refreshToken: "r", expiresAt: 1, tenant: "t", email: "e" };
  save(s, storage);
  expect(load(storage)).toEqual(s);
  save(undefined, storage);
  expect(load(storage)).toBeUndefined();
  store.set("kilang-crm.session", "not json");
  expect(load(storage)).toBeUndefined();
});

it("reads who is signed in from the access token", () => {
  const part = (o: object) => btoa(JSON.stringify(o)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  // The name is there for its bytes, which base64url spells with - and _.
  const token = [
    part({ alg: "EdDSA", typ: "at+jwt" }),
    part({ sub: "u-1", tid: "t-1", perms: ["users.manage", "leads.read:own"], name: "Siti ~~~ ??? Kilang" }),
    "signature",
  ].join(".");
  const c = claims(token);
  expect(c).toEqual({ userId: "u-1", tenantId: "t-1", permissions: ["users.manage", "leads.read:own"] });
  expect(allows(c, "users.manage")).toBe(true);
  expect(allows(c, "leads.read")).toBe(false); // only their own: not outright
  expect(allows(c, "tenant.manage")).toBe(false);
  expect(grants(c, "leads.read")).toBe(true); // on their own leads
  expect(grants(c, "leads")).toBe(false);
  expect(reach(c, "users.manage")).toBe("all");
  expect(reach(c, "leads.read")).toBe("own");
  expect(reach(c, "leads.write")).toBe("none");
  expect(claims("not a token")).toBeUndefined();
  expect(claims("a.bm90IGpzb24.c")).toBeUndefined();
});

/** A Storage in memory, shared by the "tabs" of a test. */
function memory(): Pick<Storage, "getItem" | "setItem" | "removeItem"> {
  const items = new Map<string, string>();
  return {
    getItem: (k) => items.get(k) ?? null,
    setItem: (k, v) => void items.set(k, v),
    removeItem: (k) => void items.delete(k),
  };
}

/** The shared store in memory. */
function shared(): SharedStore & { value?: Session } {
  const store: SharedStore & { value?: Session } = {
    read: async () => store.value,
    write: async (s) => void (store.value = s),
  };
  return store;
}

/** One lock for all the tabs, taken in turn, as Web Locks does. */
function queue(): Lock {
  let tail: Promise<unknown> = Promise.resolve();
  return <T,>(_name: string, work: () => Promise<T>) => {
    const run = tail.then(work);
    tail = run.catch(() => undefined);
    return run;
  };
}

it("renews once for two tabs: the second adopts what the first got", async () => {
  const lock = queue();
  const both = shared();
  // Each tab's localStorage: the other tab's writes never reach it in time (the worst case).
  const [storageA, storageB] = [memory(), memory()];
  const first = fromTokens({ accessToken: "a1", refreshToken: "r1" }, "kilang", "siti@kilang.example");
  save(first, storageA);
  save(first, storageB);
  await both.write(first);
  const spent = new Set<string>();
  const refresh = async (token: string) => {
    // The service's rule: a refresh token presented twice ends the session.
    if (spent.has(token)) throw new Error(`reused ${token}`);
    spent.add(token);
    await new Promise((r) => setTimeout(r, 5));
    return { accessToken: `a-${spent.size + 1}`, refreshToken: `r${spent.size + 1}` };
  };
  // Both tabs hold the same session and their timers fire together.
  const [a, b] = await Promise.all([renew(first, refresh, both, storageA, lock), renew(first, refresh, both, storageB, lock)]);
  expect(spent).toEqual(new Set(["r1"]));
  expect(a?.refreshToken).toBe("r2");
  expect(b).toEqual(a);
  expect(both.value).toEqual(a);
  expect(load(storageA)).toEqual(a);
});

it("does not renew a session another tab has signed out", async () => {
  const mine = fromTokens({ accessToken: "a1", refreshToken: "r1" }, "kilang", "siti@kilang.example");
  let calls = 0;
  const renewed = await renew(mine, async () => (calls++, { accessToken: "a2", refreshToken: "r2" }), shared(), memory(), queue());
  expect(renewed).toBeUndefined();
  expect(calls).toBe(0);
});

it("renews a session kept before the shared store, from localStorage", async () => {
  const storage = memory();
  const mine = fromTokens({ accessToken: "a1", refreshToken: "r1" }, "kilang", "siti@kilang.example");
  save(mine, storage);
  const both = shared();
  const renewed = await renew(mine, async () => ({ accessToken: "a2", refreshToken: "r2" }), both, storage, queue());
  expect(renewed?.refreshToken).toBe("r2");
  expect(both.value?.refreshToken).toBe("r2");
});
