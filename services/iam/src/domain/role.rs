//! Permissions and roles. Permissions are `resource.action`; a role grants a set of them,
//! optionally scoped (`:own`, `:team`, see `crm_core::authz`). Built-in roles exist in every
//! tenant and never change; tenants add custom roles.

use std::collections::BTreeSet;

use crm_core::TenantId;
use crm_core::authz::Permission;
use uuid::Uuid;

use super::Millis;

/// IAM's own permissions. Every other context declares its own in its descriptor; the
/// [`Catalog`] IAM hands out holds them all.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        name: "api_keys.manage",
        allows: "create, list and revoke the API keys of integrations",
        held_by: &[],
    },
    Permission {
        name: "audit.read",
        allows: "read the audit trail",
        held_by: &[],
    },
    Permission {
        name: "authorization.check_others",
        allows: "ask the policy engine about other users",
        held_by: &[],
    },
    Permission {
        name: "roles.manage",
        allows: "create, change and delete custom roles",
        held_by: &[],
    },
    Permission {
        name: "tenant.manage",
        allows: "change the tenant's name and settings",
        held_by: &[],
    },
    Permission {
        name: "users.manage",
        allows: "invite, change, deactivate and delete users, and grant them roles",
        held_by: &[],
    },
    Permission {
        name: "views.share",
        allows: "share saved views with the workspace, and change or delete the shared ones",
        held_by: &["sales_manager"],
    },
    Permission {
        name: "users.read",
        allows: "read users",
        held_by: &["sales_manager", "sales_rep", "viewer"],
    },
];

/// Every permission a role can grant: IAM's and those the other contexts of the binary declare,
/// sorted by name. What the built-in roles hold follows from it.
#[derive(Clone, Debug)]
pub struct Catalog {
    permissions: Vec<Permission>,
}

impl Default for Catalog {
    /// IAM's own permissions only (IAM without the other contexts, as its own tests run it).
    fn default() -> Self {
        Catalog::new(PERMISSIONS.iter().copied())
    }
}

impl Catalog {
    /// IAM's permissions and `others`, sorted by name, each once.
    pub fn new(others: impl IntoIterator<Item = Permission>) -> Catalog {
        let mut permissions: Vec<Permission> = PERMISSIONS.iter().copied().chain(others).collect();
        permissions.sort_by_key(|p| p.name);
        permissions.dedup_by_key(|p| p.name);
        Catalog { permissions }
    }

    /// Every permission, sorted by name.
    pub fn permissions(&self) -> &[Permission] {
        &self.permissions
    }

