import { useEffect, useState } from "preact/hooks";
import { customFields } from "../api";
import type { Problem } from "../errors";
import { CustomFieldType, type CustomField } from "../gen/crm/customer/v1/custom_fields_pb";
import { answersOf, filterable } from "../customFields";
import { Field } from "./Field";
import { t } from "../i18n";

/** The workspace's custom fields, read once (none until they arrive, or when they cannot be read). */
export function useCustomFields(onError: (err: unknown) => Problem): CustomField[] {
  const [fields, setFields] = useState<CustomField[]>([]);
  useEffect(() => {
    customFields
      .listCustomFields({})
      .then((r) => setFields(r.customFields))
      .catch(onError);
  }, []);
  return fields;
}

type InputsProps = {
  fields: CustomField[];
  typed: Record<string, string>;
  onInput: (key: string, value: string) => void;
  /** The CRM's answer per field path (`customer.custom_fields.<key>`). */
  errors: Record<string, string>;
  /** What the inputs' ids start with, to keep two forms apart. */
  name: string;
};

/** An input per custom field, of its type: text, number, date, yes or no, or its options. */
export function CustomFieldInputs({ fields, typed, onInput, errors, name }: InputsProps) {
  if (fields.length === 0) return null;
  return (
    <fieldset class="plain">
      <legend class="visually-hidden">{t("More details")}</legend>
      <div class="row">
        {fields.map((f) => {
          const id = `${name}-${f.key}`;
          const error = errors[`customer.custom_fields.${f.key}`];
          const label = f.required ? t("{{label}} (required)", { label: f.label }) : f.label;
          const value = typed[f.key] ?? "";
          if (f.type === CustomFieldType.CHOICE || f.type === CustomFieldType.BOOL) {
            const options = answersOf(f);
            return (
              <div class="field" key={f.key}>
                <label for={`field-${id}`}>{label}</label>
                <select
                  id={`field-${id}`}
                  value={value}
                  aria-invalid={error ? "true" : undefined}
                  aria-describedby={error ? `field-${id}-error` : undefined}
                  onChange={(e) => onInput(f.key, (e.target as HTMLSelectElement).value)}
                >
                  <option value="">—</option>
                  {/* A value stored before the options changed stays shown as it is. */}
                  {value && !options.some(([v]) => v === value) && <option value={value}>{value}</option>}
                  {options.map(([v, words]) => (
                    <option key={v} value={v}>
                      {words}
                    </option>
                  ))}
                </select>
                {error && (
                  <span id={`field-${id}-error`} class="field-error">
                    {error}
                  </span>
                )}
              </div>
            );
          }
          const type = f.type === CustomFieldType.NUMBER ? "number" : f.type === CustomFieldType.DATE ? "date" : "text";
          return <Field key={f.key} label={label} name={id} type={type} value={value} onInput={(v) => onInput(f.key, v)} error={error} />;
        })}
      </div>
    </fieldset>
  );
}

/** A choice per custom field a list can be narrowed by (choices, yes or no). */
export function CustomFieldFilters({ fields, chosen, change }: { fields: CustomField[]; chosen: Record<string, string>; change: (fields: Record<string, string>) => void }) {
  return (
    <>
      {filterable(fields).map((f) => (
        <label class="inline" key={f.key}>
          {f.label}{" "}
          <select value={chosen[f.key] ?? ""} onChange={(e) => change({ ...chosen, [f.key]: (e.target as HTMLSelectElement).value })}>
            <option value="">{t("any")}</option>
            {answersOf(f).map(([v, words]) => (
              <option key={v} value={v}>
                {words}
              </option>
            ))}
          </select>
        </label>
      ))}
    </>
  );
}
