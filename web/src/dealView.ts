// How the list of opportunities is shown (order, status, owner, words, page size), kept in the
// address after the screen's name (`#deals?status=open&sort=amount-desc&size=50`) so a reload, a
// link or a saved view opens the same list.
import { OpportunityStatus } from "./gen/crm/sales/v1/opportunities_pb";

/** A column the list can be ordered by. */
export type DealColumn = "created" | "updated" | "amount" | "close";
/** An order: a column, smallest (or soonest) first, or with `-desc` the other way. */
export type DealSort = DealColumn | `${DealColumn}-desc`;
export type DealView = {
  sort: DealSort;
  status: "" | "open" | "won" | "lost";
  /** A user id, or "" for anyone's. */
  owner: string;
  words: string;
  size: number;
};

const COLUMNS: DealColumn[] = ["created", "updated", "amount", "close"];
const SORTS: DealSort[] = COLUMNS.flatMap((c) => [c, `${c}-desc` as DealSort]);
export const DEAL_SIZES = [25, 50, 100];
export const DEFAULT_DEALS: DealView = { sort: "updated-desc", status: "open", owner: "", words: "", size: 25 };

/** What ListOpportunities calls each column (`order_by`). */
const FIELDS: Record<DealColumn, string> = {
  created: "create_time",
  updated: "update_time",
  amount: "amount",
  close: "expected_close_time",
};
/** The order a first click on a column's heading asks for: the biggest and latest first, the soonest close first. */
const FIRST: Record<DealColumn, DealSort> = {
  created: "created-desc",
  updated: "updated-desc",
  amount: "amount-desc",
  close: "close",
};

const STATUS = { open: OpportunityStatus.OPEN, won: OpportunityStatus.WON, lost: OpportunityStatus.LOST } as const;

/** The view an address names; what it does not say (or says wrongly) is the default. */
export function dealViewOf(hash: string): DealView {
  const p = new URLSearchParams(hash.includes("?") ? hash.slice(hash.indexOf("?") + 1) : "");
  const sort = p.get("sort") as DealSort | null;
  const status = p.get("status");
  const size = Number(p.get("size"));
  return {
    sort: sort !== null && SORTS.includes(sort) ? sort : DEFAULT_DEALS.sort,
    // "any" says every status, where saying nothing is the default (open ones).
    status: status === "any" ? "" : status === "open" || status === "won" || status === "lost" ? status : DEFAULT_DEALS.status,
    owner: (p.get("owner") ?? "").slice(0, 64),
    words: (p.get("q") ?? "").slice(0, 200),
    size: DEAL_SIZES.includes(size) ? size : DEFAULT_DEALS.size,
  };
}

/** The address of the list shown this way: only what differs from the default. */
export function dealHashOf(view: DealView): string {
  const p = new URLSearchParams();
  if (view.sort !== DEFAULT_DEALS.sort) p.set("sort", view.sort);
  if (view.status !== DEFAULT_DEALS.status) p.set("status", view.status || "any");
  if (view.owner) p.set("owner", view.owner);
  if (view.words.trim()) p.set("q", view.words.trim());
  if (view.size !== DEFAULT_DEALS.size) p.set("size", String(view.size));
  const query = p.toString();
  return query ? `#deals?${query}` : "#deals";
}

/** Whether the view narrows the list beyond the default. */
export const narrowedDeals = (view: DealView) => view.status !== DEFAULT_DEALS.status || !!view.owner || !!view.words.trim();

/** ListOpportunities' request for the view (without a page token). */
export function dealRequest(view: DealView) {
  const [column, desc] = view.sort.split("-") as [DealColumn, string | undefined];
  return {
    orderBy: desc ? `${FIELDS[column]} desc` : FIELDS[column],
    status: view.status ? STATUS[view.status] : OpportunityStatus.UNSPECIFIED,
    ownerId: view.owner,
    query: view.words.trim(),
    pageSize: view.size,
  };
}

/** How a column orders the list now (for `aria-sort`), and the order a click on its heading asks for. */
export function dealColumnSort(column: DealColumn, sort: DealSort): { now: "ascending" | "descending" | "none"; next: DealSort } {
  if (sort === column) return { now: "ascending", next: `${column}-desc` };
  if (sort === `${column}-desc`) return { now: "descending", next: column };
  return { now: "none", next: FIRST[column] };
}
