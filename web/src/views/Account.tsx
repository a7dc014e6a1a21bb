import { useEffect, useState } from "preact/hooks";
import { dateTime } from "../dates";
import { mfa, users } from "../api";
import type { Problem } from "../errors";
import type { User, UserSession } from "../gen/crm/iam/v1/users_pb";
import { Field } from "./Field";
import { Enrolment, RecoveryCodes } from "./SecondFactor";
import { LANGUAGES, languageOf, t } from "../i18n";
import { roleName } from "../roles";

type Props = { userId: string; onError: (err: unknown) => Problem; onLanguage: (personLocale: string) => void };

const when = dateTime;

/** The signed-in user's own account: the second factor and the sessions. */
export function Account({ userId, onError, onLanguage }: Props) {
  const [user, setUser] = useState<User>();
  const [sessions, setSessions] = useState<UserSession[]>([]);
  const [problem, setProblem] = useState<Problem>();

  const reload = async () => {
    try {
      // Both at once, shown at once: nothing already drawn moves when the rest arrives.
      const [found, signedIn] = await Promise.all([users.getUser({ id: userId }), users.listSessions({ userId })]);
      setUser(found.user);
      setSessions(signedIn.sessions);
      setProblem(undefined);
    } catch (err) {
      setProblem(onError(err));
    }
  };
  useEffect(() => {
    reload();
  }, [userId]);

  const revoke = async (session: UserSession) => {
    try {
      await users.revokeSession({ userId, sessionId: session.id });
      setSessions((all) => all.filter((s) => s.id !== session.id));
    } catch (err) {
      setProblem(onError(err));
    }
  };

  return (
    <section aria-labelledby="account-title">
      <div class="section-head">
        <h1 id="account-title">{t("Your account")}</h1>
      </div>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {!user && !problem && <p class="hint">{t("Loading…")}</p>}
      {user && (
        <>
      <p>
        {user.displayName} · {user.email} · {user.roles.map(roleName).join(", ")}
      </p>
      <LanguageCard user={user} onError={onError} onChanged={(u) => (setUser(u), onLanguage(u.locale))} />
      <SecondFactorCard user={user} onError={onError} onChanged={reload} />
      <h2>{t("Where you are signed in")}</h2>
      <p class="hint">{t("Each sign-in is a session until it is signed out or unused too long. Signing out the one you are using ends it here too.")}</p>
      <div class="scroll" tabIndex={0}><table>
        <thead>
          <tr>
            <th scope="col">{t("Signed in")}</th>
            <th scope="col">{t("Last active")}</th>
            <th scope="col">{t("Ends")}</th>
            <th scope="col">
              <span class="visually-hidden">{t("Actions")}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {sessions.map((s) => (
            <tr key={s.id}>
              <td>{when(s.startTime)}</td>
              <td>{when(s.lastActiveTime)}</td>
              <td>{when(s.expireTime)}</td>
              <td>
                <button type="button" class="secondary" onClick={() => revoke(s)} aria-label={t("Sign out the session started {{startTime}}", { startTime: when(s.startTime) })}>
                  {t("Sign out")}
                </button>
              </td>
            </tr>
          ))}
          {sessions.length === 0 && (
            <tr>
              <td class="empty" colSpan={4}>
                {t("No sessions.")}
              </td>
            </tr>
          )}
        </tbody>
      </table></div>
        </>
      )}
    </section>
  );
}

type CardProps = { user: User; onError: (err: unknown) => Problem; onChanged: () => void };

