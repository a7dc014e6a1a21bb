// What the console tells people when a call fails: one sentence per gRPC code, and the field
// errors of a BadRequest placed next to their fields.
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb";
import { t } from "./i18n";

export type Problem = {
  /** What to show. */
  message: string;
  /** Field errors by field path (`customer.email`). */
  fields: Record<string, string>;
  /** The session is over: sign in again. */
  signInAgain: boolean;
  /** What the person may do changed (their roles, the workspace's settings): the session goes
   * on with a renewed token. */
  renew?: boolean;
};

/** The machine-readable reason of an ErrorInfo detail (`INVALID_MFA_CODE`), if the error has one. */
export function reason(err: ConnectError): string | undefined {
  return err.findDetails(ErrorInfoSchema)[0]?.reason;
}

/** Seconds to wait from a RetryInfo detail, if the error has one. */
export function retryAfterSeconds(err: ConnectError): number | undefined {
  const [info] = err.findDetails(RetryInfoSchema);
  if (!info?.retryDelay) return undefined;
  const seconds = Number(info.retryDelay.seconds) + info.retryDelay.nanos / 1e9;
  return Math.max(1, Math.ceil(seconds));
}

/** A message as a sentence: capitalised, ending with a full stop. */
function sentence(message: string): string {
  const text = message.trim();
  if (!text) return t("You are not allowed to do this.");
  const capital = text[0].toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

export function describe(error: unknown): Problem {
  const err = ConnectError.from(error);
  const fields: Record<string, string> = {};
  for (const bad of err.findDetails(BadRequestSchema)) {
    for (const v of bad.fieldViolations) fields[v.field] = v.description;
  }
  const problem = (message: string, signInAgain = false): Problem => ({
    message,
    fields,
    signInAgain,
  });
  switch (err.code) {
    case Code.Unauthenticated:
      // Refusals of what was typed are not the end of the session.
      switch (reason(err)) {
        case "INVALID_CREDENTIALS":
          return problem(t("The workspace, email or password is wrong."));
        case "INVALID_MFA_CODE":
          fields.code ??= t("wrong or used already");
          return problem(t("That code is wrong or was used already. Try the app's next code."));
        case "INVALID_MFA_TOKEN":
          return problem(t("This sign-in took too long. Please sign in again."), true);
        case "SSO_STATE_INVALID":
        case "SSO_CODE_REFUSED":
        case "SSO_ID_TOKEN_INVALID":
          // A single sign-on that did not complete: said as the CRM says it, at the sign-in.
          return problem(sentence(err.rawMessage));
        case "ACCOUNT_INACTIVE":
          return problem(t("Your account is deactivated. Ask an administrator of your workspace."), true);
        case "TOKEN_REVOKED":
          return { ...problem(t("What you may do has just changed. Please try that again.")), renew: true };
      }
      return problem(t("Your session has ended. Please sign in again."), true);
    case Code.PermissionDenied:
      // The CRM says what the roles do not allow, in words: shown as it is, as a sentence.
      return problem(sentence(err.rawMessage));
    case Code.InvalidArgument:
      return problem(
        Object.keys(fields).length > 0 ? t("Please correct the marked fields.") : err.rawMessage,
      );
    case Code.NotFound:
      // An invitation's link says why it no longer works, and what to do.
      if (reason(err) === "INVITATION_INVALID") return problem(sentence(err.rawMessage));
      return problem(t("It is not there any more (or it never was yours to see)."));
    case Code.AlreadyExists:
      return problem(err.rawMessage);
    case Code.Aborted:
      return problem(t("Someone changed this while you were editing. Reload it and try again."));
    case Code.FailedPrecondition:
      return problem(err.rawMessage);
    case Code.ResourceExhausted: {
      const seconds = retryAfterSeconds(err);
      return problem(
        seconds ? t("Too many requests. Wait {{seconds}} s, then try again.", { seconds }) : t("Too many requests. Wait a moment, then try again."),
      );
    }
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return problem(t("The CRM is not answering right now. Try again in a moment."));
    default:
      return problem(t("Something went wrong ({{code}}): {{message}}", { code: Code[err.code], message: err.rawMessage }));
  }
}
