import { t } from "../i18n";

/** How many rows a page of a list holds, chosen among `sizes`. */
export function PageSize({ sizes, size, change }: { sizes: number[]; size: number; change: (size: number) => void }) {
  return (
    <label class="inline">
      {t("Per page")}{" "}
      <select value={size} onChange={(e) => change(Number((e.target as HTMLSelectElement).value))}>
        {sizes.map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * A column heading that orders its list: a click asks for `next` (its order, a second click
 * the other way); `aria-sort` says how the list is ordered now. Disabled while another order
 * rules (a search's relevance).
 */
export function SortableHeading<S>({ label, now, next, change, disabled }: { label: string; now: "ascending" | "descending" | "none"; next: S; change: (sort: S) => void; disabled?: boolean }) {
  const shown = disabled ? "none" : now;
  return (
    <th scope="col" aria-sort={shown}>
      <button type="button" class="sort" onClick={() => change(next)} disabled={disabled}>
        {label}
        <span aria-hidden="true">{shown === "ascending" ? " ↑" : shown === "descending" ? " ↓" : " ↕"}</span>
      </button>
    </th>
  );
}
