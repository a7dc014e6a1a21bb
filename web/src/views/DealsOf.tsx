import type { User } from "../gen/crm/iam/v1/users_pb";
import { t } from "../i18n";

type Choice = { whose: string; me: string; people: User[]; choose: (id: string) => void };

/**
 * A person chosen by name in a list's filter: `anyone` for "" (everyone's), `mine` for `me`,
 * then the others; an id the list does not know (from an address) reads "someone".
 */
export function PersonChoice({ label, anyone, mine, whose, me, people, choose, disabled }: Choice & { label: string; anyone: string; mine: string; disabled?: boolean }) {
  return (
    <label class="inline">
      {label}{" "}
      <select value={whose} disabled={disabled} onChange={(e) => choose((e.target as HTMLSelectElement).value)}>
        <option value="">{anyone}</option>
        <option value={me}>{mine}</option>
        {people
          .filter((u) => u.id !== me)
          .map((u) => (
            <option key={u.id} value={u.id}>
              {u.displayName}
            </option>
          ))}
        {whose && whose !== me && !people.some((u) => u.id === whose) && <option value={whose}>{t("someone")}</option>}
      </select>
    </label>
  );
}

/** Whose deals are shown: everyone's (""), mine (`me`), or one person's, chosen by name. */
export function DealsOf(props: Choice) {
  return <PersonChoice label={t("Deals of")} anyone={t("everyone")} mine={t("mine")} {...props} />;
}
