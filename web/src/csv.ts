// CSV files of customers, as the console imports them: parsed by papaparse, each column given
// the field it fills (guessed from its header, or as the workspace remembers it, and confirmed
// by the person in a preview), each row turned into the customer's proto3 JSON, sent in
// batches to the REST import (grpc-web has no client streams in browsers), and the rejected rows
// reported with their line numbers.
import Papa from "papaparse";
import { countryCode } from "./countries";
import type { Value } from "@bufbuild/protobuf/wkt";
import { CustomFieldType } from "./gen/crm/customer/v1/custom_fields_pb";
import { textOf, valueOf } from "./customFields";

export type Row = Record<string, string>;

/** The fields a column can fill, with the header names each is guessed from (as people write
 * them, English and Malay). The keys are what the workspace remembers (`import_columns`). */
export const FIELDS = {
  type: ["type", "kind", "jenis"],
  given_name: ["given_name", "first_name", "given name", "first name", "nama pertama"],
  family_name: ["family_name", "last_name", "family name", "last name", "nama keluarga"],
  legal_name: ["legal_name", "company", "business", "legal name", "syarikat", "nama syarikat"],
  email: ["email", "e-mail", "e-mel", "emel"],
  phones: ["phones", "phone", "mobile", "telefon", "no. telefon"],
  tags: ["tags", "tag"],
  notes: ["notes", "note", "catatan", "nota"],
  street: ["street", "address", "street address", "address line 1", "alamat"],
  city: ["city", "town", "locality", "bandar"],
  state: ["state", "province", "negeri"],
  postcode: ["postcode", "postal code", "postal_code", "zip", "poskod"],
  country: ["country", "country code", "negara"],
  // A business row's contact person: the customer's first contact.
  contact: ["contact", "contact person", "contact name", "contact_name", "orang hubungan"],
  contact_email: ["contact email", "contact_email"],
  contact_phone: ["contact phone", "contact_phone"],
  job_title: ["job title", "job_title", "position", "jawatan"],
} as const;

export type Field = keyof typeof FIELDS;

/** A workspace's custom field a column can fill, as `custom.<key>`. */
export type Custom = { key: string; label: string; type: CustomFieldType };
export type Target = Field | `custom.${string}`;

/** Header (trimmed, lower case) → the field it fills, or "" for a column not read. */
export type Columns = Record<string, Target | "">;

export type Parsed = { rows: Row[]; headers: { key: string; label: string }[]; columns: Columns; ignored: string[] };

const isField = (name: string): name is Field => Object.hasOwn(FIELDS, name);

/** The field each header fills: as the workspace remembers it, else guessed from its name (a
 * custom field's from its key or label). */
export function guessColumns(headers: string[], remembered: Record<string, string> = {}, custom: Custom[] = []): Columns {
  const columns: Columns = {};
  const defined = (name: string): name is Target => name.startsWith("custom.") && custom.some((c) => `custom.${c.key}` === name);
  for (const header of headers) {
    const kept = remembered[header];
    if (kept !== undefined && (kept === "" || isField(kept) || defined(kept))) {
      columns[header] = kept;
      continue;
    }
    const guess = (Object.keys(FIELDS) as Field[]).find((f) => (FIELDS[f] as readonly string[]).includes(header));
    const theirs = custom.find((c) => c.key === header || c.label.trim().toLowerCase() === header);
    columns[header] = guess ?? (theirs ? `custom.${theirs.key}` : "");
  }
  return columns;
}

/** A file's rows (keyed by their header, trimmed and in lower case), its headers as written, and
 * the field each fills (`remembered`, else guessed); `ignored`: the headers that fill none. */
