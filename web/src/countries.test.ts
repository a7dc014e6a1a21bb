import { expect, it } from "vitest";
import { countries, countryCode } from "./countries";

it("offers every country by name, the nearest first, the rest in order", () => {
  const all = countries("en");
  expect(all).toHaveLength(249);
  expect(all.slice(0, 2)).toEqual([
    ["MY", "Malaysia"],
    ["SG", "Singapore"],
  ]);
  expect(new Set(all.map(([code]) => code)).size).toBe(249);
  const rest = all.slice(5).map(([, name]) => name);
  expect(rest).toEqual([...rest].sort((a, b) => a.localeCompare(b, "en")));
  // Named in the reader's language.
  expect(countries("ms").find(([code]) => code === "JP")?.[1]).toBe("Jepun");
});

it("reads a country from its code or its name in English or Malay", () => {
  expect(countryCode("MY")).toBe("MY");
  expect(countryCode(" sg ")).toBe("SG");
  expect(countryCode("Malaysia")).toBe("MY");
  expect(countryCode("singapore")).toBe("SG");
  expect(countryCode("Jepun")).toBe("JP");
  expect(countryCode("XX")).toBeUndefined();
  expect(countryCode("Atlantis")).toBeUndefined();
});
