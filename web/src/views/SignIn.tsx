import { useState } from "preact/hooks";
import { auth } from "../api";
import { describe, type Problem } from "../errors";
import { fromTokens, type Session } from "../session";
import { Field } from "./Field";

type Props = { notice?: string; onSignedIn: (s: Session) => void };

/** Sign in to a tenant, or sign a new one up. */
export function SignIn({ notice, onSignedIn }: Props) {
  const [mode, setMode] = useState<"in" | "up">("in");
  const [form, setForm] = useState({ tenant: "", name: "", email: "", password: "" });
  const [problem, setProblem] = useState<Problem>();
  const [busy, setBusy] = useState(false);
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setProblem(undefined);
    try {
      if (mode === "in") {
        const r = await auth.login({ tenant: form.tenant, email: form.email, password: form.password });
        if (r.mfaChallenge) {
          setProblem({ message: "This account needs a second factor, which the console does not ask for yet: use an API client.", fields: {}, signInAgain: false });
          return;
        }
        onSignedIn(fromTokens(r, form.tenant, form.email));
      } else {
        const r = await auth.register({
          tenantName: form.tenant,
          displayName: form.name,
          email: form.email,
          password: form.password,
        });
        onSignedIn(fromTokens(r, r.tenant?.slug ?? form.tenant, form.email));
      }
    } catch (err) {
      setProblem(describe(err));
    } finally {
      setBusy(false);
    }
  };

  const f = problem?.fields ?? {};
  return (
    <main class="signin">
      <h1>Kilang CRM</h1>
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h2 id="signin-title">{mode === "in" ? "Sign in" : "Sign up your business"}</h2>
        {notice && <p class="notice" role="status">{notice}</p>}
        <Field
          label={mode === "in" ? "Workspace (tenant)" : "Business name"}
          name="tenant"
          value={form.tenant}
          onInput={set("tenant")}
          error={f.tenant ?? f.tenant_name}
          required
        />
        {mode === "up" && (
          <Field label="Your name" name="name" value={form.name} onInput={set("name")} error={f.display_name} required />
        )}
        <Field label="Email" name="email" type="email" value={form.email} onInput={set("email")} error={f.email} required />
        <Field
          label="Password"
          name="password"
          type="password"
          value={form.password}
          onInput={set("password")}
          error={f.password}
          required
        />
        {problem && <p class="error" role="alert">{problem.message}</p>}
        <button type="submit" disabled={busy}>
          {mode === "in" ? "Sign in" : "Create the workspace"}
        </button>
        <button type="button" class="link" onClick={() => (setMode(mode === "in" ? "up" : "in"), setProblem(undefined))}>
          {mode === "in" ? "New here? Sign up your business" : "Have a workspace? Sign in"}
        </button>
      </form>
    </main>
  );
}
