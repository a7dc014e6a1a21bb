// Single sign-on in the browser: off to the workspace's OpenID provider (StartSso), and back
// to the console's address with the provider's answer in the query (CompleteSso).

/** What starts a sign-on: the AuthService client's StartSso. */
type Starter = { startSso(request: { tenant: string }): Promise<{ authorizationUrl: string }> };

/** The workspace a sign-on was started for (its name as shown), kept across the trip. */
const WORKSPACE = "kilang-crm.sso-workspace";

/** Sends the browser to `workspace`'s provider; `name` is how the console then names it. */
export async function startSso(auth: Starter, workspace: string, name = workspace): Promise<void> {
  const r = await auth.startSso({ tenant: workspace });
  sessionStorage.setItem(WORKSPACE, name);
  window.location.assign(r.authorizationUrl);
}

/** What the provider sent back: a code to complete with, or why it did not sign the person in. */
export type SsoAnswer = { state: string; code: string } | { state: string; error: string };

/** The provider's answer in a page address's query (`?code=…&state=…`, or `?error=…`), if any. */
export function ssoAnswer(search: string): SsoAnswer | undefined {
  const query = new URLSearchParams(search);
  const state = query.get("state");
  if (!state) return undefined;
  const code = query.get("code");
  if (code) return { state, code };
  const error = query.get("error");
  return error ? { state, error: query.get("error_description") || error } : undefined;
}

/** The workspace the sign-on was started for, read once. */
export function ssoWorkspace(): string {
  const name = sessionStorage.getItem(WORKSPACE) ?? "";
  sessionStorage.removeItem(WORKSPACE);
  return name;
}
