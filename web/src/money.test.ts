import { expect, it } from "vitest";
import { formatMoney, parseAmount } from "./money";

it("reads amounts as people write them, exactly", () => {
  expect(parseAmount("25,000.5", "MYR")).toEqual({ currencyCode: "MYR", units: 25000n, nanos: 500_000_000 });
  expect(parseAmount("12", "MYR")).toEqual({ currencyCode: "MYR", units: 12n, nanos: 0 });
  for (const bad of ["", "-5", "1.234", "abc", "1e6"]) expect(parseAmount(bad, "MYR")).toBeUndefined();
});

it("shows money with its currency", () => {
  expect(formatMoney({ currencyCode: "MYR", units: 25000n, nanos: 500_000_000 } as never)).toBe("MYR 25,000.50");
  expect(formatMoney(undefined)).toBe("");
});
