// google.type.Money in the console: shown as "MYR 25,000.00", read from what people type.
import type { Money } from "./gen/google/type/money_pb";

export function formatMoney(money: Money | undefined): string {
  if (!money) return "";
  const value = Number(money.units) + money.nanos / 1e9;
  return `${money.currencyCode} ${value.toLocaleString("en-MY", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** "25,000.50" → units 25000, nanos 500000000; `undefined` when it is not an amount. */
export function parseAmount(text: string, currencyCode: string): { currencyCode: string; units: bigint; nanos: number } | undefined {
  const clean = text.replace(/[,\s]/g, "");
  if (!/^\d+(\.\d{1,2})?$/.test(clean)) return undefined;
  const [whole, fraction = ""] = clean.split(".");
  return { currencyCode, units: BigInt(whole), nanos: Number(fraction.padEnd(9, "0")) };
}
