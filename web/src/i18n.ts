// The console's language, Malay or English, with i18next. Messages are written in English where
// they are shown, and the English is the key (`t("Sign out")`); `locales/ms.json` holds their
// Malay, `locales/en.json` only the English forms of counted messages ("1 customer"). The
// language is the person's (their account), else the workspace's, else the browser's.
import i18next from "i18next";
import en from "./locales/en.json";

export type Language = "en" | "ms";

/** The languages offered, each named in itself. */
export const LANGUAGES: [Language, string][] = [
  ["ms", "Bahasa Melayu"],
  ["en", "English"],
];

/** Where this browser keeps the language last shown, so the sign-in screen speaks it too. */
const KEY = "kilang-crm.language";

/** The console's language for a BCP 47 tag (`ms-MY`, `en`, `zsm`…), if it speaks it. */
export function languageOf(tag: string | undefined): Language | undefined {
  const base = tag?.trim().toLowerCase().split(/[-_]/)[0];
  return base === "ms" || base === "zsm" ? "ms" : base === "en" ? "en" : undefined;
}

/** The person's language if they chose one, else the workspace's, else the browser's first
 * that the console speaks, else English. */
export function chooseLanguage(person: string | undefined, workspace: string | undefined, browser: readonly string[]): Language {
  return languageOf(person) ?? languageOf(workspace) ?? browser.map(languageOf).find((l) => l !== undefined) ?? "en";
}

/** The language to start in: this browser's last, else the browser's own. */
export function firstLanguage(): Language {
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(KEY);
  } catch {
    // Storage refused: the browser's language.
  }
  return languageOf(stored ?? undefined) ?? chooseLanguage(undefined, undefined, navigator.languages ?? []);
}

const ready = i18next.init({
  lng: "en",
  fallbackLng: false,
  // Keys are English sentences: their dots and colons are text, not paths.
  keySeparator: false,
  nsSeparator: false,
  // Preact escapes what it renders.
  interpolation: { escapeValue: false },
  resources: { en: { translation: en } },
  initAsync: false,
});

/** Shows the console in a language from now on (its messages load the first time). */
export async function setLanguage(language: Language): Promise<void> {
  await ready;
  if (!i18next.hasResourceBundle(language, "translation")) {
    const messages = language === "ms" ? (await import("./locales/ms.json")).default : en;
    i18next.addResourceBundle(language, "translation", messages);
  }
  await i18next.changeLanguage(language);
  if (typeof document !== "undefined") document.documentElement.lang = language;
  try {
    localStorage.setItem(KEY, language);
  } catch {
    // Remembered for this page only.
  }
}

/** The language shown now. */
export function language(): Language {
  return i18next.language === "ms" ? "ms" : "en";
}

/** The locale dates, numbers and amounts are written in: Malaysia's, in the language shown. */
export function locale(): string {
  return language() === "ms" ? "ms-MY" : "en-MY";
}

/** A message in the language shown; `{{name}}` in it takes `vars.name`, and `count` picks the
 * form of a counted one. */
export function t(key: string, vars?: Record<string, unknown>): string {
  return i18next.t(key, vars as never) as unknown as string;
}

/** A message named where it cannot be said yet (a table built once), said later with `t`. */
export function msg(key: string): string {
  return key;
}
