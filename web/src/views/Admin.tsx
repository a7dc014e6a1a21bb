import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { roles, users } from "../api";
import type { Problem } from "../errors";
import type { Role } from "../gen/crm/iam/v1/roles_pb";
import { UserStatus, type User } from "../gen/crm/iam/v1/users_pb";
import { roleName } from "../roles";
import { Roles } from "./Roles";
import { Field } from "./Field";
import { dateTime } from "../dates";
import { ApiKeys } from "./ApiKeys";
import { AuditLog } from "./AuditLog";
import { allPages } from "../paging";
import { t } from "../i18n";

type Props = { onError: (err: unknown) => Problem };

/** Administration: the tenant's people and their roles, and the audit log. */
/** What the signed-in person may do here; the rest is not shown (nor asked for). */
export type AdminRights = { manageUsers: boolean; readAudit: boolean; manageKeys: boolean; manageRoles: boolean };

/** A change to someone that waits for a yes: a role given or taken, an account (re)activated, an
 * invitation withdrawn. */
type Pending = { user: User; role?: string; status?: UserStatus; withdraw?: boolean };

export function Admin({ onError, may, me }: Props & { may: AdminRights; me: string }) {
  const [people, setPeople] = useState<User[]>([]);
  const [roleList, setRoleList] = useState<Role[]>([]);
  // Bumped by a change made here: the audit log reads again.
  const [auditVersion, setAuditVersion] = useState(0);
  const [problem, setProblem] = useState<Problem>();
  const [pending, setPending] = useState<Pending>();

  // The sections below the people wait for them: rows arriving above a section already drawn
  // would push it down (a layout shift of 0.136 on desktop).
  const [loaded, setLoaded] = useState(false);
  const reload = async () => {
    try {
      const [everyone, defined] = await Promise.all([
        allPages(async (pageToken) => {
          const page = await users.listUsers({ pageSize: 100, pageToken });
          return { items: page.users, next: page.nextPageToken };
        }),
        roles.listRoles({ pageSize: 100 }),
      ]);
      setPeople(everyone.items);
      setRoleList(defined.roles);
      setAuditVersion((v) => v + 1);
      setProblem(undefined);
    } catch (err) {
      setProblem(onError(err));
    }
    setLoaded(true);
  };
  useEffect(() => {
    reload();
  }, []);

  const [sent, setSent] = useState<string>();
  const confirm = async ({ user, role, status, withdraw }: Pending) => {
    try {
      if (withdraw) {
        await users.revokeInvitation({ userId: user.id });
        setPending(undefined);
        setPeople((all) => all.filter((u) => u.id !== user.id));
        setSent(t("The invitation to {{email}} is withdrawn: its link no longer works.", { email: user.email }));
        setAuditVersion((v) => v + 1);
        return;
      }
      const answer =
        status !== undefined
          ? await users.updateUser({ user: { id: user.id, etag: user.etag, status }, updateMask: { paths: ["status"] } })
          : user.roles.includes(role!)
            ? await users.revokeRole({ userId: user.id, role: role! })
            : await users.assignRole({ userId: user.id, role: role! });
      setPending(undefined);
      if (answer.user) setPeople((all) => all.map((u) => (u.id === answer.user!.id ? answer.user! : u)));
      setAuditVersion((v) => v + 1);
      setProblem(undefined);
    } catch (err) {
      setProblem(onError(err));
    }
  };

  const resend = async (user: User) => {
    try {
      const answer = await users.resendInvitation({ userId: user.id });
      if (answer.user) setPeople((all) => all.map((u) => (u.id === answer.user!.id ? answer.user! : u)));
      setSent(t("A new link is on its way to {{email}}, good until {{expireTime}}; the earlier one no longer works.", { email: user.email, expireTime: dateTime(answer.user?.invitation?.expireTime) }));
      setProblem(undefined);
    } catch (err) {
      setProblem(onError(err));
    }
  };

  return (
    <section aria-labelledby="admin-title">
      <div class="section-head">
        <h1 id="admin-title">{t("People and roles")}</h1>
      </div>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {sent && <p class="notice" role="status">{sent}</p>}
      {may.manageUsers && (
        <Invite
          roles={roleList}
          onError={onError}
          onInvited={(u) => (
            setPeople([...people, u]),
            setSent(t("Invitation sent to {{email}}. The link in it works once, until {{expireTime}}.", { email: u.email, expireTime: dateTime(u.invitation?.expireTime) })),
            reload()
          )}
        />
      )}
      <div class="scroll" tabIndex={0}><table>
        <thead>
          <tr>
            <th scope="col">{t("Name")}</th>
            <th scope="col">{t("Email")}</th>
            <th scope="col">{t("Roles")}</th>
            <th scope="col">{t("Account")}</th>
          </tr>
        </thead>
        <tbody>
          {people.map((u) => {
            const active = u.status !== UserStatus.DEACTIVATED;
            return (
              <Fragment key={u.id}>
              <tr>
                <td>{u.displayName}</td>
                <td>{u.email}</td>
                <td>
                  <fieldset class="roles">
                    <legend class="visually-hidden">{t("Roles of {{name}}", { name: u.displayName })}</legend>
                    {roleList.map((r) => (
                      <label key={r.name} title={r.description}>
                        <input
                          type="checkbox"
                          checked={u.roles.includes(r.name)}
                          disabled={!may.manageUsers}
                          onClick={(e) => {
                            // Nothing changes until the change is confirmed.
                            e.preventDefault();
                            setPending({ user: u, role: r.name });
                          }}
                        />{" "}
                        {roleName(r.name)}
                      </label>
                    ))}
                  </fieldset>
                </td>
                {u.status === UserStatus.INVITED ? (
                <td>
                  {t("Invited, link until {{until}}", { until: dateTime(u.invitation?.expireTime) })}
                  {may.manageUsers && (
                    <>
                      {" "}
                      <button type="button" class="link" onClick={() => resend(u)}>
                        {t("Send again")}
                      </button>{" "}
                      <button type="button" class="link" onClick={() => setPending({ user: u, withdraw: true })}>
                        {t("Withdraw")}
                      </button>
                    </>
                  )}
                </td>
                ) : (
                <td>
                  {active ? t("Active") : t("Deactivated")}
                  {may.manageUsers && u.id !== me && (
                    <>
                      {" "}
                      <button
                        type="button"
                        class="link"
                        onClick={() => setPending({ user: u, status: active ? UserStatus.DEACTIVATED : UserStatus.ACTIVE })}
                      >
                        {active ? t("Deactivate") : t("Reactivate")}
                      </button>
                    </>
                  )}
                </td>
                )}
              </tr>
              {pending?.user.id === u.id && (
                // Asked right under the person, where the change was made.
                <tr>
                  <td colSpan={4}>
                    <Confirm pending={pending} onYes={() => confirm(pending)} onNo={() => setPending(undefined)} />
                  </td>
                </tr>
              )}
              </Fragment>
            );
          })}
        </tbody>
      </table></div>
      {loaded && may.manageRoles && <Roles roles={roleList} onError={onError} onChanged={reload} />}
      {loaded && may.manageKeys && <ApiKeys roles={roleList} onError={onError} onChanged={reload} />}
      {loaded && may.readAudit && <AuditLog people={people} version={auditVersion} onError={onError} />}
    </section>
  );
}

