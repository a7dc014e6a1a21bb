import { expect, it } from "vitest";
import { amountText, formatMoney, parseAmount, percentage, sumMoney, wholeNumber } from "./money";

it("reads amounts as people write them, exactly", () => {
  expect(parseAmount("25,000.5", "MYR")).toEqual({ currencyCode: "MYR", units: 25000n, nanos: 500_000_000 });
  expect(parseAmount("12", "MYR")).toEqual({ currencyCode: "MYR", units: 12n, nanos: 0 });
  for (const bad of ["", "-5", "1.234", "abc", "1e6"]) expect(parseAmount(bad, "MYR")).toBeUndefined();
});

it("shows money with its currency", () => {
  expect(formatMoney({ currencyCode: "MYR", units: 25000n, nanos: 500_000_000 } as never)).toBe("MYR 25,000.50");
  expect(formatMoney(undefined)).toBe("");
});

it("shows an amount alone for editing, as it reads back", () => {
  const m = parseAmount("27,500.5", "MYR")!;
  expect(amountText(m as never)).toBe("27,500.50");
  expect(parseAmount(amountText(m as never), "MYR")).toEqual(m);
  expect(amountText(undefined)).toBe("");
});

it("reads whole numbers and percentages typed into fields", () => {
  expect(wholeNumber(" 12 ")).toBe(12);
  expect(wholeNumber("1.5")).toBeUndefined();
  expect(wholeNumber("-3")).toBeUndefined();
  expect(percentage("100")).toBe(100);
  expect(percentage("0")).toBe(0);
  expect(percentage("101")).toBeUndefined();
  expect(percentage("ten")).toBeUndefined();
});

it("adds amounts exactly, one total per currency", () => {
  const m = (text: string, currency = "MYR") => parseAmount(text, currency) as never;
  // 0.1 + 0.2 in floating point is 0.30000000000000004; in billionths it is 0.30.
  const [total] = sumMoney([m("0.10"), m("0.20"), undefined, m("1,000,000.75")]);
  expect(formatMoney(total)).toBe("MYR 1,000,001.05");
  expect(total.units).toBe(1_000_001n);
  expect(total.nanos).toBe(50_000_000);
  expect(sumMoney([m("5", "MYR"), m("3", "SGD"), m("2", "MYR")]).map(formatMoney)).toEqual(["MYR 7.00", "SGD 3.00"]);
  expect(sumMoney([])).toEqual([]);
});
