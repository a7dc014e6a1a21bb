import { describe as suite, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb";
import { describe } from "./errors";

suite("describe", () => {
  it("asks to sign in again when the session is over", () => {
    const p = describe(new ConnectError("token expired", Code.Unauthenticated));
    expect(p.signInAgain).toBe(true);
    expect(p.message).toMatch(/sign in again/);
  });

  it("does not end the session for a wrong password or code", () => {
    const refused = (why: string) =>
      describe(
        new ConnectError("refused", Code.Unauthenticated, undefined, [
          { desc: ErrorInfoSchema, value: { reason: why, domain: "crm.kilang.my" } },
        ]),
      );
    const password = refused("INVALID_CREDENTIALS");
    expect(password.signInAgain).toBe(false);
    expect(password.message).toMatch(/password is wrong/);
    const code = refused("INVALID_MFA_CODE");
    expect(code.signInAgain).toBe(false);
    expect(code.fields.code).toMatch(/wrong/);
    expect(refused("INVALID_MFA_TOKEN").signInAgain).toBe(true);
    expect(refused("INVALID_REFRESH_TOKEN").signInAgain).toBe(true);
    // What the person may do changed: the session renews its token instead of ending.
    const revoked = refused("TOKEN_REVOKED");
    expect(revoked.signInAgain).toBe(false);
    expect(revoked.renew).toBe(true);
    expect(revoked.message).toMatch(/try that again/);
  });

  it("says a refusal in the CRM's words, as a sentence, never adding a permission id", () => {
    const refusal = describe(
      new ConnectError(
        "your roles do not let you delete customers: ask an owner or an admin of your workspace",
        Code.PermissionDenied,
        undefined,
        [{ desc: ErrorInfoSchema, value: { reason: "MISSING_PERMISSION", metadata: { permission: "customers.delete" } } }],
      ),
    );
    expect(refusal.message).toBe("Your roles do not let you delete customers: ask an owner or an admin of your workspace.");
    expect(refusal.message).not.toMatch(/customers\.delete/);
  });

  it("puts each field violation next to its field", () => {
    const err = new ConnectError("bad", Code.InvalidArgument, undefined, [
      {
        desc: BadRequestSchema,
        value: {
          fieldViolations: [
            { field: "customer.email", description: "not an email address" },
            { field: "customer.phones[0]", description: "not a phone number" },
          ],
        },
      },
    ]);
    const p = describe(err);
    expect(p.fields).toEqual({
      "customer.email": "not an email address",
      "customer.phones[0]": "not a phone number",
    });
    expect(p.message).toMatch(/marked fields/);
    expect(p.signInAgain).toBe(false);
  });

  it("says why a single sign-on did not complete, at the sign-in, not as an ended session", () => {
    const sso = describe(
      new ConnectError("this sign-in is unknown, expired or completed already; start again", Code.Unauthenticated, undefined, [
        { desc: ErrorInfoSchema, value: { reason: "SSO_STATE_INVALID", domain: "crm.kilang.my" } },
      ]),
    );
    expect(sso.signInAgain).toBe(false);
    expect(sso.message).toBe("This sign-in is unknown, expired or completed already; start again.");
  });

  it("says how long to wait when rate limited", () => {
    const err = new ConnectError("slow down", Code.ResourceExhausted, undefined, [
      { desc: RetryInfoSchema, value: { retryDelay: { seconds: 12n, nanos: 300_000_000 } } },
    ]);
    expect(describe(err).message).toBe("Too many requests. Wait 13 s, then try again.");
  });

  it("says why an invitation's link no longer works, and nothing of other missing things", () => {
    const dead = describe(
      new ConnectError("this invitation link does not work: ask whoever invited you to send it again", Code.NotFound, undefined, [
        { desc: ErrorInfoSchema, value: { reason: "INVITATION_INVALID", domain: "crm.kilang.my" } },
      ]),
    );
    expect(dead.message).toBe("This invitation link does not work: ask whoever invited you to send it again.");
    expect(describe(new ConnectError("customer 0190 not found", Code.NotFound)).message).not.toMatch(/0190/);
  });

  it("has a sentence for every other code", () => {
    for (const code of [Code.NotFound, Code.Aborted, Code.Unavailable, Code.Internal]) {
      const p = describe(new ConnectError("x", code));
      expect(p.message.length).toBeGreaterThan(10);
      expect(p.signInAgain).toBe(false);
    }
  });
});
