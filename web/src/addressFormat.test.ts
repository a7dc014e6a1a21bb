import { describe, expect, it } from "vitest";
import formats from "virtual:address-formats";
import { countryData, envelopeLines, formatOf, type CountryData } from "./addressFormat";

const data = (code: string): CountryData => formats[code]!;
const seri = { street: "Lot 12, Jalan Sultan Ismail", street2: "", town: "Kuala Terengganu", state: "Terengganu", postcode: "20200" };

describe("a country's address format", () => {
  it("is Malaysia's postcode, town and state, the states to choose from", () => {
    const my = formatOf(data("MY"));
    expect(my.parts).toEqual(["postcode", "town", "state"]);
    expect(my.required).toEqual(["town", "postcode"]);
    expect(my.labels).toEqual({ postcode: "Postcode", town: "Town", state: "State" });
    expect(my.states).toContain("Terengganu");
    expect(my.states).toHaveLength(16);
    expect(my.postcodeExample).toBe("43000");
  });

  it("names and orders the parts as each country does", () => {
    const us = formatOf(data("US"));
    expect(us.parts).toEqual(["town", "state", "postcode"]);
    expect(us.labels.postcode).toBe("ZIP code");
    expect(us.states).toContain("California");
    const gb = formatOf(data("GB"));
    expect(gb.parts).toEqual(["town", "postcode"]);
    expect(gb.labels.town).toBe("Post town");
    // Singapore has neither towns nor states; Japan starts with the postcode, its prefectures in Latin letters.
    expect(formatOf(data("SG")).parts).toEqual(["postcode"]);
    const jp = formatOf(data("JP"));
    expect(jp.parts).toEqual(["postcode", "state"]);
    expect(jp.labels.state).toBe("Prefecture");
    expect(jp.states).toContain("Hokkaido");
  });

  it("asks for every part, by generic names, when the country is not known", () => {
    expect(formatOf(undefined).parts).toEqual(["postcode", "town", "state"]);
  });

  it("writes the envelope in the country's order and capitals, leaving out what is empty", () => {
    expect(envelopeLines(seri, data("MY"))).toEqual(["Lot 12, Jalan Sultan Ismail", "20200 KUALA TERENGGANU", "TERENGGANU"]);
    expect(envelopeLines({ ...seri, state: "", street2: "Kampung Ladang" }, data("MY"))).toEqual(["Lot 12, Jalan Sultan Ismail", "Kampung Ladang", "20200 KUALA TERENGGANU"]);
    expect(envelopeLines({ street: "1600 Amphitheatre Pkwy", street2: "", town: "Mountain View", state: "CA", postcode: "94043" }, data("US"))).toEqual([
      "1600 Amphitheatre Pkwy",
      "MOUNTAIN VIEW, CA 94043",
    ]);
    expect(envelopeLines({ street: "10 Anson Road", street2: "", town: "", state: "", postcode: "079903" }, data("SG"))).toEqual(["10 Anson Road", "SINGAPORE 079903"]);
    expect(envelopeLines({ street: "", street2: "", town: "", state: "", postcode: "" }, data("MY"))).toEqual([]);
  });

  it("fetches a country's file when asked, and has none for what is not a country code", async () => {
    expect((await countryData("MY"))?.fmt).toBe("%N%n%O%n%A%n%D%n%Z %C%n%S");
    expect(Object.keys(formats).length).toBeGreaterThan(240);
    expect(await countryData("my")).toBeUndefined();
    expect(await countryData("ZZ")).toBeUndefined();
    expect(await countryData("__")).toBeUndefined();
  });
});
