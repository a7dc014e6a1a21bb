import { LeadStatus } from "../gen/crm/sales/v1/leads_pb";
import type { User } from "../gen/crm/iam/v1/users_pb";
import { PersonChoice } from "./DealsOf";
import { msg, t } from "../i18n";
import { ANY_LEAD, type LeadFilter } from "../leadView";

const STATUSES: [LeadStatus, string][] = [
  [LeadStatus.NEW, msg("New")],
  [LeadStatus.CONTACTED, msg("Contacted")],
  [LeadStatus.QUALIFIED, msg("Qualified")],
  [LeadStatus.DISQUALIFIED, msg("Not a fit")],
  [LeadStatus.CONVERTED, msg("Converted")],
];

/** A lead's status in words ("Converted"). */
export const leadStatusName = (status: LeadStatus): string => {
  const words = STATUSES.find(([s]) => s === status)?.[1];
  return words ? t(words) : "";
};

/** The leads' filters, and how many leads they take (once counted). */
export function LeadFilters({ filter, set, me, people, total }: { filter: LeadFilter; set: (f: LeadFilter) => void; me: string; people: User[]; total?: number }) {
  const narrowed = filter.status !== LeadStatus.UNSPECIFIED || filter.owner !== "" || filter.words.trim() !== "";
  return (
    <>
      <div class="filters" role="group" aria-label={t("Which leads")}>
        <label class="inline">
          {t("Find")}{" "}
          <input type="search" value={filter.words} size={16} placeholder={t("Name, company, email…")} onInput={(e) => set({ ...filter, words: (e.target as HTMLInputElement).value })} />
        </label>
        <label class="inline">
          {t("Status")}{" "}
          <select value={filter.status} onChange={(e) => set({ ...filter, status: Number((e.target as HTMLSelectElement).value) })}>
            <option value={LeadStatus.UNSPECIFIED}>{t("any")}</option>
            {STATUSES.map(([s, words]) => (
              <option key={s} value={s}>
                {t(words)}
              </option>
            ))}
          </select>
        </label>
        <PersonChoice label={t("Owner")} anyone={t("anyone")} mine={t("me")} whose={filter.owner} me={me} people={people} choose={(owner) => set({ ...filter, owner })} />
        {narrowed && (
          <button type="button" class="link" onClick={() => set(ANY_LEAD)}>
            {t("Every lead")}
          </button>
        )}
      </div>
      <p class="hint count" role="status" aria-live="polite">
        {total === undefined ? "" : narrowed ? t("{{count}} leads match", { count: total }) : t("{{count}} leads", { count: total })}
      </p>
    </>
  );
}
