// How the customer list is shown (order, filters, page size), kept in the address after the
// screen's name (`#customers?sort=name&kind=business&size=50`) so a reload, a bookmark or a link
// sent to a colleague opens the same list.
import { CustomerStatus, CustomerType } from "./gen/crm/customer/v1/customers_pb";
import { msg } from "./i18n";

export type Sort = "newest" | "oldest" | "name" | "name-desc";
export type CustomerView = {
  sort: Sort;
  kind: "" | "business" | "person";
  status: "" | "prospect" | "active" | "inactive";
  /** A user id, or "" for anyone's. */
  owner: string;
  tag: string;
  size: number;
  /** Custom fields' values asked for (`f.<key>=<value>` in the address), at most five. */
  fields: Record<string, string>;
};

export const SORTS: [Sort, string][] = [
  ["newest", msg("Newest first")],
  ["oldest", msg("Oldest first")],
  ["name", msg("Name, A to Z")],
  ["name-desc", msg("Name, Z to A")],
];
export const SIZES = [25, 50, 100];
export const DEFAULT_VIEW: CustomerView = { sort: "newest", kind: "", status: "", owner: "", tag: "", size: 25, fields: {} };
/** The most custom field filters a list takes (the CRM's bound). */
const MAX_FIELDS = 5;
const FIELD_KEY = /^[a-z][a-z0-9_]{0,63}$/;

const ORDER_BY: Record<Sort, string> = { newest: "create_time desc", oldest: "create_time", name: "display_name", "name-desc": "display_name desc" };

/** A column the list can be ordered by: how it is ordered now (for `aria-sort`), and the order a click on its heading asks for. */
export function columnSort(column: "name" | "added", sort: Sort): { now: "ascending" | "descending" | "none"; next: Sort } {
  if (column === "name") {
    return { now: sort === "name" ? "ascending" : sort === "name-desc" ? "descending" : "none", next: sort === "name" ? "name-desc" : "name" };
  }
  return { now: sort === "oldest" ? "ascending" : sort === "newest" ? "descending" : "none", next: sort === "newest" ? "oldest" : "newest" };
}
const TYPES = { business: CustomerType.BUSINESS, person: CustomerType.INDIVIDUAL } as const;
const STATUS = { prospect: CustomerStatus.PROSPECT, active: CustomerStatus.ACTIVE, inactive: CustomerStatus.INACTIVE } as const;

/** The view an address names; what it does not say (or says wrongly) is the default. */
export function viewOf(hash: string): CustomerView {
  const query = hash.includes("?") ? hash.slice(hash.indexOf("?") + 1) : "";
  const p = new URLSearchParams(query);
  const one = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const v = p.get(key) as T | null;
    return v !== null && allowed.includes(v) ? v : fallback;
  };
  const size = Number(p.get("size"));
  return {
    sort: one("sort", SORTS.map(([s]) => s), DEFAULT_VIEW.sort),
    kind: one("kind", ["business", "person"] as const, ""),
    status: one("status", ["prospect", "active", "inactive"] as const, ""),
    owner: (p.get("owner") ?? "").slice(0, 64),
    tag: (p.get("tag") ?? "").slice(0, 64),
    size: SIZES.includes(size) ? size : DEFAULT_VIEW.size,
    fields: Object.fromEntries(
      [...p.entries()]
        .filter(([k, v]) => k.startsWith("f.") && FIELD_KEY.test(k.slice(2)) && v !== "")
        .slice(0, MAX_FIELDS)
        .map(([k, v]) => [k.slice(2), v.slice(0, 1024)]),
    ),
  };
}

/** The address of the customer list shown this way: only what differs from the default. */
export function hashOf(view: CustomerView): string {
  const p = new URLSearchParams();
  for (const key of ["sort", "kind", "status", "owner", "tag", "size"] as const) {
    if (view[key] !== DEFAULT_VIEW[key]) p.set(key, String(view[key]));
  }
  for (const key of Object.keys(view.fields).sort()) {
    if (view.fields[key]) p.set(`f.${key}`, view.fields[key]!);
  }
  const query = p.toString();
  return query ? `#customers?${query}` : "#customers";
}

/** What ListCustomers is asked for this view. */
export function listRequest(view: CustomerView) {
  return {
    orderBy: ORDER_BY[view.sort],
    type: view.kind ? TYPES[view.kind] : CustomerType.UNSPECIFIED,
    status: view.status ? STATUS[view.status] : CustomerStatus.UNSPECIFIED,
    ownerId: view.owner,
    tags: view.tag.trim() ? [view.tag.trim()] : [],
    pageSize: view.size,
    customFields: Object.entries(view.fields)
      .filter(([, v]) => v !== "")
      .map(([k, v]) => `${k}=${v}`),
  };
}

/** Whether the view narrows the list (anything but the order and the page size). */
export function narrowed(view: CustomerView): boolean {
  return view.kind !== "" || view.status !== "" || view.owner !== "" || view.tag.trim() !== "" || Object.values(view.fields).some((v) => v !== "");
}