export function parseCsv(text: string, remembered: Record<string, string> = {}, custom: Custom[] = []): Parsed {
  const labels = new Map<string, string>();
  const parsed = Papa.parse<Row>(text.trim(), {
    header: true,
    skipEmptyLines: true,
    transformHeader: (h) => {
      const key = h.trim().toLowerCase();
      if (!labels.has(key)) labels.set(key, h.trim());
      return key;
    },
  });
  const headers = (parsed.meta.fields ?? []).map((key) => ({ key, label: labels.get(key) ?? key }));
  const columns = guessColumns(headers.map((h) => h.key), remembered, custom);
  const ignored = headers.filter((h) => columns[h.key] === "").map((h) => h.key);
  return { rows: parsed.data, headers, columns, ignored };
}

/** A cell as read back: the `'` an export puts before a formula character (OWASP's advice
 * against CSV injection, papaparse's `escapeFormulae`) is taken off again. */
export function restored(cell: string): string {
  return /^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell;
}

/** The first filled cell of the columns that fill `field`. */
function column(row: Row, columns: Columns, field: Target): string {
  for (const [header, fills] of Object.entries(columns)) {
    if (fills !== field) continue;
    const value = row[header];
    if (value !== undefined && value.trim() !== "") return restored(value.trim());
  }
  return "";
}

const list = (text: string) =>
  text
    .split(";")
    .map((s) => s.trim())
    .filter(Boolean);

/** A row as a Customer in proto3 JSON; the CRM checks every field. */
export function toCustomer(row: Row, columns: Columns = guessColumns(Object.keys(row)), custom: Custom[] = []): Record<string, unknown> {
  const column_ = (field: Field) => column(row, columns, field);
  const legal = column_("legal_name");
  const kind = column_("type").toLowerCase();
  const business = kind ? ["business", "company", "customer_type_business"].includes(kind) : legal !== "";
  const customer: Record<string, unknown> = business
    ? { type: "CUSTOMER_TYPE_BUSINESS", business: { legalName: legal } }
    : { type: "CUSTOMER_TYPE_INDIVIDUAL", individual: { givenName: column_("given_name"), familyName: column_("family_name") } };
  const email = column_("email");
  if (email) customer.email = email;
  const phones = list(column_("phones"));
  if (phones.length) customer.phones = phones.map((e164Number) => ({ e164Number }));
  const tags = list(column_("tags"));
  if (tags.length) customer.tags = tags;
  const notes = column_("notes");
  if (notes) customer.notes = notes;
  const [street, city, state, postcode, country] = (["street", "city", "state", "postcode", "country"] as const).map((k) => column_(k));
  if (street || city || state || postcode || country) {
    customer.addresses = [
      {
        kind: "ADDRESS_KIND_SHIPPING",
        lines: street ? [street] : [],
        locality: city,
        administrativeArea: state,
        postalCode: postcode,
        // "Malaysia" or "MY"; what names no country is sent as written, and refused by its row.
        regionCode: country ? (countryCode(country) ?? country) : "",
      },
    ];
  }
  const customFields: Record<string, unknown> = {};
  for (const c of custom) {
    const cell = column(row, columns, `custom.${c.key}`);
    if (cell) customFields[c.key] = valueOf(c.type, cell);
  }
  if (Object.keys(customFields).length) customer.customFields = customFields;
  const contact = column_("contact");
  if (business && contact) {
    const email = column_("contact_email");
    const phone = column_("contact_phone");
    // A name is kept whole ("Rahim bin Ismail" has no family name to split off).
    customer.contacts = [
      {
        givenName: contact,
        jobTitle: column_("job_title"),
        emails: email ? [{ address: email, kind: "EMAIL_KIND_WORK", primary: true }] : [],
        phones: phone ? [{ e164Number: phone, primary: true }] : [],
        primary: true,
      },
    ];
  }
  return customer;
}

/** The NDJSON body of one import request: the options, then a customer a line. */
export type DuplicatePolicy = "DUPLICATE_POLICY_SKIP" | "DUPLICATE_POLICY_UPDATE" | "DUPLICATE_POLICY_FAIL";

