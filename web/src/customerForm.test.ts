import { create } from "@bufbuild/protobuf";
import { expect, it } from "vitest";
import { AddressKind, PhoneKind } from "./gen/crm/common/v1/contact_points_pb";
import { CustomerSchema, CustomerStatus, CustomerType } from "./gen/crm/customer/v1/customers_pb";
import { changedPaths, customerOf, formOf, tagsOf } from "./customerForm";

const stored = create(CustomerSchema, {
  id: "c-1",
  etag: "e-1",
  type: CustomerType.BUSINESS,
  business: { legalName: "Butik Seri Batik Sdn Bhd" },
  email: "orders@seribatik.my",
  status: CustomerStatus.ACTIVE,
  tags: ["wholesale"],
  phones: [
    { kind: PhoneKind.WORK, e164Number: "+60387654321", primary: true },
    { kind: PhoneKind.FAX, e164Number: "+60387654322" },
  ],
  addresses: [
    { kind: AddressKind.BILLING, lines: ["12 Jalan Batik"], locality: "Kuala Lumpur", postalCode: "50000", regionCode: "MY" },
    { kind: AddressKind.SHIPPING, lines: ["Gudang 3"], locality: "Shah Alam", regionCode: "MY" },
  ],
});

it("changes nothing until a field does", () => {
  expect(changedPaths(stored, formOf(stored))).toEqual([]);
});

it("names only the changed fields, and keeps what the form does not show", () => {
  const form = { ...formOf(stored), phone: "012-345 6789", tags: "wholesale,  songket ,", postcode: "50050" };
  expect(changedPaths(stored, form)).toEqual(["phones", "tags", "addresses"]);
  const sent = customerOf(stored, form);
  expect(sent.etag).toBe("e-1");
  expect(sent.tags).toEqual(["wholesale", "songket"]);
  // The first phone replaced (its kind kept), the fax kept.
  expect(sent.phones?.map((p) => [p.kind, p.e164Number])).toEqual([
    [PhoneKind.WORK, "012-345 6789"],
    [PhoneKind.FAX, "+60387654322"],
  ]);
  // The first address changed, the warehouse kept.
  expect(sent.addresses?.map((a) => [a.kind, a.postalCode, a.locality])).toEqual([
    [AddressKind.BILLING, "50050", "Kuala Lumpur"],
    [AddressKind.SHIPPING, "", "Shah Alam"],
  ]);
});

it("removes the first phone when it is cleared, and makes a new one a mobile", () => {
  expect(customerOf(stored, { ...formOf(stored), phone: " " }).phones?.map((p) => p.e164Number)).toEqual(["+60387654322"]);
  const bare = create(CustomerSchema, { type: CustomerType.INDIVIDUAL, individual: { givenName: "Nurul" } });
  const sent = customerOf(bare, { ...formOf(bare), phone: "+60123456789", town: "Ipoh" });
  expect(sent.phones?.[0]?.kind).toBe(PhoneKind.MOBILE);
  expect(sent.addresses?.[0]).toMatchObject({ kind: AddressKind.SHIPPING, locality: "Ipoh", lines: [] });
  expect(changedPaths(bare, { ...formOf(bare), given: "Nurul Huda" })).toEqual(["individual.given_name"]);
});

it("reads tags typed with commas", () => {
  expect(tagsOf(" songket, ,batik tulis ,")).toEqual(["songket", "batik tulis"]);
});
