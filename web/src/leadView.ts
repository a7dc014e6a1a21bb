// Which leads the pipeline screen lists (status, owner, words), kept in the address after the
// screen's name (`#pipeline?status=qualified&owner=<id>&q=batik`) so a reload, a link or a saved
// view opens the same list.
import { LeadStatus } from "./gen/crm/sales/v1/leads_pb";

/** Which leads are listed: by status, by owner ("" for any) and by a piece of their text. */
export type LeadFilter = { status: LeadStatus; owner: string; words: string };
export const ANY_LEAD: LeadFilter = { status: LeadStatus.UNSPECIFIED, owner: "", words: "" };

const NAMES: [LeadStatus, string][] = [
  [LeadStatus.NEW, "new"],
  [LeadStatus.CONTACTED, "contacted"],
  [LeadStatus.QUALIFIED, "qualified"],
  [LeadStatus.DISQUALIFIED, "disqualified"],
  [LeadStatus.CONVERTED, "converted"],
];

/** The leads an address names; what it does not say (or says wrongly) is every lead. */
export function leadFilterOf(hash: string): LeadFilter {
  const p = new URLSearchParams(hash.includes("?") ? hash.slice(hash.indexOf("?") + 1) : "");
  const status = NAMES.find(([, name]) => name === p.get("status"))?.[0] ?? LeadStatus.UNSPECIFIED;
  const owner = (p.get("owner") ?? "").slice(0, 64);
  const words = (p.get("q") ?? "").slice(0, 200);
  return status === LeadStatus.UNSPECIFIED && !owner && !words ? ANY_LEAD : { status, owner, words };
}

/** The address of the pipeline screen listing these leads: only what narrows them. */
export function leadHashOf(filter: LeadFilter): string {
  const p = new URLSearchParams();
  const status = NAMES.find(([s]) => s === filter.status)?.[1];
  if (status) p.set("status", status);
  if (filter.owner) p.set("owner", filter.owner);
  if (filter.words.trim()) p.set("q", filter.words.trim());
  const query = p.toString();
  return query ? `#pipeline?${query}` : "#pipeline";
}

/** Whether two filters list the same leads. */
export const sameLeads = (a: LeadFilter, b: LeadFilter) => leadHashOf(a) === leadHashOf(b);
