// CSV files of customers, as the console imports them: parsed by papaparse, each row turned into
// the customer's proto3 JSON (the columns of `crm customers import`, the common ones), sent in
// batches to the REST import (grpc-web has no client streams in browsers), and the rejected rows
// reported with their line numbers.
import Papa from "papaparse";
import { countryCode } from "./countries";

export type Row = Record<string, string>;

/** The columns read, by their names in a header (several names each, as people write them). */
const COLUMNS: Record<string, string[]> = {
  type: ["type", "kind"],
  given: ["given_name", "first_name", "given name", "first name"],
  family: ["family_name", "last_name", "family name", "last name"],
  legal: ["legal_name", "company", "business", "legal name"],
  email: ["email", "e-mail"],
  phones: ["phones", "phone", "mobile"],
  tags: ["tags", "tag"],
  notes: ["notes", "note"],
  street: ["street", "address", "street address", "address line 1"],
  city: ["city", "town", "locality"],
  state: ["state", "province", "negeri"],
  postcode: ["postcode", "postal code", "postal_code", "zip", "poskod"],
  country: ["country", "country code", "negara"],
  // A business row's contact person: the customer's first contact.
  contact: ["contact", "contact person", "contact name", "contact_name"],
  contactEmail: ["contact email", "contact_email"],
  contactPhone: ["contact phone", "contact_phone"],
  jobTitle: ["job title", "job_title", "position", "jawatan"],
};

export type Parsed = { rows: Row[]; ignored: string[] };

export function parseCsv(text: string): Parsed {
  const parsed = Papa.parse<Row>(text.trim(), { header: true, skipEmptyLines: true, transformHeader: (h) => h.trim().toLowerCase() });
  const known = new Set(Object.values(COLUMNS).flat());
  const ignored = (parsed.meta.fields ?? []).filter((f) => !known.has(f));
  return { rows: parsed.data, ignored };
}

/** A cell as read back: the `'` an export puts before a formula character (OWASP's advice
 * against CSV injection, papaparse's `escapeFormulae`) is taken off again. */
export function restored(cell: string): string {
  return /^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell;
}

function column(row: Row, key: keyof typeof COLUMNS): string {
  for (const name of COLUMNS[key]) {
    const value = row[name];
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
export function toCustomer(row: Row): Record<string, unknown> {
  const legal = column(row, "legal");
  const kind = column(row, "type").toLowerCase();
  const business = kind ? ["business", "company", "customer_type_business"].includes(kind) : legal !== "";
  const customer: Record<string, unknown> = business
    ? { type: "CUSTOMER_TYPE_BUSINESS", business: { legalName: legal } }
    : { type: "CUSTOMER_TYPE_INDIVIDUAL", individual: { givenName: column(row, "given"), familyName: column(row, "family") } };
  const email = column(row, "email");
  if (email) customer.email = email;
  const phones = list(column(row, "phones"));
  if (phones.length) customer.phones = phones.map((e164Number) => ({ e164Number }));
  const tags = list(column(row, "tags"));
  if (tags.length) customer.tags = tags;
  const notes = column(row, "notes");
  if (notes) customer.notes = notes;
  const [street, city, state, postcode, country] = (["street", "city", "state", "postcode", "country"] as const).map((k) => column(row, k));
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
  const contact = column(row, "contact");
  if (business && contact) {
    const email = column(row, "contactEmail");
    const phone = column(row, "contactPhone");
    // A name is kept whole ("Rahim bin Ismail" has no family name to split off).
    customer.contacts = [
      {
        givenName: contact,
        jobTitle: column(row, "jobTitle"),
        emails: email ? [{ address: email, kind: "EMAIL_KIND_WORK", primary: true }] : [],
        phones: phone ? [{ e164Number: phone, primary: true }] : [],
        primary: true,
      },
    ];
  }
  return customer;
}

/** The NDJSON body of one import request: the options, then a customer a line. */
export function importBody(rows: Row[], requestId: string): string {
  const lines = [JSON.stringify({ options: { duplicatePolicy: "DUPLICATE_POLICY_SKIP", requestId } })];
  for (const row of rows) lines.push(JSON.stringify({ customer: toCustomer(row) }));
  return lines.join("\n") + "\n";
}

export type Rejected = { line: number; email: string; problems: string; row: Row };

export type Report = { received: number; created: number; skipped: number; failed: number; rejected: Rejected[]; warned: Rejected[] };

type Answer = {
  receivedCount?: string;
  createdCount?: string;
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

/** Customers as a CSV file with the columns the import reads back. */
export function customersCsv(customers: {
  type: number;
  displayName: string;
  email: string;
  individual?: { givenName: string; familyName: string };
  business?: { legalName: string };
  phones: { e164Number: string }[];
  tags: string[];
  notes: string;
}[]): string {
  return Papa.unparse(
    {
      fields: ["type", "display_name", "first_name", "last_name", "company", "email", "phones", "tags", "notes"],
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
      ]),
    },
    // A cell a spreadsheet would run as a formula is written as text.
    { escapeFormulae: true },
  );
}