/** Turn the second factor on (secret, first code, recovery codes), replace the codes, or turn it off. */
function SecondFactorCard({ user, onError, onChanged }: CardProps) {
  const [started, setStarted] = useState<{ secret: string; otpauthUri: string }>();
  const [codes, setCodes] = useState<string[]>();
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem>();

  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    try {
      await work();
      setProblem(undefined);
    } catch (err) {
      setProblem(onError(err));
    } finally {
      setBusy(false);
    }
  };

  const start = () => run(async () => setStarted(await mfa.startMfaEnrollment({})));
  const confirm = (typed: string) =>
    run(async () => {
      const r = await mfa.confirmMfaEnrollment({ code: typed });
      setStarted(undefined);
      setCodes(r.recoveryCodes);
    });
  const regenerate = (e: Event) => {
    e.preventDefault();
    run(async () => {
      const r = await mfa.regenerateRecoveryCodes({ code: code.trim() });
      setCode("");
      setCodes(r.recoveryCodes);
    });
  };
  const disable = () =>
    run(async () => {
      await mfa.disableMfa({ userId: user.id, code: code.trim() });
      setCode("");
      onChanged();
    });

  let body;
  if (codes) {
    body = <RecoveryCodes codes={codes} onDone={() => (setCodes(undefined), onChanged())} />;
  } else if (started) {
    body = <Enrolment {...started} busy={busy} problem={problem} onConfirm={confirm} onCancel={() => (setStarted(undefined), setProblem(undefined))} />;
  } else if (user.mfaEnabled) {
    body = (
      <form class="stack" aria-label={t("Manage the second factor")} noValidate onSubmit={regenerate}>
        <p>{t("On: signing in asks for a code from your authenticator app.")}</p>
        <Field label={t("Code from the app (or a recovery code to turn it off)")} name="mfa-manage-code" value={code} onInput={setCode} error={problem?.fields.code} />
        {problem && <p class="error" role="alert">{problem.message}</p>}
        <div class="actions">
          <button type="submit" class="secondary" disabled={busy}>
            {t("New recovery codes")}
          </button>
          <button type="button" class="secondary" disabled={busy} onClick={disable}>
            {t("Turn it off")}
          </button>
        </div>
      </form>
    );
  } else {
    body = (
      <div class="stack">
        <p>{t("Off: signing in needs only your password. A code from an authenticator app keeps the account safe if the password leaks.")}</p>
        {problem && <p class="error" role="alert">{problem.message}</p>}
        <div class="actions">
          <button type="button" disabled={busy} onClick={start}>
            {t("Set up an authenticator app")}
          </button>
        </div>
      </div>
    );
  }
  return (
    <div class="card" role="region" aria-labelledby="mfa-title">
      <h2 id="mfa-title">{t("Second factor")}</h2>
      {body}
    </div>
  );
}

/** The language the person reads the console and their notices in: their own, or the workspace's. */
function LanguageCard({ user, onError, onChanged }: { user: User; onError: (err: unknown) => Problem; onChanged: (user: User) => void }) {
  const [saving, setSaving] = useState(false);
  const [problem, setProblem] = useState<Problem>();
  const own = languageOf(user.locale) ?? "";
  const choose = async (choice: string) => {
    setSaving(true);
    try {
      const locale = choice === "ms" ? "ms-MY" : choice === "en" ? "en-MY" : "";
      const { user: saved } = await users.updateUser({ user: { id: user.id, etag: user.etag, locale }, updateMask: { paths: ["locale"] } });
      setProblem(undefined);
      if (saved) onChanged(saved);
    } catch (err) {
      setProblem(onError(err));
    } finally {
      setSaving(false);
    }
  };
  return (
    <div class="card stack">
      <h2>{t("Language")}</h2>
      <div class="field">
        <label for="field-my-language">{t("The console and your notices in")}</label>
        <select id="field-my-language" value={own} disabled={saving} onChange={(e) => choose((e.target as HTMLSelectElement).value)}>
          <option value="">{t("The workspace's language")}</option>
          {LANGUAGES.map(([code, name]) => (
            <option key={code} value={code} lang={code}>
              {name}
            </option>
          ))}
        </select>
      </div>
      {problem && <p class="error" role="alert">{problem.message}</p>}
    </div>
  );
}
