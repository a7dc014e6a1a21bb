// Keyboard shortcuts: `?` lists them, Ctrl+K or `/` opens the search box, `g` then a letter goes
// to a screen.
import { msg } from "./i18n";

/** The screens `g` then a letter goes to, by that letter. */
export const GO_TO: Record<string, { hash: string; label: string }> = {
  m: { hash: "#day", label: msg("My day") },
  c: { hash: "#customers", label: msg("Customers") },
  p: { hash: "#pipeline", label: msg("Pipeline") },
  d: { hash: "#dashboard", label: msg("Dashboard") },
  e: { hash: "#admin", label: msg("People") },
  w: { hash: "#settings", label: msg("Workspace") },
  a: { hash: "#account", label: msg("Account") },
};

export type Shortcut = { kind: "help" } | { kind: "search" } | { kind: "go"; hash: string } | { kind: "pending" } | undefined;

type Key = { key: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean; target: EventTarget | null };

/** Whether a key goes to what the person is typing in rather than to a shortcut. */
function typing(target: EventTarget | null): boolean {
  const t = target as { tagName?: string; isContentEditable?: boolean } | null;
  return !!t && (t.isContentEditable === true || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName ?? ""));
}

/**
 * What a key pressed means, given whether `g` came just before; nothing while typing in a field or
 * with Ctrl, Alt or ⌘ held (the browser's and the screen reader's own keys stay theirs), but for
 * Ctrl+K.
 */
export function shortcutOf(e: Key, afterG: boolean): Shortcut {
  // Ctrl+K (⌘K on a Mac) asks for the search box by name, even from inside a field.
  if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === "k") return { kind: "search" };
  if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return undefined;
  if (afterG) {
    const to = GO_TO[e.key.toLowerCase()];
    return to ? { kind: "go", hash: to.hash } : undefined;
  }
  if (e.key === "?") return { kind: "help" };
  if (e.key === "/") return { kind: "search" };
  if (e.key === "g") return { kind: "pending" };
  return undefined;
}
