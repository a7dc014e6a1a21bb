import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import en from "./locales/en.json";
import ms from "./locales/ms.json";
import { chooseLanguage, languageOf, locale, setLanguage, t } from "./i18n";
import { dateTime } from "./dates";
import { formatMoney } from "./money";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";

/** Every message the console's code says: the English of each `t("…")` and `msg("…")`. */
function messages(dir = join(__dirname)): Set<string> {
  const found = new Set<string>();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === "gen" || name === "locales") continue;
    if (statSync(path).isDirectory()) {
      for (const m of messages(path)) found.add(m);
    } else if (/\.tsx?$/.test(name) && !name.endsWith(".test.ts")) {
      for (const [, literal] of readFileSync(path, "utf8").matchAll(/\b(?:t|msg)\(("(?:[^"\\]|\\.)*")/g)) found.add(JSON.parse(literal));
    }
  }
  return found;
}

/** The console's own source files, each with its text. */
function sources(dir = join(__dirname)): [string, string][] {
  return readdirSync(dir).flatMap((name): [string, string][] => {
    const path = join(dir, name);
    if (name === "gen" || name === "locales") return [];
    if (statSync(path).isDirectory()) return sources(path);
    return /\.tsx$/.test(name) ? [[path, readFileSync(path, "utf8")]] : [];
  });
}

test("no text a person reads is left out of t()", () => {
  // Text between tags, and the attributes shown or read aloud, written as plain strings.
  // The product's name and the keys' own names (as printed on the keyboard) stay as they are.
  const kept = new Set(["Kilang CRM", "g", "Bahasa / Language", "Ctrl K", "Ctrl", "K"]);
  const left: string[] = [];
  for (const [path, text] of sources()) {
    for (const [, between] of text.matchAll(/>\s*([A-Za-z][^<>{}=]*?)\s*</g)) {
      // TypeScript's own angle brackets (`Promise<void>`, `Record<…>`, `&& (<div>`) are not text.
      if (/(Promise|Record|render\(|&& \(|;)/.test(between) || kept.has(between)) continue;
      left.push(`${path}: ${between}`);
    }
    for (const [, , value] of text.matchAll(/\s(aria-label|title|placeholder|alt|label|anyone|mine|empty|hint)="([^"]*[A-Za-z][^"]*)"/g)) {
      if (!kept.has(value)) left.push(`${path}: ${value}`);
    }
  }
  expect(left).toEqual([]);
});

const placeholders = (text: string) => [...text.matchAll(/\{\{\s*(\w+)[^}]*\}\}/g)].map((m) => m[1]).sort();
const counted = (key: string) => placeholders(key).includes("count");
const malay = ms as Record<string, string>;
const english = en as Record<string, string>;

test("every message has its Malay, and Malay has nothing the console no longer says", () => {
  const said = messages();
  expect(said.size).toBeGreaterThan(500);
  const missing = [...said].filter((k) => !(counted(k) ? `${k}_other` in malay : k in malay));
  expect(missing).toEqual([]);
  const stale = Object.keys(malay).filter((k) => !said.has(k.replace(/_other$/, "")));
  expect(stale).toEqual([]);
});

test("each Malay message fills in the same values as its English", () => {
  for (const [key, text] of Object.entries(malay)) {
    expect(placeholders(text), key).toEqual(placeholders(key.replace(/_other$/, "")));
  }
  for (const [key, text] of Object.entries(english)) {
    expect(placeholders(text), key).toEqual(placeholders(key.replace(/_(one|other)$/, "")).filter((p) => key.endsWith("_other") || p !== "count" || text.includes("count")));
  }
});

test("a counted message has both English forms", () => {
  for (const key of [...messages()].filter(counted)) {
    expect(english[`${key}_one`], key).toBeTruthy();
    expect(english[`${key}_other`], key).toBeTruthy();
  }
});

test("the language is the person's, else the workspace's, else the browser's, else English", () => {
  expect(chooseLanguage("en-MY", "ms-MY", ["ms"])).toBe("en");
  expect(chooseLanguage("", "ms-MY", ["en-US"])).toBe("ms");
  expect(chooseLanguage(undefined, "", ["fr-FR", "ms-MY", "en"])).toBe("ms");
  expect(chooseLanguage(undefined, "ja-JP", ["fr-FR"])).toBe("en");
  expect(languageOf("zsm")).toBe("ms");
  expect(languageOf("EN_gb")).toBe("en");
  expect(languageOf("id-ID")).toBeUndefined();
});

test("messages, counts, dates and amounts in Malay and in English", async () => {
  await setLanguage("ms");
  expect(t("Sign out")).toBe("Log keluar");
  expect(t("{{count}} customers", { count: 20960 })).toBe("20,960 pelanggan");
  expect(t("Go to {{screen}}", { screen: t("Customers") })).toBe("Pergi ke Pelanggan");
  expect(locale()).toBe("ms-MY");
  const moment = timestampFromDate(new Date(2026, 11, 1, 22, 5));
  expect(dateTime(moment)).toBe("1/12/26, 10:05 PTG");
  expect(formatMoney({ $typeName: "google.type.Money", currencyCode: "MYR", units: 25000n, nanos: 500_000_000 })).toBe("MYR 25,000.50");
  await setLanguage("en");
  expect(t("Sign out")).toBe("Sign out");
  expect(t("{{count}} customers", { count: 1 })).toBe("1 customer");
  expect(t("{{count}} customers", { count: 20960 })).toBe("20,960 customers");
  expect(dateTime(moment)).toBe("01/12/2026, 10:05 pm");
});
