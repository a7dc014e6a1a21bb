import { useEffect, useState } from "preact/hooks";
import { auth } from "../api";
import { describe, type Problem } from "../errors";
import type { GetInvitationResponse } from "../gen/crm/iam/v1/auth_pb";
import { roleName } from "../roles";
import { dateTime } from "../dates";
import { Field } from "./Field";
import { startSso } from "../sso";
import { t } from "../i18n";

/** The token of an invitation's link (`#invitation/<token>`), if the address is one. */
export function invitationToken(hash: string): string | undefined {
  const found = /^#invitation\/([A-Za-z0-9_-]+)$/.exec(hash);
  return found?.[1];
}

/** Who has just joined, to sign them in with the password they chose. */
export type Joined = { slug: string; workspace: string; email: string; password: string };

type Props = { token: string; onJoined: (j: Joined) => void; onLeave: () => void };

/** An invitation's link opened: who invited whom to which workspace, and the password to choose. */
export function Join({ token, onJoined, onLeave }: Props) {
  const [invitation, setInvitation] = useState<GetInvitationResponse>();
  const [problem, setProblem] = useState<Problem>();
  const [form, setForm] = useState({ name: "", password: "", again: "" });
  const [busy, setBusy] = useState(false);
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });

  useEffect(() => {
    auth.getInvitation({ token }).then(
      (found) => {
        setInvitation(found);
        setForm((f) => ({ ...f, name: found.displayName }));
      },
      (err) => setProblem(describe(err)),
    );
  }, [token]);

  // The company sign-in instead of a password: the provider vouches for the invited email.
  const sso = async () => {
    const w = invitation?.workspace;
    if (!w) return;
    setBusy(true);
    try {
      await startSso(auth, w.slug, w.name);
    } catch (err) {
      setProblem(describe(err));
      setBusy(false);
    }
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (form.password !== form.again) {
      setProblem({
        message: t("The two passwords are not the same: type the one you chose twice."),
        fields: { again: t("Not the same as the password above.") },
        signInAgain: false,
      });
      return;
    }
    setBusy(true);
    setProblem(undefined);
    try {
      const done = await auth.acceptInvitation({ token, password: form.password, displayName: form.name });
      onJoined({
        slug: done.workspace?.slug ?? "",
        workspace: done.workspace?.name ?? "",
        email: done.user?.email ?? invitation?.email ?? "",
        password: form.password,
      });
    } catch (err) {
      setProblem(describe(err));
    } finally {
      setBusy(false);
    }
  };

  const f = problem?.fields ?? {};
  if (!invitation) {
    return (
      <main class="signin">
        <h1>{t("Kilang CRM")}</h1>
        <section class="panel" aria-labelledby="join-title">
          <h2 id="join-title">{t("Your invitation")}</h2>
          {problem ? <p class="error" role="alert">{problem.message}</p> : <p role="status">{t("Reading the invitation…")}</p>}
          <button type="button" class="link" onClick={onLeave}>
            {t("Go to sign in")}
          </button>
        </section>
      </main>
    );
  }
  const workspace = invitation.workspace?.name ?? "";
  const roles = invitation.roles.map(roleName).join(", ");
  return (
    <main class="signin">
      <h1>{t("Kilang CRM")}</h1>
      <form onSubmit={submit} aria-labelledby="join-title" noValidate>
        <h2 id="join-title">{t("Join {{workspace}}", { workspace })}</h2>
        <p>
          {t("{{inviter}} invited you to {{workspace}} as {{roles}}. You sign in with {{email}}.", { inviter: invitation.inviterName || t("Someone"), workspace, roles, email: invitation.email })}
        </p>
        <p class="muted">{t("This link works once, until {{until}}.", { until: dateTime(invitation.expireTime) })}</p>
        <Field label={t("Your name, as colleagues see it")} name="join-name" value={form.name} onInput={set("name")} error={f.display_name} required />
        <Field
          label={t("Choose a password")}
          name="join-password"
          type="password"
          value={form.password}
          onInput={set("password")}
          error={f.password}
          hint={t("At least 12 characters; a few words you remember are good.")}
          required
        />
        <Field label={t("The same password again")} name="join-again" type="password" value={form.again} onInput={set("again")} error={f.again} required />
        {problem && <p class="error" role="alert">{problem.message}</p>}
        <button type="submit" disabled={busy}>
          {t("Join {{workspace}}", { workspace })}
        </button>
        {invitation.ssoEnabled && (
          <>
            <p class="muted">{t("Your workspace also signs in through its company sign-in: signing in there with {{email}} accepts this invitation too.", { email: invitation.email })}</p>
            <button type="button" class="secondary" disabled={busy} onClick={sso}>
              {t("Join with single sign-on")}
            </button>
          </>
        )}
      </form>
    </main>
  );
}
