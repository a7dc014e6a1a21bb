// Countries as people pick them: by name in the reader's language, kept as ISO 3166-1 alpha-2.
import { locale as shownLocale } from "./i18n";

/** Every assigned ISO 3166-1 alpha-2 code (the CRM accepts exactly these). */
const CODES =
  "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW".split(" ");

/**
 * The code a cell names: `MY`, `my`, or a country's name in English or Malay (`Malaysia`,
 * `Jepun`), any case; none when it names no country.
 */
export function countryCode(text: string): string | undefined {
  const t = text.trim();
  if (/^[A-Za-z]{2}$/.test(t) && CODES.includes(t.toUpperCase())) return t.toUpperCase();
  const wanted = t.toLocaleLowerCase();
  for (const locale of ["en", "ms"]) {
    const names = new Intl.DisplayNames([locale], { type: "region" });
    const found = CODES.find((c) => names.of(c)?.toLocaleLowerCase() === wanted);
    if (found) return found;
  }
  return undefined;
}

/** The countries a shop here deals with most, offered first. */
const NEAR = ["MY", "SG", "BN", "ID", "TH"];

/**
 * Every country as `[code, name]` for a picker: the nearest first, then the rest by name, named in
 * `locale` (the console's when none).
 */
export function countries(locale: string = shownLocale()): [string, string][] {
  const known = listed.get(locale);
  if (known) return known;
  const names = new Intl.DisplayNames([locale], { type: "region" });
  const named = (code: string): [string, string] => [code, names.of(code) ?? code];
  const rest = CODES.filter((c) => !NEAR.includes(c))
    .map(named)
    .sort((a, b) => a[1].localeCompare(b[1], locale));
  const all = [...NEAR.map(named), ...rest];
  listed.set(locale, all);
  return all;
}

/** The pickers' lists made so far, by locale (each is sorted once). */
const listed = new Map<string, [string, string][]>();
