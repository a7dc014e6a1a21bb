// Moments as the person reading them writes dates: in the browser's language, never guessed.
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";

/** A day and time, e.g. `1/12/2026, 10:23 am` in Malaysia; `—` for none. */
export function dateTime(t: Timestamp | undefined, locale?: string): string {
  return t ? timestampDate(t).toLocaleString(locale, { dateStyle: "short", timeStyle: "short" }) : "—";
}

/** A day, e.g. `1/12/2026`; `—` for none. */
export function day(t: Timestamp | undefined, locale?: string): string {
  return t ? timestampDate(t).toLocaleDateString(locale, { dateStyle: "medium" }) : "—";
}
