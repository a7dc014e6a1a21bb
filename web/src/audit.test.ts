import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { AuditEventKind, AuditEventSchema } from "./gen/crm/iam/v1/audit_pb";
import { KINDS, detailsText, kindText, targetText } from "./audit";

const entry = (targetType: string, targetId: string, details: Record<string, string> = {}) =>
  create(AuditEventSchema, { kind: AuditEventKind.ROLE_GRANTED, targetType, targetId, details });
const names: Record<string, string> = { u1: "Siti Aminah", u2: "Ali bin Hassan" };
const nameOf = (id: string) => names[id];

describe("the audit log in words", () => {
  it("names every kind the CRM records, once", () => {
    const kinds = Object.values(AuditEventKind).filter((k): k is AuditEventKind => typeof k === "number" && k !== 0);
    expect(KINDS.map(([k]) => k).sort()).toEqual([...kinds].sort());
    expect(new Set(KINDS.map(([, words]) => words)).size).toBe(KINDS.length);
    expect(kindText(AuditEventKind.ROLE_GRANTED)).toBe("Role given");
  });

  it("says whom or what an entry acted on", () => {
    expect(targetText(entry("user", "u2"), nameOf)).toBe("Ali bin Hassan");
    expect(targetText(entry("user", "gone"), nameOf)).toBe("someone no longer here");
    expect(targetText(entry("session", "f1", { user_id: "u1" }), nameOf)).toBe("Siti Aminah");
    expect(targetText(entry("role", "r1", { name: "key_accounts" }), nameOf)).toBe("the Key accounts role");
    expect(targetText(entry("api_key", "k1", { name: "Shopify sync" }), nameOf)).toBe("the key Shopify sync");
    expect(targetText(entry("api_key", "k1", { prefix: "crm_ab12" }), nameOf)).toBe("the key crm_ab12…");
    expect(targetText(entry("tenant", "t1"), nameOf)).toBe("the workspace");
    expect(targetText(entry("account", "farah@example.my"), nameOf)).toBe("farah@example.my");
    expect(targetText(entry("", ""), nameOf)).toBe("");
  });

  it("lists the facts that say more than the kind", () => {
    expect(detailsText(entry("user", "u2", { role: "sales_manager" }))).toBe("role Sales manager");
    expect(detailsText(entry("user", "u2", { roles: "sales_rep,viewer", via: "sso" }))).toBe("roles Sales rep, Viewer · by sso");
    expect(detailsText(entry("user", "u2", { fields: "display_name,status" }))).toBe("changed display name, status");
    expect(detailsText(entry("user", "u2"))).toBe("");
  });
});
