import { useEffect, useState } from "preact/hooks";
import { roles } from "../api";
import type { Problem } from "../errors";
import type { Permission, Role } from "../gen/crm/iam/v1/roles_pb";
import { byArea, roleId, roleName } from "../roles";
import { Field } from "./Field";
import { t } from "../i18n";

type Props = { roles: Role[]; onError: (err: unknown) => Problem; onChanged: () => void };

/**
 * The workspace's roles: the built-in ones described, custom ones made, changed and deleted by
 * ticking permissions, each with what it allows in words.
 */
export function Roles({ roles: roleList, onError, onChanged }: Props) {
  const [permissions, setPermissions] = useState<Permission[]>([]);
  const [editing, setEditing] = useState<Role | "new">();
  const [deleting, setDeleting] = useState<string>();
  const [problem, setProblem] = useState<Problem>();

  useEffect(() => {
    roles
      .listPermissions({})
      .then((answer) => setPermissions(answer.permissions))
      .catch((err) => setProblem(onError(err)));
  }, []);

  const remove = async (role: Role) => {
    try {
      await roles.deleteRole({ id: role.id });
      setDeleting(undefined);
      setProblem(undefined);
      onChanged();
    } catch (err) {
      setProblem(onError(err));
    }
  };

  return (
    <div class="stack">
      <h2>{t("Roles")}</h2>
      <p class="hint">{t("A role is a set of permissions. The built-in ones cannot be changed; make your own for what your team does.")}</p>
      {problem && <p class="error" role="alert">{problem.message}</p>}
      <div class="scroll" tabIndex={0}><table>
        <thead>
          <tr>
            <th scope="col">{t("Role")}</th>
            <th scope="col">{t("What it is for")}</th>
            <th scope="col">{t("Permissions")}</th>
            <th scope="col"><span class="visually-hidden">{t("Actions")}</span></th>
          </tr>
        </thead>
        <tbody>
          {roleList.map((r) => (
            <tr key={r.id}>
              <td>{roleName(r.name)}</td>
              <td>{r.description}</td>
              <td>{r.builtIn ? t("Built in") : r.permissions.length}</td>
              <td>
                {!r.builtIn &&
                  (deleting === r.id ? (
                    <span class="actions" role="group" aria-label={t("Delete the {{name}} role?", { name: roleName(r.name) })}>
                      <button type="button" onClick={() => remove(r)}>
                        {t("Yes, delete")}
                      </button>
                      <button type="button" class="secondary" onClick={() => setDeleting(undefined)}>
                        {t("Keep")}
                      </button>
                    </span>
                  ) : (
                    <span class="actions">
                      <button type="button" class="link" onClick={() => setEditing(r)} aria-label={t("Change the {{name}} role", { name: roleName(r.name) })}>
                        {t("Change")}
                      </button>
                      <button type="button" class="link" onClick={() => setDeleting(r.id)} aria-label={t("Delete the {{name}} role", { name: roleName(r.name) })}>
                        {t("Delete")}
                      </button>
                    </span>
                  ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table></div>
      {editing ? (
        <RoleForm
          key={editing === "new" ? "new" : editing.id}
          role={editing === "new" ? undefined : editing}
          permissions={permissions}
          onError={onError}
          onDone={() => {
            setEditing(undefined);
            onChanged();
          }}
          onCancel={() => setEditing(undefined)}
        />
      ) : (
        <button type="button" class="secondary" onClick={() => setEditing("new")}>
          {t("Make a role")}
        </button>
      )}
    </div>
  );
}

type FormProps = {
  role?: Role;
  permissions: Permission[];
  onError: (err: unknown) => Problem;
  onDone: () => void;
  onCancel: () => void;
};

/** A custom role's name (when new), what it is for, and its permissions ticked by area. */
function RoleForm({ role, permissions, onError, onDone, onCancel }: FormProps) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState(role?.description ?? "");
  const [ticked, setTicked] = useState<Set<string>>(new Set(role?.permissions ?? []));
  const [problem, setProblem] = useState<Problem>();

  const tick = (permission: string) => {
    const next = new Set(ticked);
    if (next.has(permission)) next.delete(permission);
    else next.add(permission);
    setTicked(next);
  };

  const save = async (e: Event) => {
    e.preventDefault();
    try {
      const chosen = [...ticked].sort();
      if (role) {
        await roles.updateRole({
          role: { id: role.id, etag: role.etag, description, permissions: chosen },
          updateMask: { paths: ["description", "permissions"] },
        });
      } else {
        await roles.createRole({
          role: { name: roleId(name), description, permissions: chosen },
          requestId: crypto.randomUUID(),
        });
      }
      onDone();
    } catch (err) {
      setProblem(onError(err));
    }
  };

  const f = problem?.fields ?? {};
  const title = role ? t("Change the {{name}} role", { name: roleName(role.name) }) : t("Make a role");
  return (
    <form class="card" onSubmit={save} aria-label={title} noValidate>
      <h3>{title}</h3>
      {!role && (
        <Field
          label={t("Its name")}
          name="role-name"
          value={name}
          onInput={setName}
          error={f["role.name"]}
          hint={name ? t("Kept as {{id}}", { id: roleId(name) || "…" }) : t("e.g. Shop assistant")}
        />
      )}
      <Field label={t("What it is for")} name="role-description" value={description} onInput={setDescription} error={f["role.description"]} />
      {byArea(permissions).map(([area, inArea]) => (
        <fieldset key={area} class="permissions">
          <legend>{area}</legend>
          {inArea.map((p) => (
            <label key={p.name}>
              <input type="checkbox" checked={ticked.has(p.name)} onChange={() => tick(p.name)} /> {sentence(p.description)}
            </label>
          ))}
        </fieldset>
      ))}
      {f["role.permissions"] && <p class="field-error">{f["role.permissions"]}</p>}
      {problem && <p class="error" role="alert">{problem.message}</p>}
      <div class="actions">
        <button type="submit">{role ? t("Save the role") : t("Make the role")}</button>
        <button type="button" class="secondary" onClick={onCancel}>
          {t("Cancel")}
        </button>
      </div>
    </form>
  );
}

/** "read leads" → "Read leads". */
function sentence(text: string): string {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}