    /// The permissions of a built-in role, or `None` for a name that is not built in.
    pub fn built_in(&self, role: &str) -> Option<Vec<String>> {
        let names = self.permissions.iter().map(|p| p.name.to_owned());
        match role {
            OWNER => Some(names.collect()),
            "admin" => Some(
                names
                    .filter(|p| !OWNER_ONLY.contains(&p.as_str()))
                    .collect(),
            ),
            _ if is_built_in(role) => Some(
                self.permissions
                    .iter()
                    .flat_map(|p| {
                        p.held_by.iter().filter_map(move |held| {
                            let (holder, scope) = match held.split_once(':') {
                                Some((holder, scope)) => (holder, Some(scope)),
                                None => (*held, None),
                            };
                            (holder == role).then(|| match scope {
                                Some(scope) => format!("{}:{scope}", p.name),
                                None => p.name.to_owned(),
                            })
                        })
                    })
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Checks a permission grant: a catalog permission, optionally with `:own` or `:team`.
    pub fn parse_grant(&self, raw: &str) -> Result<String, String> {
        let (name, scope) = match raw.split_once(':') {
            Some((name, scope)) => (name, Some(scope)),
            None => (raw, None),
        };
        if !self.contains(name) {
            return Err(format!(
                "{raw:?} is not a permission; ListPermissions lists them"
            ));
        }
        match scope {
            None | Some("own") | Some("team") => Ok(raw.to_owned()),
            Some(other) => Err(format!("{other:?} is not a scope; use :own or :team")),
        }
    }

    /// Whether `name` is a permission of the catalog.
    pub fn contains(&self, name: &str) -> bool {
        self.permissions.iter().any(|p| p.name == name)
    }

    /// A role's grants, sorted and each once: at least one, each a catalog permission (with an
    /// optional scope). The error lists every bad one.
    pub fn parse_grants(&self, permissions: &[String]) -> Result<Vec<String>, Vec<String>> {
        if permissions.is_empty() {
            return Err(vec!["must grant at least one permission".to_owned()]);
        }
        let (mut grants, mut problems) = (Vec::new(), Vec::new());
        for p in permissions {
            match self.parse_grant(p.trim()) {
                Ok(g) => grants.push(g),
                Err(e) => problems.push(e),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        grants.sort();
        grants.dedup();
        Ok(grants)
    }

    /// The union of the grants of `roles`, custom roles looked up in `custom`.
    pub fn effective_permissions(&self, roles: &[String], custom: &[CustomRole]) -> Vec<String> {
        let mut set = BTreeSet::new();
        for role in roles {
            match self.built_in(role) {
                Some(grants) => set.extend(grants),
                None => {
                    if let Some(c) = custom.iter().find(|c| &c.name == role) {
                        set.extend(c.permissions.iter().cloned());
                    }
                }
            }
        }
        set.into_iter().collect()
    }
}

/// The built-in roles: (name, description).
pub const BUILT_IN_ROLES: &[(&str, &str)] = &[
    (
        "owner",
        "everything, including the tenant's settings; a tenant always keeps one",
    ),
    ("admin", "everything but the tenant's settings"),
    (
        "sales_manager",
        "the whole sales process, large deals, pipelines and templates",
    ),
    ("sales_rep", "customers and leads; opportunities they own"),
    ("viewer", "read-only access"),
];

/// The owner role's name.
pub const OWNER: &str = "owner";
/// The role a user gets when none is given.
pub const DEFAULT_ROLE: &str = "viewer";

/// Whether `role` is built in.
pub fn is_built_in(role: &str) -> bool {
    BUILT_IN_ROLES.iter().any(|(name, _)| *name == role)
}

/// Checks a custom role's name: lower_snake_case, 2 to 48 characters, not a built-in name.
pub fn parse_role_name(raw: &str) -> Result<String, &'static str> {
    let ok = (2..=48).contains(&raw.len())
        && raw.starts_with(|c: char| c.is_ascii_lowercase())
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err("must be 2 to 48 characters of lower_snake_case, starting with a letter");
    }
    if is_built_in(raw) {
        return Err("is a built-in role's name");
    }
    Ok(raw.to_owned())
}

/// A tenant's own role.
#[derive(Clone, Debug)]
pub struct CustomRole {
    /// Its id.
    pub id: Uuid,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Unique per tenant.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Grants, sorted.
    pub permissions: Vec<String>,
    /// When created.
    pub created_at: Millis,
    /// When last changed.
    pub updated_at: Millis,
    /// The etag.
    pub version: i64,
}

/// `FAILED_PRECONDITION` (`LAST_OWNER`): the change would leave the tenant without an active
/// owner.
pub fn last_owner_error() -> crm_core::Error {
    crm_core::Error::new(
        crm_core::ErrorKind::FailedPrecondition,
        "a tenant must keep at least one active owner; make another owner first",
    )
    .with_reason("LAST_OWNER")
    .with_precondition_violation("LAST_OWNER", "user", "the last active owner")
}

/// The custom roles among `roles` (the built-in ones always exist).
pub fn custom_only(roles: &[String]) -> Vec<String> {
    roles.iter().filter(|r| !is_built_in(r)).cloned().collect()
}

/// `FAILED_PRECONDITION` `ROLE_IN_USE`: a custom role someone holds cannot be deleted.
pub fn role_in_use_error(holders: i64) -> crm_core::Error {
    crm_core::Error::new(
        crm_core::ErrorKind::FailedPrecondition,
        format!("{holders} user(s) hold this role; revoke it from them first"),
    )
    .with_reason("ROLE_IN_USE")
}

/// `FAILED_PRECONDITION` `ROLE_NOT_FOUND`: a custom role handed out was deleted meanwhile.
pub fn role_deleted_error(name: &str) -> crm_core::Error {
    crm_core::Error::new(
        crm_core::ErrorKind::FailedPrecondition,
        format!(
            "the role {name:?} was deleted at the same moment; ListRoles lists the roles there are"
        ),
    )
    .with_reason("ROLE_NOT_FOUND")
    .with_metadata("role", name)
}

/// Permissions only owners may hand out, whatever else a granter holds.
pub const OWNER_ONLY: &[&str] = &["tenant.manage"];

/// Whether holding `held` covers handing out `grant`: the same grant, or the permission
/// unscoped (which covers its `:own` and `:team` forms).
pub fn covers(held: &[String], grant: &str) -> bool {
    let permission = grant.split_once(':').map_or(grant, |(name, _)| name);
    held.iter().any(|h| h == grant || h == permission)
}

/// How far a grant reaches: `x:own` < `x:team` < `x`.
fn reach(grant: &str) -> u8 {
    match grant.split_once(':').map(|(_, scope)| scope) {
        Some("own") => 0,
        Some(_) => 1,
        None => 2,
    }
}

/// `granted` narrowed to what a holder of `held` has: each grant as it is when `held` covers
/// it, else the narrower scope of it `held` has, else dropped. What an API key acts with is
/// its role's grants narrowed to its creator's.
pub fn narrowed(granted: &[String], held: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for grant in granted {
        let name = grant.split_once(':').map_or(grant.as_str(), |(n, _)| n);
        let widest = held
            .iter()
            .filter(|h| h.split_once(':').map_or(h.as_str(), |(n, _)| n) == name)
            .max_by_key(|h| reach(h));
        let kept = match widest {
            Some(h) if reach(h) >= reach(grant) => Some(grant.clone()),
            Some(h) => Some(h.clone()),
            None => None,
        };
        if let Some(kept) = kept
            && !out.contains(&kept)
        {
            out.push(kept);
        }
    }
    out
}

/// The first of `grants` that a granter holding `held` may not hand out: one it does not hold
/// itself, or (unless it is an owner) one reserved to owners. No escalation through custom
/// roles, role updates or assignments.
pub fn first_escalation<'a>(
    held: &[String],
    is_owner: bool,
    grants: &'a [String],
) -> Option<&'a str> {
    grants.iter().map(String::as_str).find(|g| {
        let permission = g.split_once(':').map_or(*g, |(name, _)| name);
        !covers(held, g) || (!is_owner && OWNER_ONLY.contains(&permission))
    })
}

type Problems = Vec<(&'static str, String)>;

impl CustomRole {
    /// A new custom role of `tenant` created at `now`; every problem found, by request field.
    pub fn create(
        catalog: &Catalog,
        tenant_id: TenantId,
        name: &str,
        description: &str,
        permissions: &[String],
        now: Millis,
    ) -> Result<CustomRole, Problems> {
        let mut problems = Vec::new();
        let name = parse_role_name(name)
            .map_err(|e| problems.push(("role.name", e.to_owned())))
            .ok();
        let description = parse_description(description)
            .map_err(|e| problems.push(("role.description", e.to_owned())))
            .ok();
        let permissions = catalog
            .parse_grants(permissions)
            .map_err(|e| problems.extend(e.into_iter().map(|e| ("role.permissions", e))))
            .ok();
        match (name, description, permissions) {
            (Some(name), Some(description), Some(permissions)) if problems.is_empty() => {
                Ok(CustomRole {
                    id: Uuid::now_v7(),
                    tenant_id,
                    name,
                    description,
                    permissions,
                    created_at: now,
                    updated_at: now,
                    version: 1,
                })
            }
            _ => Err(problems),
        }
    }

    /// Changes the description and/or the grants (each given one checked by its rule).
    /// Returns whether the grants changed, or every problem found. Does not bump the version;
    /// [`CustomRole::touch`] records the change.
    pub fn apply(
        &mut self,
        catalog: &Catalog,
        description: Option<&str>,
        permissions: Option<&[String]>,
    ) -> Result<bool, Problems> {
        let mut problems = Vec::new();
        let description = description
            .map(|d| {
                parse_description(d).map_err(|e| problems.push(("role.description", e.to_owned())))
            })
            .transpose()
            .ok()
            .flatten();
        let grants = permissions
            .map(|p| {
                catalog.parse_grants(p).map_err(|e| {
                    problems.extend(e.into_iter().map(|e| ("role.permissions", e)));
                })
            })
            .transpose()
            .ok()
            .flatten();
        if !problems.is_empty() {
            return Err(problems);
        }
        if let Some(description) = description {
            self.description = description;
        }
        let regranted = grants.as_ref().is_some_and(|g| *g != self.permissions);
        if let Some(grants) = grants {
            self.permissions = grants;
        }
        Ok(regranted)
    }

    /// Records a change made at `now`: a new version (etag) and update time.
    pub fn touch(&mut self, now: Millis) {
        self.version += 1;
        self.updated_at = now;
    }
}

/// A role's description: trimmed, at most 500 characters.
pub fn parse_description(raw: &str) -> Result<String, &'static str> {
    let description = raw.trim();
    if description.chars().count() > 500 {
        Err("must be at most 500 characters")
    } else {
        Ok(description.to_owned())
    }
}

#[cfg(test)]
mod narrowing {
    use super::narrowed;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_key_keeps_only_what_its_creator_holds_at_the_creators_scope() {
        // An admin's key made as admin, its creator now a sales rep.
        let granted = v(&[
            "users.manage",
            "customers.read",
            "customers.write",
            "leads.write",
        ]);
        let held = v(&["customers.read:own", "customers.write:own", "leads.write"]);
        assert_eq!(
            narrowed(&granted, &held),
            v(&["customers.read:own", "customers.write:own", "leads.write"])
        );
        // A narrower grant than the creator's stays as narrow.
        assert_eq!(
            narrowed(&v(&["customers.read:own"]), &v(&["customers.read"])),
            v(&["customers.read:own"])
        );
        // A key given less than its creator holds keeps what it was given.
        assert_eq!(
            narrowed(&v(&["customers.read:own"]), &v(&["customers.read:team"])),
            v(&["customers.read:own"])
        );
        assert_eq!(
            narrowed(&v(&["customers.read:team"]), &v(&["customers.read:own"])),
            v(&["customers.read:own"])
        );
        assert!(narrowed(&granted, &[]).is_empty(), "a creator with nothing");
    }
}

#[cfg(test)]
mod tests;
