import { expect, it } from "vitest";
import { LeadStatus } from "./gen/crm/sales/v1/leads_pb";
import { ANY_LEAD, leadFilterOf, leadHashOf, sameLeads } from "./leadView";

it("keeps the leads' filters in the address and reads them back", () => {
  const filter = { status: LeadStatus.QUALIFIED, owner: "0190a0b2-7c1d-7000-8000-000000000001", words: "batik tulis" };
  const hash = leadHashOf(filter);
  expect(hash).toBe("#pipeline?status=qualified&owner=0190a0b2-7c1d-7000-8000-000000000001&q=batik+tulis");
  expect(leadFilterOf(hash)).toEqual(filter);
  expect(leadHashOf(ANY_LEAD)).toBe("#pipeline");
});

it("reads a wrong or empty address as every lead", () => {
  expect(leadFilterOf("#pipeline")).toBe(ANY_LEAD);
  expect(leadFilterOf("#pipeline?status=won&x=1")).toBe(ANY_LEAD);
  expect(leadFilterOf("#pipeline?status=new").status).toBe(LeadStatus.NEW);
  // Words typed with spaces around them narrow the same way.
  expect(sameLeads({ ...ANY_LEAD, words: " kain " }, { ...ANY_LEAD, words: "kain" })).toBe(true);
});
