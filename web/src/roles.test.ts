import { describe, expect, it } from "vitest";
import { byArea, roleId, roleName } from "./roles";

describe("roles in words", () => {
  it("names the built-in roles and a custom one", () => {
    expect(roleName("sales_manager")).toBe("Sales manager");
    expect(roleName("admin")).toBe("Administrator");
    expect(roleName("key_accounts_east")).toBe("Key accounts east");
  });

  it("makes the id a custom role is kept under from its name", () => {
    expect(roleId("Key accounts (east)")).toBe("key_accounts_east");
    expect(roleId("  Pengurus Kedai ")).toBe("pengurus_kedai");
    expect(roleName(roleId("Pengurus kedai"))).toBe("Pengurus kedai");
  });

  it("groups permissions by area in name order", () => {
    const p = (name: string) => ({ name, description: name }) as never;
    const grouped = byArea([p("leads.write"), p("customers.read"), p("customers.delete")]);
    expect(grouped.map(([a, ps]) => [a, ps.map((x: { name: string }) => x.name)])).toEqual([
      ["Customers", ["customers.delete", "customers.read"]],
      ["Leads", ["leads.write"]],
    ]);
  });
});
