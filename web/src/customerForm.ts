// A customer as the console's form shows it (the first phone, the first address, tags as text),
// and back: the fields to send and the update mask naming only what changed.
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  AddressKind,
  PhoneKind,
  type Address,
  type AddressSchema,
  type PhoneNumber,
  type PhoneNumberSchema,
} from "./gen/crm/common/v1/contact_points_pb";
import { CustomerStatus, CustomerType, type Customer, type CustomerSchema } from "./gen/crm/customer/v1/customers_pb";
import { msg } from "./i18n";

export type CustomerForm = {
  legal: string;
  given: string;
  family: string;
  email: string;
  phone: string;
  tags: string;
  status: CustomerStatus;
  street: string;
  street2: string;
  town: string;
  state: string;
  postcode: string;
  country: string;
  notes: string;
};

/** Tags typed as `songket, wholesale`: trimmed, none empty (the service lower-cases them). */
export function tagsOf(text: string): string[] {
  return text
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t !== "");
}

export function formOf(c: Customer): CustomerForm {
  const phone = c.phones[0];
  const address = c.addresses[0];
  return {
    legal: c.business?.legalName ?? "",
    given: c.individual?.givenName ?? "",
    family: c.individual?.familyName ?? "",
    email: c.email,
    phone: phone?.e164Number ?? "",
    tags: c.tags.join(", "),
    status: c.status,
    street: address?.lines[0] ?? "",
    street2: address?.lines.slice(1).join(", ") ?? "",
    town: address?.locality ?? "",
    state: address?.administrativeArea ?? "",
    postcode: address?.postalCode ?? "",
    country: address?.regionCode ?? "",
    notes: c.notes,
  };
}

type PhoneInit = MessageInitShape<typeof PhoneNumberSchema>;
type AddressInit = MessageInitShape<typeof AddressSchema>;

/** The phones with the first one as typed (a mobile when new), the others kept; none when cleared. */
export function phonesWith(phones: PhoneNumber[], typed: string): PhoneInit[] {
  const rest: PhoneInit[] = phones.slice(1);
  if (typed.trim() === "") return rest;
  const first = phones[0];
  return [{ kind: first?.kind || PhoneKind.MOBILE, e164Number: typed.trim(), extension: first?.extension ?? "", primary: true }, ...rest];
}

/** The addresses with the first one as typed (for deliveries when new), the others kept. */
export function addressesWith(addresses: Address[], f: CustomerForm): AddressInit[] {
  const rest: AddressInit[] = addresses.slice(1);
  const lines = [f.street, f.street2].map((l) => l.trim()).filter((l) => l !== "");
  if (lines.length === 0 && [f.town, f.state, f.postcode, f.country].every((v) => v.trim() === "")) return rest;
  const first = addresses[0];
  return [
    {
      kind: first?.kind || AddressKind.SHIPPING,
      lines,
      locality: f.town.trim(),
      administrativeArea: f.state.trim(),
      postalCode: f.postcode.trim(),
      regionCode: f.country.trim(),
      primary: true,
    },
    ...rest,
  ];
}

/** The update mask's paths: only the fields whose value the form changed. */
export function changedPaths(c: Customer, f: CustomerForm): string[] {
  const was = formOf(c);
  const business = c.type === CustomerType.BUSINESS;
  const paths: string[] = [];
  if (business && f.legal !== was.legal) paths.push("business.legal_name");
  if (!business && f.given !== was.given) paths.push("individual.given_name");
  if (!business && f.family !== was.family) paths.push("individual.family_name");
  if (f.email !== was.email) paths.push("email");
  if (f.phone.trim() !== was.phone) paths.push("phones");
  if (tagsOf(f.tags).join(",") !== c.tags.join(",")) paths.push("tags");
  if (f.status !== was.status) paths.push("status");
  const address = ["street", "street2", "town", "state", "postcode", "country"] as const;
  if (address.some((k) => f[k].trim() !== was[k])) paths.push("addresses");
  if (f.notes !== was.notes) paths.push("notes");
  return paths;
}

/** The customer to send with those paths (with its id and etag). */
export function customerOf(c: Customer, f: CustomerForm): MessageInitShape<typeof CustomerSchema> {
  const business = c.type === CustomerType.BUSINESS;
  return {
    id: c.id,
    etag: c.etag,
    email: f.email,
    notes: f.notes,
    status: f.status,
    tags: tagsOf(f.tags),
    phones: phonesWith(c.phones, f.phone),
    addresses: addressesWith(c.addresses, f),
    business: business ? { legalName: f.legal } : undefined,
    individual: business ? undefined : { givenName: f.given, familyName: f.family },
  };
}

export const STATUSES: [CustomerStatus, string][] = [
  [CustomerStatus.PROSPECT, msg("Prospect")],
  [CustomerStatus.ACTIVE, msg("Active")],
  [CustomerStatus.INACTIVE, msg("Inactive")],
];
