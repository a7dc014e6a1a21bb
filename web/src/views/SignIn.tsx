import { useEffect, useState } from "preact/hooks";
import { auth } from "../api";
import { describe, type Problem } from "../errors";
import { fromTokens, type Session } from "../session";
import { Field } from "./Field";
import { Enrolment, RecoveryCodes } from "./SecondFactor";
import type { Workspace } from "../gen/crm/iam/v1/auth_pb";
import type { Joined } from "./Join";
import { ssoAnswer, ssoWorkspace, startSso } from "../sso";
import { LANGUAGES, language, locale, t, type Language } from "../i18n";

/** `joined`: someone who has just accepted an invitation, signed in at once with the password
 * they chose (a second factor their workspace asks for is asked here as at any sign-in). */
type Props = { notice?: string; joined?: Joined; onSignedIn: (s: Session) => void; onLanguage: (l: Language) => void };

/** Sign in to a tenant (with a password, or the workspace's single sign-on), or sign a new one up. */
export function SignIn({ notice, joined, onSignedIn, onLanguage }: Props) {
  const [mode, setMode] = useState<"in" | "up">("in");
  const [form, setForm] = useState({
    tenant: joined?.slug ?? "",
    name: "",
    email: joined?.email ?? "",
    password: joined?.password ?? "",
  });
  const [problem, setProblem] = useState<Problem>();
  const [busy, setBusy] = useState(false);
  // A second factor asked for by Login: its token, and the code typed.
  const [challenge, setChallenge] = useState<{ token: string; enroll: boolean }>();
  const [code, setCode] = useState("");
  // An enrolment the workspace's policy asks for during this sign-in: the secret, then the
  // recovery codes with the session they come with.
  const [secret, setSecret] = useState<{ secret: string; otpauthUri: string }>();
  const [enrolled, setEnrolled] = useState<{ codes: string[]; session: Session }>();
  // The workspaces to choose from, when the email and password are right in several; and the
  // name of the one being signed in to (shown beside the email once signed in).
  const [choices, setChoices] = useState<Workspace[]>([]);
  const [signingInTo, setSigningInTo] = useState("");
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });

  const signIn = async (workspace: string) => {
    const r = await auth.login({ tenant: workspace, email: form.email, password: form.password });
    if (r.workspaces.length > 0) {
      setChoices(r.workspaces);
      return;
    }
    const name = r.workspace?.name ?? workspace;
    setSigningInTo(name);
    if (r.mfaChallenge) {
      const token = r.mfaChallenge.mfaToken;
      setChallenge({ token, enroll: r.mfaChallenge.enrollmentRequired });
      if (r.mfaChallenge.enrollmentRequired) setSecret(await auth.enrollMfa({ mfaToken: token }));
      return;
    }
    onSignedIn(fromTokens(r, name, form.email));
  };

  useEffect(() => {
    if (joined) choose(joined.slug);
    else completeSso();
  }, []);

  // Single sign-on, started here: the workspace's provider, then back to this page with `code`
  // and `state` (or `error`) in the query, which CompleteSso turns into a session.
  const sso = async () => {
    if (!form.tenant.trim()) {
      setProblem({ message: "", signInAgain: false, fields: { tenant: t("Type your workspace's short name to sign in with its single sign-on.") } });
      return;
    }
    setBusy(true);
    setProblem(undefined);
    try {
      await startSso(auth, form.tenant.trim());
    } catch (err) {
      setProblem(describe(err));
      setBusy(false);
    }
  };
  const completeSso = async () => {
    const answer = ssoAnswer(window.location.search);
    if (!answer) return;
    // The provider's answer is read once: a reload does not send it again.
    window.history.replaceState(null, "", window.location.pathname + window.location.hash);
    const workspace = ssoWorkspace();
    setForm((f) => ({ ...f, tenant: workspace }));
    if ("error" in answer) {
      setProblem({
        message: t("The sign-in with your workspace's provider did not finish ({{error}}). Try again, or sign in with your password.", { error: answer.error }),
        fields: {},
        signInAgain: false,
      });
      return;
    }
    setBusy(true);
    try {
      const r = await auth.completeSso(answer);
      onSignedIn(fromTokens(r, workspace, r.user?.email ?? ""));
    } catch (err) {
      setProblem(describe(err));
    } finally {
      setBusy(false);
    }
  };

  const choose = async (slug: string) => {
    setBusy(true);
    setProblem(undefined);
    try {
      await signIn(slug);
    } catch (err) {
      setChoices([]);
      setProblem(describe(err));
    } finally {
      setBusy(false);
    }
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setProblem(undefined);
    try {
      if (mode === "in") {
        await signIn(form.tenant);
      } else {
        const r = await auth.register({
          tenantName: form.tenant,
          displayName: form.name,
          email: form.email,
          password: form.password,
          // The workspace speaks the language its owner signed up in.
          locale: locale(),
        });
        onSignedIn(fromTokens(r, r.tenant?.name ?? form.tenant, form.email));
      }
    } catch (err) {
      setProblem(describe(err));
    } finally {
      setBusy(false);
    }
  };

  const verifyCode = async (typed: string) => {
    if (!challenge) return;
    setBusy(true);
    try {
      const r = await auth.verifyMfa({ mfaToken: challenge.token, code: typed });
      const session = fromTokens(r, signingInTo || form.tenant, form.email);
      if (r.recoveryCodes.length > 0) setEnrolled({ codes: r.recoveryCodes, session });
      else onSignedIn(session);
    } catch (err) {
      const problem = describe(err);
      setProblem(problem);
      // A challenge that ran out (five minutes) cannot be answered any more: start again.
      if (problem.signInAgain) restart(problem);
    } finally {
      setBusy(false);
    }
  };
  const verify = (e: Event) => {
    e.preventDefault();
    verifyCode(code.trim());
  };
  const restart = (keep?: Problem) => {
    setChallenge(undefined);
    setSecret(undefined);
    setCode("");
    setProblem(keep);
  };

  if (enrolled) {
    return (
      <main class="signin wide">
        <h1>{t("Kilang CRM")}</h1>
        <div class="panel">
          <h2>{t("Recovery codes")}</h2>
          <RecoveryCodes codes={enrolled.codes} onDone={() => onSignedIn(enrolled.session)} />
        </div>
      </main>
    );
  }

  if (challenge?.enroll) {
    return (
      <main class="signin wide">
        <h1>{t("Kilang CRM")}</h1>
        <div class="panel">
          <h2>{t("Set up a second factor")}</h2>
          <p class="notice" role="status">
            {t("Your workspace asks everyone in your role to sign in with a code from an authenticator app. Set one up now to go on.")}
          </p>
          {secret ? (
            <Enrolment {...secret} busy={busy} problem={problem} onConfirm={verifyCode} onCancel={() => restart()} />
          ) : (
            problem && <p class="error" role="alert">{problem.message}</p>
          )}
        </div>
      </main>
    );
  }

  if (challenge) {
    return (
      <main class="signin">
        <h1>{t("Kilang CRM")}</h1>
        <form onSubmit={verify} aria-labelledby="mfa-title">
          <h2 id="mfa-title">{t("Second factor")}</h2>
          <Field label={t("Code from your authenticator app, or a recovery code")} name="mfa-code" value={code} onInput={setCode} error={problem?.fields.code} required />
          {problem && <p class="error" role="alert">{problem.message}</p>}
          <button type="submit" disabled={busy}>
            {t("Verify")}
          </button>
          <button type="button" class="link" onClick={() => restart()}>
            {t("Back to sign in")}
          </button>
        </form>
      </main>
    );
  }

  if (choices.length > 0) {
    return (
      <main class="signin">
        <h1>{t("Kilang CRM")}</h1>
        <section class="panel" aria-labelledby="choose-title">
          <h2 id="choose-title">{t("Choose a workspace")}</h2>
          <p>{t("You have an account in each of these with this email and password. Which one do you want to work in?")}</p>
          <ul class="workspaces">
            {choices.map((w) => (
              <li key={w.id}>
                <button type="button" disabled={busy} onClick={() => choose(w.slug)}>
                  {w.name}
                </button>
                <span class="muted">{w.slug}</span>
              </li>
            ))}
          </ul>
          <button type="button" class="link" onClick={() => setChoices([])}>
            {t("Back to sign in")}
          </button>
        </section>
      </main>
    );
  }

  const f = problem?.fields ?? {};
  return (
    <main class="signin">
      <div class="section-head">
        <h1>{t("Kilang CRM")}</h1>
        <select aria-label="Bahasa / Language" value={language()} onChange={(e) => onLanguage((e.target as HTMLSelectElement).value as Language)}>
          {LANGUAGES.map(([code, name]) => (
            <option key={code} value={code} lang={code}>
              {name}
            </option>
          ))}
        </select>
      </div>
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h2 id="signin-title">{mode === "in" ? t("Sign in") : t("Sign up your business")}</h2>
        {notice && <p class="notice" role="status">{notice}</p>}
        <Field
          label={mode === "in" ? t("Workspace (optional)") : t("Business name")}
          name="tenant"
          value={form.tenant}
          onInput={set("tenant")}
          error={f.tenant ?? f.tenant_name}
          hint={mode === "in" ? t("Your business's name or its workspace's short name. Leave it empty and we find it by your email.") : undefined}
          required={mode === "up"}
        />
        {mode === "up" && (
          <Field label={t("Your name")} name="name" value={form.name} onInput={set("name")} error={f.display_name} required />
        )}
        <Field label={t("Email")} name="email" type="email" value={form.email} onInput={set("email")} error={f.email} required />
        <Field
          label={t("Password")}
          name="password"
          type="password"
          value={form.password}
          onInput={set("password")}
          error={f.password}
          required
        />
        {problem?.message && <p class="error" role="alert">{problem.message}</p>}
        <button type="submit" disabled={busy}>
          {mode === "in" ? t("Sign in") : t("Create the workspace")}
        </button>
        {mode === "in" && (
          <button type="button" class="secondary" disabled={busy} onClick={sso}>
            {t("Sign in with single sign-on")}
          </button>
        )}
        <button type="button" class="link" onClick={() => (setMode(mode === "in" ? "up" : "in"), setProblem(undefined))}>
          {mode === "in" ? t("New here? Sign up your business") : t("Have a workspace? Sign in")}
        </button>
      </form>
    </main>
  );
}
