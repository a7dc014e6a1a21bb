import { describe, expect, it } from "vitest";
import { PhoneKind } from "./gen/crm/common/v1/contact_points_pb";
import { phoneText, telHref, whatsappHref } from "./phones";

const phone = (e164Number: string, kind = PhoneKind.MOBILE, extension = "", displayNumber = "") => ({ e164Number, kind, extension, displayNumber });

describe("phones as people use them", () => {
  it("reads as the CRM formats it, else as kept", () => {
    expect(phoneText(phone("+60123456789", PhoneKind.MOBILE, "", "+60 12-345 6789"))).toBe("+60 12-345 6789");
    expect(phoneText(phone("+6096221234", PhoneKind.WORK, "12", "+60 9-622 1234"))).toBe("+60 9-622 1234 ext. 12");
    expect(phoneText(phone("+6561234567", PhoneKind.WORK))).toBe("+6561234567");
  });

  it("dials with tel:, extension included", () => {
    expect(telHref(phone("+60123456789"))).toBe("tel:+60123456789");
    expect(telHref(phone("+6096221234", PhoneKind.WORK, "12"))).toBe("tel:+6096221234;ext=12");
  });

  it("offers WhatsApp for mobiles only", () => {
    expect(whatsappHref(phone("+60123456789"))).toBe("https://wa.me/60123456789");
    expect(whatsappHref(phone("+6591234567", PhoneKind.MOBILE))).toBe("https://wa.me/6591234567");
    // A lead's phone has no kind: a Malaysian mobile by its range, a landline not.
    expect(whatsappHref(phone("+60123456789", PhoneKind.UNSPECIFIED))).toBe("https://wa.me/60123456789");
    expect(whatsappHref(phone("+6096221234", PhoneKind.UNSPECIFIED))).toBeUndefined();
    expect(whatsappHref(phone("+60123456789", PhoneKind.WORK))).toBeUndefined();
    expect(whatsappHref(phone("+6096221234", PhoneKind.FAX))).toBeUndefined();
    // A Kuala Lumpur line typed into a new customer is kept as a mobile: no chat all the same.
    expect(whatsappHref(phone("+60387654321", PhoneKind.MOBILE))).toBeUndefined();
    expect(whatsappHref(phone("+6561234567", PhoneKind.UNSPECIFIED))).toBeUndefined();
  });
});
