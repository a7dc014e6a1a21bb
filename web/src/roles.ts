// Roles and permissions as people read them: names instead of ids, permissions by area.
import type { Permission } from "./gen/crm/iam/v1/roles_pb";
import { msg, t } from "./i18n";

const BUILT_IN: Record<string, string> = {
  owner: msg("Owner"),
  admin: msg("Administrator"),
  sales_manager: msg("Sales manager"),
  sales_rep: msg("Sales rep"),
  viewer: msg("Viewer"),
  api_keys: msg("API keys"),
};

/** A role's name as people read it: `sales_manager` → "Sales manager", `key_accounts` → "Key accounts". */
export function roleName(id: string): string {
  const known = BUILT_IN[id];
  if (known) return t(known);
  const spaced = id.replaceAll("_", " ").trim();
  return spaced ? spaced[0].toUpperCase() + spaced.slice(1) : id;
}

/**
 * The id the CRM keeps for a role named in words ("Key accounts (east)" → `key_accounts_east`):
 * lower-case letters, digits and single underscores; the CRM says what else it refuses.
 */
export function roleId(words: string): string {
  return words
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
}

/** The area a permission belongs to (`customers.read` → "Customers"). */
function area(permission: string): string {
  return roleName(permission.split(".")[0]);
}

/** Permissions grouped by area, areas and permissions in name order. */
export function byArea(permissions: Permission[]): [string, Permission[]][] {
  const areas = new Map<string, Permission[]>();
  for (const p of [...permissions].sort((a, b) => a.name.localeCompare(b.name))) {
    const key = area(p.name);
    areas.set(key, [...(areas.get(key) ?? []), p]);
  }
  return [...areas.entries()].sort(([a], [b]) => a.localeCompare(b));
}
