import { useEffect, useRef, useState } from "preact/hooks";
import { search as searchService } from "../api";
import { SearchResultKind, type SearchResult } from "../gen/crm/edge/v1/edge_pb";
import { msg, t } from "../i18n";
import type { Problem } from "../errors";

/** What each kind of result is called, and the address that opens it. */
const KINDS: Record<SearchResultKind, { label: string; open: (r: SearchResult) => string }> = {
  [SearchResultKind.UNSPECIFIED]: { label: msg("Record"), open: () => "#customers" },
  [SearchResultKind.CUSTOMER]: { label: msg("Customer"), open: (r) => `#customers/${r.id}` },
  [SearchResultKind.CONTACT]: { label: msg("Contact"), open: (r) => `#customers/${r.customerId}` },
  [SearchResultKind.LEAD]: { label: msg("Lead"), open: (r) => `#pipeline/leads/${r.id}` },
  [SearchResultKind.OPPORTUNITY]: { label: msg("Deal"), open: (r) => `#pipeline/${r.id}` },
};

/** The address a search result opens. */
export const addressOf = (r: SearchResult): string => KINDS[r.kind].open(r);

/** The box is a combobox (ARIA 1.2) over the list of results; Preact's types only allow it with `list`. */
const COMBOBOX = { role: "combobox" } as Record<string, string>;

/** How long typing pauses before the CRM is asked. */
const PAUSE_MS = 150;

/**
 * One box for customers, contacts, leads and deals (Ctrl+K or `/` opens it): asked as you type,
 * best first; arrows choose, Enter opens, Esc closes.
 */
export function Search({ onClose, onError }: { onClose: () => void; onError: (err: unknown) => Problem }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<SearchResult[]>();
  const [partial, setPartial] = useState(false);
  const [problem, setProblem] = useState<string>();
  const [active, setActive] = useState(0);
  const asked = useRef(0);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  useEffect(() => {
    const words = query.trim();
    const mine = ++asked.current;
    if (!words) {
      setResults(undefined);
      setProblem(undefined);
      return;
    }
    const timer = setTimeout(() => {
      searchService
        .search({ query: words, pageSize: 10 })
        .then((answer) => {
          // An answer to an earlier query than the one now typed is dropped.
          if (mine !== asked.current) return;
          setResults(answer.results);
          setPartial(answer.missing.length > 0);
          setProblem(undefined);
          setActive(0);
        })
        .catch((err) => {
          if (mine === asked.current) setProblem(onError(err).message);
        });
    }, PAUSE_MS);
    return () => clearTimeout(timer);
  }, [query]);

  const open = (r: SearchResult) => {
    window.location.hash = addressOf(r);
    dialog.current?.close();
  };
  const onKey = (e: KeyboardEvent) => {
    // Esc closes the box from its field, whatever the browser makes of a dialog's own Esc (a
    // dialog opened by a shortcut moments after another closed may not take its first one).
    if (e.key === "Escape") {
      e.preventDefault();
      dialog.current?.close();
      return;
    }
    if (!results?.length) return;
    if (e.key === "ArrowDown") setActive((i) => (i + 1) % results.length);
    else if (e.key === "ArrowUp") setActive((i) => (i - 1 + results.length) % results.length);
    else if (e.key === "Enter") open(results[active]);
    else return;
    e.preventDefault();
  };
  const optionId = (i: number) => `search-result-${i}`;
  return (
    <dialog ref={dialog} class="search" aria-labelledby="search-title" onClose={onClose}>
      <h2 id="search-title">{t("Find a customer, contact, lead or deal")}</h2>
      <input
        type="search"
        {...COMBOBOX}
        aria-label={t("Find")}
        aria-expanded={!!results?.length}
        aria-controls="search-results"
        aria-activedescendant={results?.length ? optionId(active) : undefined}
        aria-autocomplete="list"
        autoComplete="off"
        placeholder={t("Name, company, email…")}
        value={query}
        onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
        onKeyDown={onKey}
      />
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <ul id="search-results" role="listbox" aria-label={t("Found")}>
        {results?.map((r, i) => (
          <li key={`${r.kind}-${r.id}`} id={optionId(i)} role="option" aria-selected={i === active} onClick={() => open(r)} onMouseEnter={() => setActive(i)}>
            <span class="kind">{t(KINDS[r.kind].label)}</span> <strong translate={false}>{r.title}</strong>
            {r.detail && (
              <span class="detail" translate={false}>
                {" "}
                · {r.detail}
              </span>
            )}
          </li>
        ))}
      </ul>
      <p class="hint" role="status">
        {results === undefined
          ? t("Type a name, a company, an email or a phone number.")
          : results.length === 0
            ? t("Nothing found.")
            : t("{{count}} found: ↑ and ↓ choose, Enter opens.", { count: results.length })}
        {partial ? ` ${t("Part of the CRM did not answer, so some may be missing.")}` : ""}
      </p>
      <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
        {t("Close")}
      </button>
    </dialog>
  );
}
