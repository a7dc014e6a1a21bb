import { useEffect, useState } from "preact/hooks";
import { customFields } from "../api";
import type { Problem } from "../errors";
import { CustomFieldType, type CustomField } from "../gen/crm/customer/v1/custom_fields_pb";
import { FIELD_TYPES, keyOf } from "../customFields";
import { tagsOf } from "../customerForm";
import { Field } from "./Field";
import { t } from "../i18n";

type Draft = { label: string; key: string; keyTyped: boolean; type: CustomFieldType; options: string; required: boolean };
const EMPTY: Draft = { label: "", key: "", keyTyped: false, type: CustomFieldType.TEXT, options: "", required: false };

/** The workspace's custom fields: what each customer carries beyond its details, defined here. */
export function CustomFieldSettings({ onError }: { onError: (err: unknown) => Problem }) {
  const [fields, setFields] = useState<CustomField[]>([]);
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [problem, setProblem] = useState<Problem>();
  const [editing, setEditing] = useState<string>();
  const [removing, setRemoving] = useState<string>();
  const reload = async () => {
    try {
      setFields((await customFields.listCustomFields({})).customFields);
    } catch (err) {
      setProblem(onError(err));
    }
  };
  useEffect(() => void reload(), []);

  const add = async (e: Event) => {
    e.preventDefault();
    try {
      await customFields.createCustomField({
        customField: {
          key: draft.key,
          label: draft.label,
          type: draft.type,
          options: draft.type === CustomFieldType.CHOICE ? tagsOf(draft.options) : [],
          required: draft.required,
        },
        requestId: crypto.randomUUID(),
      });
      setDraft(EMPTY);
      setProblem(undefined);
      await reload();
    } catch (err) {
      setProblem(onError(err));
    }
  };
  const remove = async (f: CustomField) => {
    try {
      await customFields.deleteCustomField({ key: f.key, etag: f.etag });
      setRemoving(undefined);
      await reload();
    } catch (err) {
      setProblem(onError(err));
    }
  };

  const p = problem?.fields ?? {};
  const typeName = (type: CustomFieldType) => t(FIELD_TYPES.find(([ty]) => ty === type)?.[1] ?? "Text");
  return (
    <section class="card stack" aria-labelledby="custom-fields-title">
      <h2 id="custom-fields-title">{t("Custom fields")}</h2>
      <p class="hint">{t("What your team keeps on every customer beyond its details: shown on each customer, filled in by hand or by an import, and a choice or a yes-or-no narrows the customer list.")}</p>
      {fields.length > 0 && (
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("Field")}</th>
                <th scope="col">{t("Type")}</th>
                <th scope="col">{t("Options")}</th>
                <th scope="col">{t("Required")}</th>
                <th scope="col">
                  <span class="visually-hidden">{t("Actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {fields.map((f) =>
                editing === f.key ? (
                  <EditRow key={f.key} field={f} onError={onError} onDone={() => (setEditing(undefined), reload())} />
                ) : (
                  <tr key={f.key}>
                    <td>
                      {f.label} <code class="hint">{f.key}</code>
                    </td>
                    <td>{typeName(f.type)}</td>
                    <td>{f.options.join(", ")}</td>
                    <td>{f.required ? t("Yes") : t("No")}</td>
                    <td>
                      {removing === f.key ? (
                        <span class="confirm" role="group" aria-label={t("Delete {{name}}?", { name: f.label })}>
                          <span>{t("Delete the field? The values customers hold stay, unseen until it is defined again.")}</span>
                          <button type="button" onClick={() => remove(f)}>
                            {t("Yes, delete")}
                          </button>
                          <button type="button" class="secondary" onClick={() => setRemoving(undefined)}>
                            {t("Cancel")}
                          </button>
                        </span>
                      ) : (
                        <span class="actions">
                          <button type="button" class="secondary" aria-label={t("Change {{name}}", { name: f.label })} onClick={() => setEditing(f.key)}>
                            {t("Change")}
                          </button>
                          <button type="button" class="secondary" aria-label={t("Delete {{name}}", { name: f.label })} onClick={() => setRemoving(f.key)}>
                            {t("Delete")}
                          </button>
                        </span>
                      )}
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
      )}
      <form class="stack" onSubmit={add} aria-label={t("New custom field")} noValidate>
        <div class="row">
          <Field
            label={t("Label")}
            name="custom-label"
            value={draft.label}
            onInput={(label) => setDraft({ ...draft, label, key: draft.keyTyped ? draft.key : keyOf(label) })}
            error={p["custom_field.label"]}
            hint={t("e.g. Preferred motif")}
          />
          <Field label={t("Key")} name="custom-key" value={draft.key} onInput={(key) => setDraft({ ...draft, key, keyTyped: true })} error={p["custom_field.key"]} hint={t("In the API, imports and exports; it cannot change")} />
          <div class="field">
            <label for="field-custom-type">{t("Type")}</label>
            <select id="field-custom-type" value={draft.type} onChange={(e) => setDraft({ ...draft, type: Number((e.target as HTMLSelectElement).value) })}>
              {FIELD_TYPES.map(([type, words]) => (
                <option key={type} value={type}>
                  {t(words)}
                </option>
              ))}
            </select>
          </div>
          {draft.type === CustomFieldType.CHOICE && (
            <Field label={t("Options")} name="custom-options" value={draft.options} onInput={(options) => setDraft({ ...draft, options })} error={p["custom_field.options"]} hint={t("Separated by commas, e.g. parang, bunga tanjung")} />
          )}
        </div>
        <label class="check">
          <input type="checkbox" checked={draft.required} onChange={() => setDraft({ ...draft, required: !draft.required })} /> {t("Required on every customer added or changed")}
        </label>
        {problem && <p class="error" role="alert">{problem.message}</p>}
        <div class="actions">
          <button type="submit">{t("Add the field")}</button>
        </div>
      </form>
    </section>
  );
}

/** A field's label, options and whether it is required, changed in its row. */
function EditRow({ field, onError, onDone }: { field: CustomField; onError: (err: unknown) => Problem; onDone: () => void }) {
  const [label, setLabel] = useState(field.label);
  const [options, setOptions] = useState(field.options.join(", "));
  const [required, setRequired] = useState(field.required);
  const [problem, setProblem] = useState<Problem>();
  const choice = field.type === CustomFieldType.CHOICE;
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      await customFields.updateCustomField({
        customField: { key: field.key, etag: field.etag, label, options: choice ? tagsOf(options) : [], required },
        updateMask: { paths: choice ? ["label", "options", "required"] : ["label", "required"] },
      });
      onDone();
    } catch (err) {
      setProblem(onError(err));
    }
  };
  const p = problem?.fields ?? {};
  return (
    <tr>
      <td colSpan={5}>
        <form class="stack" onSubmit={save} aria-label={t("Change {{name}}", { name: field.label })} noValidate>
          <div class="row">
            <Field label={t("Label")} name={`edit-label-${field.key}`} value={label} onInput={setLabel} error={p["custom_field.label"]} />
            {choice && <Field label={t("Options")} name={`edit-options-${field.key}`} value={options} onInput={setOptions} error={p["custom_field.options"]} hint={t("Separated by commas")} />}
          </div>
          <label class="check">
            <input type="checkbox" checked={required} onChange={() => setRequired(!required)} /> {t("Required on every customer added or changed")}
          </label>
          {problem && <p class="error" role="alert">{problem.message}</p>}
          <div class="actions">
            <button type="submit">{t("Save the field")}</button>
            <button type="button" class="secondary" onClick={onDone}>
              {t("Cancel")}
            </button>
          </div>
        </form>
      </td>
    </tr>
  );
}
