import { describe, expect, it } from "vitest";
import { CustomerStatus, CustomerType } from "./gen/crm/customer/v1/customers_pb";
import { DEFAULT_VIEW, columnSort, hashOf, listRequest, narrowed, viewOf } from "./customerView";

describe("the customer list's view in the address", () => {
  it("is the default for a bare address, and writes only what differs", () => {
    expect(viewOf("#customers")).toEqual(DEFAULT_VIEW);
    expect(hashOf(DEFAULT_VIEW)).toBe("#customers");
    const view = { ...DEFAULT_VIEW, sort: "name" as const, kind: "business" as const, tag: "songket", size: 50 };
    expect(hashOf(view)).toBe("#customers?sort=name&kind=business&tag=songket&size=50");
    expect(viewOf(hashOf(view))).toEqual(view);
  });

  it("reads a bad or foreign address as the default, part by part", () => {
    expect(viewOf("#customers?sort=price&kind=alien&size=7&status=active")).toEqual({ ...DEFAULT_VIEW, status: "active" });
    expect(viewOf("#customers?tag=a%26b")).toEqual({ ...DEFAULT_VIEW, tag: "a&b" });
  });

  it("keeps custom field filters as f.<key>, sorted, and asks for them as key=value", () => {
    const view = { ...DEFAULT_VIEW, fields: { motif: "bunga tanjung", grade: "A" } };
    expect(hashOf(view)).toBe("#customers?f.grade=A&f.motif=bunga+tanjung");
    expect(viewOf(hashOf(view))).toEqual(view);
    expect(listRequest(view).customFields).toEqual(["motif=bunga tanjung", "grade=A"]);
    expect(narrowed(view)).toBe(true);
    expect(viewOf("#customers?f.Bad=1&f.=2&f.ok=&f.x1=y").fields).toEqual({ x1: "y" });
    const many = "#customers?" + [1, 2, 3, 4, 5, 6, 7].map((n) => `f.k${n}=v`).join("&");
    expect(Object.keys(viewOf(many).fields)).toHaveLength(5);
  });

  it("asks ListCustomers for it", () => {
    expect(listRequest(DEFAULT_VIEW)).toEqual({
      orderBy: "create_time desc",
      type: CustomerType.UNSPECIFIED,
      status: CustomerStatus.UNSPECIFIED,
      ownerId: "",
      tags: [],
      pageSize: 25,
      customFields: [],
    });
    const r = listRequest({ ...DEFAULT_VIEW, sort: "name", kind: "person", status: "inactive", owner: "u1", tag: " batik ", size: 100 });
    expect(r).toEqual({ orderBy: "display_name", type: CustomerType.INDIVIDUAL, status: CustomerStatus.INACTIVE, ownerId: "u1", tags: ["batik"], pageSize: 100, customFields: [] });
    expect(narrowed(DEFAULT_VIEW)).toBe(false);
    expect(narrowed({ ...DEFAULT_VIEW, sort: "name", size: 50 })).toBe(false);
    expect(narrowed({ ...DEFAULT_VIEW, tag: "x" })).toBe(true);
  });

  it("orders by a column's heading: its order, then the other way", () => {
    expect(columnSort("name", "newest")).toEqual({ now: "none", next: "name" });
    expect(columnSort("name", "name")).toEqual({ now: "ascending", next: "name-desc" });
    expect(columnSort("name", "name-desc")).toEqual({ now: "descending", next: "name" });
    expect(columnSort("added", "newest")).toEqual({ now: "descending", next: "oldest" });
    expect(columnSort("added", "oldest")).toEqual({ now: "ascending", next: "newest" });
    expect(columnSort("added", "name")).toEqual({ now: "none", next: "newest" });
    const zToA = { ...DEFAULT_VIEW, sort: "name-desc" as const };
    expect(viewOf(hashOf(zToA))).toEqual(zToA);
    expect(listRequest(zToA).orderBy).toBe("display_name desc");
  });
});
