// The workspace's custom fields as the console shows them: each value as its input's text, and
// back, the customer's values with the typed ones applied (the CRM checks each against its
// field; its answer is shown beside the input).
import { create, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import { CustomFieldType, type CustomField } from "./gen/crm/customer/v1/custom_fields_pb";
import { msg, t } from "./i18n";


/** The types a workspace chooses from, with their names. */
export const FIELD_TYPES: [CustomFieldType, string][] = [
  [CustomFieldType.TEXT, msg("Text")],
  [CustomFieldType.NUMBER, msg("Number")],
  [CustomFieldType.DATE, msg("Date")],
  [CustomFieldType.BOOL, msg("Yes or no")],
  [CustomFieldType.CHOICE, msg("A choice")],
];

/** A value as its input shows it: a text, a number as written, `YYYY-MM-DD`, `true`/`false`. */
export function textOf(v: Value | undefined): string {
  switch (v?.kind.case) {
    case "stringValue":
      return v.kind.value;
    case "numberValue":
      return String(v.kind.value);
    case "boolValue":
      return v.kind.value ? "true" : "false";
    default:
      return "";
  }
}

/** Every defined field's value as its input shows it. */
export function typedOf(fields: CustomField[], values: { [key: string]: Value }): Record<string, string> {
  return Object.fromEntries(fields.map((f) => [f.key, textOf(values[f.key])]));
}

/** What a typed text or a file's cell sends for a field of `type`: a number or a yes-or-no read
 * as one when it is (`12,5`; `ya`, `tidak`), else the text as written, for the CRM to refuse by
 * name; the text for the other types. */
export function valueOf(type: CustomFieldType, text: string): JsonValue {
  if (type === CustomFieldType.NUMBER) {
    const n = Number(text.replace(/\s/g, "").replace(",", "."));
    return text.trim() !== "" && Number.isFinite(n) ? n : text;
  }
  if (type === CustomFieldType.BOOL) {
    const word = text.trim().toLowerCase();
    if (["true", "yes", "ya", "1"].includes(word)) return true;
    if (["false", "no", "tidak", "0"].includes(word)) return false;
  }
  return text;
}

/** The answers a choice or a yes-or-no field offers: (value, words). */
export function answersOf(field: CustomField): [string, string][] {
  return field.type === CustomFieldType.BOOL
    ? [
        ["true", t("Yes")],
        ["false", t("No")],
      ]
    : field.options.map((o) => [o, o]);
}

/**
 * The customer's custom fields with the typed ones applied: an emptied field is left out, the
 * keys no field defines are kept as stored. `undefined` when nothing typed differs from what is
 * stored.
 */
export function valuesWith(fields: CustomField[], stored: { [key: string]: Value }, typed: Record<string, string>): { [key: string]: Value } | undefined {
  const json = jsonWith(fields, stored, typed);
  return json && Object.fromEntries(Object.entries(json).map(([k, v]) => [k, valueMessage(v)]));
}

function valueMessage(v: JsonValue): Value {
  if (typeof v === "number") return create(ValueSchema, { kind: { case: "numberValue", value: v } });
  if (typeof v === "boolean") return create(ValueSchema, { kind: { case: "boolValue", value: v } });
  return create(ValueSchema, { kind: { case: "stringValue", value: String(v) } });
}

/** [`valuesWith`] as plain JSON values. */
export function jsonWith(fields: CustomField[], stored: { [key: string]: Value }, typed: Record<string, string>): Record<string, JsonValue> | undefined {
  const before = typedOf(fields, stored);
  if (fields.every((f) => (typed[f.key] ?? "") === before[f.key])) return undefined;
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(stored)) {
    const json = jsonOf(value);
    if (json !== undefined) out[key] = json;
  }
  for (const f of fields) {
    const text = typed[f.key] ?? "";
    if (text.trim() === "") delete out[f.key];
    else out[f.key] = valueOf(f.type, text);
  }
  return out;
}

function jsonOf(v: Value): JsonValue | undefined {
  switch (v.kind.case) {
    case "stringValue":
    case "numberValue":
    case "boolValue":
      return v.kind.value;
    default:
      return undefined;
  }
}

/** A value as a list's cell reads it: yes or no for a bool, the rest as written. */
export function shown(v: Value | undefined): string {
  if (v?.kind.case === "boolValue") return v.kind.value ? t("Yes") : t("No");
  return textOf(v);
}

/** The key a label suggests: lower case letters, digits and `_`, starting with a letter. */
export function keyOf(label: string): string {
  const key = label
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^[^a-z]+/, "")
    .replace(/_+$/, "")
    .slice(0, 64);
  return key;
}

/** The fields a list filters by with a choice: choices and yes-or-no ones. */
export function filterable(fields: CustomField[]): CustomField[] {
  return fields.filter((f) => f.type === CustomFieldType.CHOICE || f.type === CustomFieldType.BOOL);
}
