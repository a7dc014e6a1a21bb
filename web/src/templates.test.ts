import { expect, it } from "vitest";
import { eventLabel, fieldsUsed } from "./templates";

it("names an event as people say it", () => {
  expect(eventLabel("crm.sales.events.v1.DealWon")).toBe("Deal won");
  expect(eventLabel("crm.iam.events.v1.UserCreated")).toBe("User created");
});

it("lists the event's fields a template uses, once each", () => {
  expect(
    fieldsUsed(
      "New lead: {{ lead_name }}{% if lead_company %} ({{ lead_company }}){% endif %}",
      "{{ created_by_name }} added a lead from {{ lead_source or 'an unknown source' }}{%- if owner_name %}",
    ),
  ).toEqual(["lead_name", "lead_company", "created_by_name", "lead_source", "owner_name"]);
});