export function importBody(
  rows: Row[],
  requestId: string,
  columns?: Columns,
  duplicatePolicy: DuplicatePolicy = "DUPLICATE_POLICY_SKIP",
  custom: Custom[] = [],
  dryRun = false,
): string {
  // A check (a dry run) reads every row and writes nothing; it keeps no request id either, so
  // the import after it is not taken for its retry.
  const options = dryRun ? { duplicatePolicy, dryRun } : { duplicatePolicy, requestId };
  const lines = [JSON.stringify({ options })];
  for (const row of rows) lines.push(JSON.stringify({ customer: toCustomer(row, columns, custom) }));
  return lines.join("\n") + "\n";
}

export type Rejected = { line: number; email: string; problems: string; row: Row };

export type Report = { received: number; created: number; updated: number; skipped: number; failed: number; rejected: Rejected[]; warned: Rejected[] };

type Answer = {
  receivedCount?: string;
  createdCount?: string;
  updatedCount?: string;
  skippedCount?: string;
  failedCount?: string;
  errors?: RowProblem[];
  warnings?: RowProblem[];
};

type RowProblem = { row?: string; email?: string; fieldViolations?: { field: string; description: string }[] };

/** Adds a batch's answer to `report`; `first` is the batch's first row (0-based, in the file). */
export function addAnswer(report: Report, answer: Answer, rows: Row[], first: number): Report {
  const placed = (e: RowProblem): Rejected => {
    // The CRM counts a request's customers from 1; the file's header is line 1.
    const position = Number(e.row ?? 1);
    return {
      line: first + position + 1,
      email: e.email ?? "",
      problems: (e.fieldViolations ?? []).map((v) => `${v.field.replace(/^customer\./, "")}: ${v.description}`).join("; "),
      row: rows[position - 1] ?? {},
    };
  };
  const rejected = (answer.errors ?? []).map(placed);
  // Imported, with a doubtful value set aside (a phone kept in the notes as written).
  const warned = (answer.warnings ?? []).map(placed);
  return {
    received: report.received + Number(answer.receivedCount ?? 0),
    created: report.created + Number(answer.createdCount ?? 0),
    updated: report.updated + Number(answer.updatedCount ?? 0),
    skipped: report.skipped + Number(answer.skippedCount ?? 0),
    failed: report.failed + Number(answer.failedCount ?? 0),
    rejected: [...report.rejected, ...rejected],
    warned: [...report.warned, ...warned],
  };
}

/** The rejected rows as a CSV to fix and import again: their columns, then the reasons. */
export function rejectedCsv(rejected: Rejected[]): string {
  const fields = [...new Set(rejected.flatMap((r) => Object.keys(r.row)))];
  return Papa.unparse(
    {
      fields: [...fields, "line", "problems"],
      data: rejected.map((r) => [...fields.map((f) => restored(r.row[f] ?? "")), String(r.line), r.problems]),
    },
    // A cell a spreadsheet would run as a formula is written as text.
    { escapeFormulae: true },
  );
}

/** Customers as a CSV file with the columns the import reads back (a custom field's headed by
 * its key). */
export function customersCsv(customers: {
  type: number;
  displayName: string;
  email: string;
  individual?: { givenName: string; familyName: string };
  business?: { legalName: string };
  phones: { e164Number: string }[];
  tags: string[];
  notes: string;
  customFields?: { [key: string]: Value };
}[], custom: { key: string }[] = []): string {
  return Papa.unparse(
    {
      fields: ["type", "display_name", "first_name", "last_name", "company", "email", "phones", "tags", "notes", ...custom.map((c) => c.key)],
      data: customers.map((c) => [
        c.business ? "business" : "individual",
        c.displayName,
        c.individual?.givenName ?? "",
        c.individual?.familyName ?? "",
        c.business?.legalName ?? "",
        c.email,
        c.phones.map((p) => p.e164Number).join(";"),
        c.tags.join(";"),
        c.notes,
        ...custom.map((f) => textOf(c.customFields?.[f.key])),
      ]),
    },
    // A cell a spreadsheet would run as a formula is written as text.
    { escapeFormulae: true },
  );
}
