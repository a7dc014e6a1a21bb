import { expect, it } from "vitest";
import { ssoAnswer } from "./sso";

it("reads the provider's answer from the address the browser came back to", () => {
  expect(ssoAnswer("?code=abc&state=s1")).toEqual({ state: "s1", code: "abc" });
  expect(ssoAnswer("?error=access_denied&error_description=The+user+said+no&state=s1")).toEqual({ state: "s1", error: "The user said no" });
  expect(ssoAnswer("?error=access_denied&state=s1")).toEqual({ state: "s1", error: "access_denied" });
  // Not an answer: no state, or neither a code nor an error.
  expect(ssoAnswer("")).toBeUndefined();
  expect(ssoAnswer("?code=abc")).toBeUndefined();
  expect(ssoAnswer("?state=s1")).toBeUndefined();
});
