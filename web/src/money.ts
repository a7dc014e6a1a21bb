// google.type.Money and other numbers in the console: shown as "MYR 25,000.00", read from what
// people type.
import type { Money } from "./gen/google/type/money_pb";
import { locale } from "./i18n";

export function formatMoney(money: Money | undefined): string {
  return money ? `${money.currencyCode} ${amountText(money)}` : "";
}

/** The amount alone, "25,000.00", as a form shows it for editing; "" for none. */
export function amountText(money: Money | undefined): string {
  if (!money) return "";
  const value = Number(money.units) + money.nanos / 1e9;
  return value.toLocaleString(locale(), { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** A whole number typed into a field (`" 12 "` → 12); `undefined` for anything else. */
export function wholeNumber(text: string): number | undefined {
  return /^\s*\d+\s*$/.test(text) ? Number(text) : undefined;
}

/** A whole percentage from 0 to 100 typed into a field; `undefined` for anything else. */
export function percentage(text: string): number | undefined {
  const n = wholeNumber(text);
  return n !== undefined && n <= 100 ? n : undefined;
}

/** "25,000.50" → units 25000, nanos 500000000; `undefined` when it is not an amount. */
export function parseAmount(text: string, currencyCode: string): { currencyCode: string; units: bigint; nanos: number } | undefined {
  const clean = text.replace(/[,\s]/g, "");
  if (!/^\d+(\.\d{1,2})?$/.test(clean)) return undefined;
  const [whole, fraction = ""] = clean.split(".");
  return { currencyCode, units: BigInt(whole), nanos: Number(fraction.padEnd(9, "0")) };
}

/**
 * What amounts add up to, exactly (in billionths, as google.type.Money keeps them), one total per
 * currency in the order the currencies first appear; none for no amounts.
 */
export function sumMoney(amounts: (Money | undefined)[]): Money[] {
  const totals = new Map<string, bigint>();
  for (const m of amounts) {
    if (!m) continue;
    totals.set(m.currencyCode, (totals.get(m.currencyCode) ?? 0n) + m.units * 1_000_000_000n + BigInt(m.nanos));
  }
  return [...totals].map(([currencyCode, billionths]) => ({
    $typeName: "google.type.Money",
    currencyCode,
    units: billionths / 1_000_000_000n,
    nanos: Number(billionths % 1_000_000_000n),
  }));
}
