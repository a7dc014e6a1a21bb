import { expect, it } from "vitest";
import { CustomFieldType } from "./gen/crm/customer/v1/custom_fields_pb";
import { addAnswer, customersCsv, guessColumns, importBody, parseCsv, rejectedCsv, restored, toCustomer } from "./csv";

const file = `Company,First name,Last name,Email,Phone,Tags,Colour
Butik Seri Batik Sdn Bhd,,,orders@seribatik.my,+60312345678,wholesale; kl,blue
,Aisyah,Omar,aisyah at hotel,,,
"Kedai Kain, Pelangi",,,,,,`;

it("reads the columns people write, and names the ones it ignores", () => {
  const { rows, ignored } = parseCsv(file);
  expect(rows).toHaveLength(3);
  expect(ignored).toEqual(["colour"]);
  expect(toCustomer(rows[0])).toEqual({
    type: "CUSTOMER_TYPE_BUSINESS",
    business: { legalName: "Butik Seri Batik Sdn Bhd" },
    email: "orders@seribatik.my",
    phones: [{ e164Number: "+60312345678" }],
    tags: ["wholesale", "kl"],
  });
  expect(toCustomer(rows[1])).toEqual({
    type: "CUSTOMER_TYPE_INDIVIDUAL",
    individual: { givenName: "Aisyah", familyName: "Omar" },
    email: "aisyah at hotel",
  });
  expect(toCustomer(rows[2])).toMatchObject({ business: { legalName: "Kedai Kain, Pelangi" } });
});

it("fills the fields a person chose for each column, remembered ones first, and keeps the headers as written", () => {
  const malay = `Nama Syarikat,E-mel,Bandar,Kod Pelanggan,Pegawai
Butik Seri Batik Sdn Bhd,orders@seribatik.my,Kuala Terengganu,C-0042,Rahim bin Ismail`;
  const guessed = parseCsv(malay);
  expect(guessed.headers.map((h) => h.label)).toEqual(["Nama Syarikat", "E-mel", "Bandar", "Kod Pelanggan", "Pegawai"]);
  expect(guessed.columns).toEqual({ "nama syarikat": "legal_name", "e-mel": "email", bandar: "city", "kod pelanggan": "", pegawai: "" });
  expect(guessed.ignored).toEqual(["kod pelanggan", "pegawai"]);
  // The workspace remembers: the officer is the contact person, the code goes into the notes,
  // and a remembered "not read" wins over a guess.
  const remembered = { pegawai: "contact", "kod pelanggan": "notes", bandar: "" };
  const { rows, columns, ignored } = parseCsv(malay, remembered);
  expect(ignored).toEqual(["bandar"]);
  expect(toCustomer(rows[0], columns)).toEqual({
    type: "CUSTOMER_TYPE_BUSINESS",
    business: { legalName: "Butik Seri Batik Sdn Bhd" },
    email: "orders@seribatik.my",
    notes: "C-0042",
    contacts: [{ givenName: "Rahim bin Ismail", jobTitle: "", emails: [], phones: [], primary: true }],
  });
  // A remembered field the console no longer knows is guessed again.
  expect(guessColumns(["email"], { email: "fax" })).toEqual({ email: "email" });
});

it("sends the duplicate policy chosen, and the row through the columns chosen", () => {
  const { rows } = parseCsv(file);
  const columns = { company: "notes", email: "email" } as const;
  const lines = importBody(rows.slice(0, 1), "r2", columns, "DUPLICATE_POLICY_UPDATE").trim().split("\n").map((l) => JSON.parse(l));
  expect(lines[0]).toEqual({ options: { duplicatePolicy: "DUPLICATE_POLICY_UPDATE", requestId: "r2" } });
  expect(lines[1].customer).toEqual({
    type: "CUSTOMER_TYPE_INDIVIDUAL",
    individual: { givenName: "", familyName: "" },
    email: "orders@seribatik.my",
    notes: "Butik Seri Batik Sdn Bhd",
  });
});

it("sends the options first, then a customer a line", () => {
  const lines = importBody(parseCsv(file).rows, "r1").trim().split("\n").map((l) => JSON.parse(l));
  expect(lines[0]).toEqual({ options: { duplicatePolicy: "DUPLICATE_POLICY_SKIP", requestId: "r1" } });
  expect(lines).toHaveLength(4);
});

it("reports rejected rows by their line in the file, and writes them back out with the reasons", () => {
  const { rows } = parseCsv(file);
  const report = addAnswer(
    { received: 0, created: 0, updated: 0, skipped: 0, failed: 0, rejected: [], warned: [] },
    {
      receivedCount: "2",
      createdCount: "1",
      failedCount: "1",
      errors: [{ row: "1", email: "aisyah at hotel", fieldViolations: [{ field: "customer.email", description: "must be an email address" }] }],
      warnings: [{ row: "2", email: "farah@example.my", fieldViolations: [{ field: "customer.phones[0].e164_number", description: "not a phone number; kept in the notes as written" }] }],
    },
    rows.slice(1, 3),
    1,
  );
  expect(report).toMatchObject({ received: 2, created: 1, failed: 1 });
  expect(report.rejected[0]).toMatchObject({ line: 3, problems: "email: must be an email address" });
  expect(report.warned[0]).toMatchObject({ line: 4, email: "farah@example.my", problems: "phones[0].e164_number: not a phone number; kept in the notes as written" });
  const csv = rejectedCsv(report.rejected);
  expect(csv.split("\n")[0]).toContain("line,problems");
  expect(csv).toContain("aisyah at hotel");
});

