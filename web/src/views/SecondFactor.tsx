// The pieces of a second factor's enrolment, shared by the account screen and a sign-in that
// the workspace's policy stops until one is set up: the secret as a QR code and as text, the
// first code from the app, and the recovery codes shown once.
import { useState } from "preact/hooks";
import { encode } from "uqr";
import type { Problem } from "../errors";
import { Field } from "./Field";
import { t } from "../i18n";

/** A QR code of `text` as one SVG path (a module per unit square, a 4-module quiet zone). */
export function QrCode({ text, label }: { text: string; label: string }) {
  const { data, size } = encode(text, { ecc: "M", border: 4 });
  let path = "";
  data.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) path += `M${x} ${y}h1v1h-1z`;
    }),
  );
  return (
    <svg class="qr" role="img" aria-label={label} viewBox={`0 0 ${size} ${size}`} width="208" height="208" shape-rendering="crispEdges">
      <rect width={size} height={size} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  );
}

/** A base32 secret in groups of four, easier to type into an app. */
export function grouped(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, "$1 ");
}

type EnrolmentProps = {
  secret: string;
  otpauthUri: string;
  busy: boolean;
  problem?: Problem;
  onConfirm: (code: string) => void;
  onCancel?: () => void;
};

/** Scan or type the secret, then prove it with the app's code. */
export function Enrolment({ secret, otpauthUri, busy, problem, onConfirm, onCancel }: EnrolmentProps) {
  const [code, setCode] = useState("");
  return (
    <form
      class="stack"
      aria-label={t("Set up the authenticator app")}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        onConfirm(code.trim());
      }}
    >
      <ol class="steps">
        <li>
          {t("Open an authenticator app (Google Authenticator, Microsoft Authenticator, 1Password, Aegis…) and scan this code.")}
          <QrCode text={otpauthUri} label={t("QR code of the secret for the authenticator app")} />
          <p class="hint">
            {t("Cannot scan it? Type this key instead (time-based, 6 digits):")} <code class="secret">{grouped(secret)}</code>
          </p>
        </li>
        <li>{t("Enter the six digits the app now shows.")}</li>
      </ol>
      <Field label={t("Code from the app")} name="enrol-code" value={code} onInput={setCode} error={problem?.fields.code} required />
      {problem && <p class="error" role="alert">{problem.message}</p>}
      <div class="actions">
        <button type="submit" disabled={busy}>
          {t("Turn on the second factor")}
        </button>
        {onCancel && (
          <button type="button" class="secondary" onClick={onCancel}>
            {t("Cancel")}
          </button>
        )}
      </div>
    </form>
  );
}

/** Ten one-time codes, shown only now: to download or copy before going on. */
export function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const download = () => {
    const text = `${t("Kilang CRM recovery codes (each works once):")}\n\n${codes.join("\n")}\n`;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    link.download = "kilang-crm-recovery-codes.txt";
    link.click();
    URL.revokeObjectURL(link.href);
  };
  return (
    <div class="stack" role="region" aria-label={t("Recovery codes")}>
      <p role="status">
        {t("The second factor is on. Keep these recovery codes somewhere safe: each signs you in once if the phone is lost. They are not shown again.")}
      </p>
      <ul class="codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
      <div class="actions">
        <button type="button" class="secondary" onClick={download}>
          {t("Download the codes")}
        </button>
        <button type="button" onClick={onDone}>
          {t("I have kept them")}
        </button>
      </div>
    </div>
  );
}
