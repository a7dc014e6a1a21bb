// Notification templates as the console shows them.

/** `crm.sales.events.v1.DealWon` → `Deal won`. */
export function eventLabel(eventType: string): string {
  const name = eventType.split(".").pop() ?? eventType;
  const words = name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The event's fields a template uses: each `{{ name }}` and `{% if name %}` once, in order. */
export function fieldsUsed(...sources: string[]): string[] {
  const found: string[] = [];
  for (const source of sources) {
    const uses = source.matchAll(/\{\{-?\s*([a-z_][a-z0-9_]*)|\{%-?\s*(?:if|elif)\s+(?:not\s+)?([a-z_][a-z0-9_]*)/g);
    for (const [, printed, tested] of uses) {
      const name = printed ?? tested;
      if (!found.includes(name)) found.push(name);
    }
  }
  return found;
}