it("exports customers as a file the import reads back", () => {
  const csv = customersCsv([
    {
      type: 2,
      displayName: "Butik Seri Batik Sdn Bhd",
      email: "orders@seribatik.my",
      business: { legalName: "Butik Seri Batik Sdn Bhd" },
      phones: [{ e164Number: "+60312345678" }],
      tags: ["wholesale", "kl"],
      notes: "pays in 30 days, \"net\"",
    },
  ]);
  const { rows, ignored } = parseCsv(csv);
  expect(ignored).toEqual(["display_name"]);
  expect(toCustomer(rows[0])).toEqual({
    type: "CUSTOMER_TYPE_BUSINESS",
    business: { legalName: "Butik Seri Batik Sdn Bhd" },
    email: "orders@seribatik.my",
    phones: [{ e164Number: "+60312345678" }],
    tags: ["wholesale", "kl"],
    notes: 'pays in 30 days, "net"',
  });
});

it("writes cells a spreadsheet would run as text, and reads its own export back unchanged", () => {
  const csv = customersCsv([
    {
      type: 2,
      displayName: "=HYPERLINK(\"http://evil.example\")",
      email: "shop@kilang.example",
      business: { legalName: "=HYPERLINK(\"http://evil.example\")" },
      phones: [{ e164Number: "+60123456789" }],
      tags: ["@risk"],
      notes: "-5 pieces",
    },
  ]);
  expect(csv).not.toMatch(/,=HYPERLINK/);
  expect(csv).toContain(`'+60123456789`);
  const [row] = parseCsv(csv).rows;
  expect(toCustomer(row)).toMatchObject({
    business: { legalName: '=HYPERLINK("http://evil.example")' },
    phones: [{ e164Number: "+60123456789" }],
    tags: ["@risk"],
    notes: "-5 pieces",
  });
  expect(restored("'quoted, not a formula")).toBe("'quoted, not a formula");
});

it("reads the address and a business's contact person, and names a country as people write it", () => {
  const { rows, ignored } = parseCsv(`Company,Email,Street,City,State,Postcode,Country,Contact person,Contact email,Contact phone,Job title
Butik Seri Batik Sdn Bhd,orders@seribatik.my,12 Jalan Tun Razak,Kuala Lumpur,WP Kuala Lumpur,50400,Malaysia,Rahim bin Ismail,rahim@seribatik.my,012-345 6789,Purchasing
Kedai Atlantis,hi@atlantis.example,,,,,Atlantis,,,,`);
  expect(ignored).toEqual([]);
  expect(toCustomer(rows[0])).toMatchObject({
    addresses: [
      { kind: "ADDRESS_KIND_SHIPPING", lines: ["12 Jalan Tun Razak"], locality: "Kuala Lumpur", administrativeArea: "WP Kuala Lumpur", postalCode: "50400", regionCode: "MY" },
    ],
    contacts: [
      {
        givenName: "Rahim bin Ismail",
        jobTitle: "Purchasing",
        emails: [{ address: "rahim@seribatik.my", kind: "EMAIL_KIND_WORK", primary: true }],
        phones: [{ e164Number: "012-345 6789", primary: true }],
        primary: true,
      },
    ],
  });
  // A name that is no country goes as written, for the CRM to refuse on that row.
  expect(toCustomer(rows[1])).toMatchObject({ addresses: [{ regionCode: "Atlantis" }] });
  expect(toCustomer(rows[1])).not.toHaveProperty("contacts");
});

it("columns fill the workspace's custom fields, guessed from their key or label, each read as its type", () => {
  const custom = [
    { key: "motif", label: "Preferred motif", type: CustomFieldType.CHOICE },
    { key: "size", label: "Order size", type: CustomFieldType.NUMBER },
    { key: "vip", label: "VIP", type: CustomFieldType.BOOL },
  ];
  const { rows, columns } = parseCsv("Company,Preferred motif,size,VIP,Gred\nKilang,parang,\"12,5\",ya,A\nKedai,,banyak,maybe,B\n", { gred: "" }, custom);
  expect(columns).toEqual({ company: "legal_name", "preferred motif": "custom.motif", size: "custom.size", vip: "custom.vip", gred: "" });
  expect(toCustomer(rows[0]!, columns, custom)).toMatchObject({ customFields: { motif: "parang", size: 12.5, vip: true } });
  // What is not of its type goes as written, for the CRM to refuse by its row.
  expect(toCustomer(rows[1]!, columns, custom)).toMatchObject({ customFields: { size: "banyak", vip: "maybe" } });
  // A remembered column fills a custom field only while the workspace defines it.
  expect(guessColumns(["gred"], { gred: "custom.grade" }, custom)).toEqual({ gred: "" });
  expect(guessColumns(["gred"], { gred: "custom.vip" }, custom)).toEqual({ gred: "custom.vip" });
});

it("a check sends the rows as a dry run, without the request id an import is retried by", () => {
  const rows = [{ company: "Kilang" }];
  const [options] = importBody(rows, "req-1", undefined, "DUPLICATE_POLICY_UPDATE", [], true).split("\n");
  expect(JSON.parse(options!)).toEqual({ options: { duplicatePolicy: "DUPLICATE_POLICY_UPDATE", dryRun: true } });
  const [real] = importBody(rows, "req-1", undefined, "DUPLICATE_POLICY_UPDATE").split("\n");
  expect(JSON.parse(real!)).toEqual({ options: { duplicatePolicy: "DUPLICATE_POLICY_UPDATE", requestId: "req-1" } });
});
