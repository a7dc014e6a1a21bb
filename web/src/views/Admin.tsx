import { useEffect, useState } from "preact/hooks";
import { audit, roles, users } from "../api";
import type { Problem } from "../errors";
import { AuditEventKind, AuditOutcome, type AuditEvent } from "../gen/crm/iam/v1/audit_pb";
import type { Role } from "../gen/crm/iam/v1/roles_pb";
import type { User } from "../gen/crm/iam/v1/users_pb";
import { Field } from "./Field";
import { dateTime } from "../dates";
import { ApiKeys } from "./ApiKeys";
import { allPages } from "../paging";

type Props = { onError: (err: unknown) => Problem };

/** Administration: the tenant's people and their roles, and the audit log. */
/** What the signed-in person may do here; the rest is not shown (nor asked for). */
export type AdminRights = { manageUsers: boolean; readAudit: boolean; manageKeys: boolean };

export function Admin({ onError, may }: Props & { may: AdminRights }) {
  const [people, setPeople] = useState<User[]>([]);
  const [roleList, setRoleList] = useState<Role[]>([]);
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [problem, setProblem] = useState<Problem>();

  const reload = async () => {
    try {
      const everyone = await allPages(async (pageToken) => {
        const page = await users.listUsers({ pageSize: 100, pageToken });
        return { items: page.users, next: page.nextPageToken };
      });
      setPeople(everyone.items);
      setRoleList((await roles.listRoles({ pageSize: 100 })).roles);
      if (may.readAudit) setEvents((await audit.listAuditEvents({ pageSize: 25 })).auditEvents);
      setProblem(undefined);
    } catch (err) {
      setProblem(onError(err));
    }
  };
  useEffect(() => {
    reload();
  }, []);

  const toggle = async (user: User, role: string) => {
    try {
      const answer = user.roles.includes(role)
        ? await users.revokeRole({ userId: user.id, role })
        : await users.assignRole({ userId: user.id, role });
      if (answer.user) setPeople((all) => all.map((u) => (u.id === answer.user!.id ? answer.user! : u)));
      if (may.readAudit) setEvents((await audit.listAuditEvents({ pageSize: 25 })).auditEvents);
      setProblem(undefined);
    } catch (err) {
      setProblem(onError(err));
    }
  };

  return (
    <section aria-labelledby="admin-title">
      <div class="section-head">
        <h1 id="admin-title">People and roles</h1>
      </div>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      {may.manageUsers && <Invite roles={roleList} onError={onError} onInvited={(u) => (setPeople([...people, u]), reload())} />}
      <div class="scroll" tabIndex={0}><table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Roles</th>
          </tr>
        </thead>
        <tbody>
          {people.map((u) => (
            <tr key={u.id}>
              <td>{u.displayName}</td>
              <td>{u.email}</td>
              <td>
                <fieldset class="roles">
                  <legend class="visually-hidden">Roles of {u.displayName}</legend>
                  {roleList.map((r) => (
                    <label key={r.name}>
                      <input type="checkbox" checked={u.roles.includes(r.name)} disabled={!may.manageUsers} onChange={() => toggle(u, r.name)} /> {r.name}
                    </label>
                  ))}
                </fieldset>
              </td>
            </tr>
          ))}
        </tbody>
      </table></div>
      {may.manageKeys && <ApiKeys roles={roleList} onError={onError} onChanged={reload} />}
      {may.readAudit && <AuditLog events={events} people={people} />}
    </section>
  );
}

/** The latest changes, who made them and how they ended. */
function AuditLog({ events, people }: { events: AuditEvent[]; people: User[] }) {
  return (
    <>
      <h2>Audit log</h2>
      <div class="scroll" tabIndex={0}><table class="compact">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">What</th>
            <th scope="col">Outcome</th>
            <th scope="col">Actor</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e) => (
            <tr key={e.id}>
              <td>{dateTime(e.createTime)}</td>
              <td>{AuditEventKind[e.kind].toLowerCase().replaceAll("_", " ")}</td>
              <td>{AuditOutcome[e.outcome].toLowerCase()}</td>
              <td>{people.find((p) => p.id === e.actorId)?.displayName ?? e.actorId}</td>
            </tr>
          ))}
        </tbody>
      </table></div>
    </>
  );
}

function Invite({ roles: roleList, onError, onInvited }: Props & { roles: Role[]; onInvited: (u: User) => void }) {
  const [form, setForm] = useState({ name: "", email: "", password: "", role: "sales_rep" });
  const [problem, setProblem] = useState<Problem>();
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const { user } = await users.createUser({
        user: { displayName: form.name, email: form.email, roles: [form.role] },
        password: form.password,
        requestId: crypto.randomUUID(),
      });
      if (user) {
        onInvited(user);
        setForm({ name: "", email: "", password: "", role: form.role });
        setProblem(undefined);
      }
    } catch (err) {
      setProblem(onError(err));
    }
  };
  const f = problem?.fields ?? {};
  return (
    <form class="card" onSubmit={submit} aria-label="Invite someone" noValidate>
      <h2>Invite someone</h2>
      <div class="row">
        <Field label="Their name" name="invite-name" value={form.name} onInput={set("name")} error={f["user.display_name"]} />
        <Field label="Their email" name="invite-email" type="email" value={form.email} onInput={set("email")} error={f["user.email"]} />
        <Field label="A first password" name="invite-password" type="password" value={form.password} onInput={set("password")} error={f.password} />
        <div class="field">
          <label for="invite-role">Role</label>
          <select id="invite-role" value={form.role} onChange={(e) => set("role")((e.target as HTMLSelectElement).value)}>
            {roleList.map((r) => (
              <option key={r.name} value={r.name}>
                {r.name}
              </option>
            ))}
          </select>
        </div>
      </div>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      <button type="submit">Invite</button>
    </form>
  );
}