/** The question before a change to someone's roles or account, said in words. */
function Confirm({ pending: { user, role, status, withdraw }, onYes, onNo }: { pending: Pending; onYes: () => void; onNo: () => void }) {
  const name = user.displayName || user.email;
  const [question, yes] = withdraw
    ? [t("Withdraw the invitation to {{name}}? Its link stops working; you can invite {{email}} again later.", { name, email: user.email }), t("Yes, withdraw")]
    : status === UserStatus.DEACTIVATED
      ? [t("Deactivate {{name}}? They are signed out at once and cannot sign in until reactivated.", { name }), t("Yes, deactivate")]
      : status === UserStatus.ACTIVE
        ? [t("Reactivate {{name}}? They can sign in again with their own password.", { name }), t("Yes, reactivate")]
        : user.roles.includes(role!)
          ? [t("Take the {{role}} role from {{name}}?", { role: roleName(role!), name }), t("Yes, take it")]
          : [t("Give {{name}} the {{role}} role?", { name, role: roleName(role!) }), t("Yes, give it")];
  return (
    <div class="card actions" role="group" aria-label={question}>
      <p>{question}</p>
      <button type="button" onClick={onYes}>
        {yes}
      </button>
      <button type="button" class="secondary" onClick={onNo}>
        {t("Cancel")}
      </button>
    </div>
  );
}

function Invite({ roles: roleList, onError, onInvited }: Props & { roles: Role[]; onInvited: (u: User) => void }) {
  const [form, setForm] = useState({ name: "", email: "", role: "sales_rep" });
  const [problem, setProblem] = useState<Problem>();
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const { user } = await users.inviteUser({
        user: { displayName: form.name, email: form.email, roles: [form.role] },
        requestId: crypto.randomUUID(),
      });
      if (user) {
        onInvited(user);
        setForm({ name: "", email: "", role: form.role });
        setProblem(undefined);
      }
    } catch (err) {
      setProblem(onError(err));
    }
  };
  const f = problem?.fields ?? {};
  return (
    <form class="card" onSubmit={submit} aria-label={t("Invite someone")} noValidate>
      <h2>{t("Invite someone")}</h2>
      <div class="row">
        <Field label={t("Their name")} name="invite-name" value={form.name} onInput={set("name")} error={f["user.display_name"]} />
        <Field label={t("Their email")} name="invite-email" type="email" value={form.email} onInput={set("email")} error={f["user.email"]} />
        <div class="field">
          <label for="invite-role">{t("Role")}</label>
          <select id="invite-role" value={form.role} onChange={(e) => set("role")((e.target as HTMLSelectElement).value)}>
            {roleList.map((r) => (
              <option key={r.name} value={r.name}>
                {roleName(r.name)}
              </option>
            ))}
          </select>
        </div>
      </div>
      <p class="muted">{t("They get an email from the CRM with a link to choose their own password; it works once, for 72 hours.")}</p>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      <button type="submit">{t("Send the invitation")}</button>
    </form>
  );
}
