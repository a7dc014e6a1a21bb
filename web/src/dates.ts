// Moments as the person reading them writes dates: in the console's language, as Malaysia writes them.
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { locale as shownLocale } from "./i18n";

/** A day and time, e.g. `1/12/2026, 10:23 am` in Malaysia; `—` for none. */
export function dateTime(t: Timestamp | undefined, locale: string = shownLocale()): string {
  return t ? timestampDate(t).toLocaleString(locale, { dateStyle: "short", timeStyle: "short" }) : "—";
}

/** A day, e.g. `1/12/2026`; `—` for none. */
export function day(t: Timestamp | undefined, locale: string = shownLocale()): string {
  return t ? timestampDate(t).toLocaleDateString(locale, { dateStyle: "medium" }) : "—";
}

/** A moment as a date input holds it, `2027-01-15`, in the reader's time zone; "" for none. */
export function dayInput(t: Timestamp | undefined): string {
  if (!t) return "";
  const d = timestampDate(t);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/**
 * The moment a date input's day means, here: its noon for a day something is planned on (the
 * same day in any time zone near), its last second for "until" and "as of"; none when empty.
 */
export function fromDayInput(day: string, at: "noon" | "end"): Timestamp | undefined {
  return day ? timestampFromDate(new Date(`${day}T${at === "noon" ? "12:00:00" : "23:59:59"}`)) : undefined;
}

/**
 * The moments a "from" and a "to" date input mean together, here: from the first day's midnight
 * to the midnight after the last day (exclusive), so the last day counts whole; none when empty.
 */
export function dayRange(from: string, to: string): { startTime?: Timestamp; endTime?: Timestamp } {
  const midnight = (day: string, after: number) => {
    const d = new Date(`${day}T00:00:00`);
    d.setDate(d.getDate() + after);
    return timestampFromDate(d);
  };
  return { startTime: from ? midnight(from, 0) : undefined, endTime: to ? midnight(to, 1) : undefined };
}
