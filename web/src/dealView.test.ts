import { describe, expect, it } from "vitest";
import { OpportunityStatus } from "./gen/crm/sales/v1/opportunities_pb";
import { DEFAULT_DEALS, dealColumnSort, dealHashOf, dealRequest, dealViewOf, narrowedDeals } from "./dealView";

describe("the opportunity list's view in the address", () => {
  it("is the default for a bare address, and writes only what differs", () => {
    expect(dealViewOf("#deals")).toEqual(DEFAULT_DEALS);
    expect(dealHashOf(DEFAULT_DEALS)).toBe("#deals");
    const view = { ...DEFAULT_DEALS, sort: "amount-desc" as const, status: "won" as const, words: "sarong", size: 50 };
    expect(dealHashOf(view)).toBe("#deals?sort=amount-desc&status=won&q=sarong&size=50");
    expect(dealViewOf(dealHashOf(view))).toEqual(view);
  });

  it("says every status as any, since saying nothing is the open ones", () => {
    const every = { ...DEFAULT_DEALS, status: "" as const };
    expect(dealHashOf(every)).toBe("#deals?status=any");
    expect(dealViewOf("#deals?status=any")).toEqual(every);
    expect(narrowedDeals(every)).toBe(true);
    expect(narrowedDeals(DEFAULT_DEALS)).toBe(false);
  });

  it("reads a bad or foreign address as the default, part by part", () => {
    expect(dealViewOf("#deals?sort=name&status=maybe&size=7&owner=u1")).toEqual({ ...DEFAULT_DEALS, owner: "u1" });
    expect(dealViewOf("#deals?sort=close-desc-desc").sort).toBe(DEFAULT_DEALS.sort);
  });

  it("asks ListOpportunities for it, in the CRM's names for the order", () => {
    expect(dealRequest(DEFAULT_DEALS)).toEqual({ orderBy: "update_time desc", status: OpportunityStatus.OPEN, ownerId: "", query: "", pageSize: 25 });
    expect(dealRequest({ ...DEFAULT_DEALS, sort: "close", status: "" }).orderBy).toBe("expected_close_time");
    expect(dealRequest({ ...DEFAULT_DEALS, sort: "created-desc", status: "lost" })).toMatchObject({ orderBy: "create_time desc", status: OpportunityStatus.LOST });
    expect(dealRequest({ ...DEFAULT_DEALS, sort: "amount", words: " kain " })).toMatchObject({ orderBy: "amount", query: "kain" });
  });

  it("orders by a column's heading: the biggest and latest first, the soonest close first, then the other way", () => {
    expect(dealColumnSort("amount", "updated-desc")).toEqual({ now: "none", next: "amount-desc" });
    expect(dealColumnSort("amount", "amount-desc")).toEqual({ now: "descending", next: "amount" });
    expect(dealColumnSort("amount", "amount")).toEqual({ now: "ascending", next: "amount-desc" });
    expect(dealColumnSort("close", "updated-desc")).toEqual({ now: "none", next: "close" });
    expect(dealColumnSort("updated", "updated-desc")).toEqual({ now: "descending", next: "updated" });
  });
});
