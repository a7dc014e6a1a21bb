import type { PhoneNumber } from "../gen/crm/common/v1/contact_points_pb";
import { phoneText, telHref, whatsappHref } from "../phones";
import { t } from "../i18n";

/**
 * A phone number, readable, that calls when followed, with a WhatsApp chat beside a mobile. The
 * links are named by the number (the row or the list says whose it is), so a record's name is
 * still only its own.
 */
export function Phone({ phone }: { phone: PhoneNumber }) {
  const text = phoneText(phone);
  const chat = whatsappHref(phone);
  return (
    <span class="phone">
      <a href={telHref(phone)} title={t("Call")}>
        {text}
      </a>
      {chat && (
        <a href={chat} target="_blank" rel="noopener noreferrer" aria-label={t("WhatsApp {{number}}", { number: text })}>
          {t("WhatsApp")}
        </a>
      )}
    </span>
  );
}
