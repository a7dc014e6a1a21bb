import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import { CustomFieldSchema, CustomFieldType } from "./gen/crm/customer/v1/custom_fields_pb";
import { filterable, jsonWith, keyOf, shown, textOf, typedOf } from "./customFields";

const field = (key: string, type: CustomFieldType, options: string[] = []) => create(CustomFieldSchema, { key, label: key, type, options });
const text = (s: string): Value => create(ValueSchema, { kind: { case: "stringValue", value: s } });
const num = (n: number): Value => create(ValueSchema, { kind: { case: "numberValue", value: n } });
const yes = (b: boolean): Value => create(ValueSchema, { kind: { case: "boolValue", value: b } });

const fields = [field("motif", CustomFieldType.CHOICE, ["parang", "geometri"]), field("size", CustomFieldType.NUMBER), field("vip", CustomFieldType.BOOL), field("since", CustomFieldType.DATE)];

describe("custom fields in the console", () => {
  it("shows each value as its input's text", () => {
    expect(typedOf(fields, { motif: text("parang"), size: num(12.5), vip: yes(false) })).toEqual({ motif: "parang", size: "12.5", vip: "false", since: "" });
    expect(textOf(undefined)).toBe("");
    expect(shown(text("parang"))).toBe("parang");
  });

  it("sends nothing when nothing typed changed", () => {
    const stored = { motif: text("parang"), legacy: text("kept") };
    expect(jsonWith(fields, stored, typedOf(fields, stored))).toBeUndefined();
  });

  it("sends every value with the typed ones applied, a number as a number, the undefined keys kept", () => {
    const stored = { motif: text("parang"), size: num(3), legacy: text("kept") };
    const typed = { ...typedOf(fields, stored), size: "12,5", vip: "true", motif: "" };
    expect(jsonWith(fields, stored, typed)).toEqual({ size: 12.5, vip: true, legacy: "kept" });
    // A number that is not one goes as typed, for the CRM to refuse by name.
    expect(jsonWith(fields, {}, { size: "banyak" })).toEqual({ size: "banyak" });
  });

  it("suggests a key from a label and filters by choices and yes-or-no", () => {
    expect(keyOf("Preferred motif")).toBe("preferred_motif");
    expect(keyOf("2nd Café número")).toBe("nd_cafe_numero");
    expect(filterable(fields).map((f) => f.key)).toEqual(["motif", "vip"]);
  });
});
