// Phone numbers as people use them: readable, and opening a call or a WhatsApp chat.
import { PhoneKind, type PhoneNumber } from "./gen/crm/common/v1/contact_points_pb";

type Phone = Pick<PhoneNumber, "kind" | "e164Number" | "extension"> & { displayNumber?: string };

/** The number as people read it (`+60 12-345 6789`, as the CRM formats it), with its extension. */
export function phoneText(p: Phone): string {
  const number = p.displayNumber || p.e164Number;
  return p.extension ? `${number} ext. ${p.extension}` : number;
}

/** A `tel:` address (RFC 3966) that dials it, extension included. */
export function telHref(p: Phone): string {
  return `tel:${p.e164Number}${p.extension ? `;ext=${p.extension}` : ""}`;
}

/**
 * A WhatsApp chat with it (`https://wa.me/<digits>`), for mobiles. A Malaysian number is a mobile
 * by its range (+60 1…), whatever kind it was given (a new phone is kept as a mobile, even an
 * 03 line); another country's, when kept as a mobile. None for work, home and fax lines.
 */
export function whatsappHref(p: Phone): string | undefined {
  const line = p.kind === PhoneKind.WORK || p.kind === PhoneKind.HOME || p.kind === PhoneKind.FAX;
  const mobile = !line && (p.e164Number.startsWith("+60") ? p.e164Number.startsWith("+601") : p.kind === PhoneKind.MOBILE);
  return mobile && /^\+\d{8,15}$/.test(p.e164Number) ? `https://wa.me/${p.e164Number.slice(1)}` : undefined;
}
