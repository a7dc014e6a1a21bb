//! Saved views: a list's filters and order under a name, kept by a person for themselves or
//! shared with the workspace. A view holds the list's query as the console's address carries it;
//! it names no records, so opening one lists only what the person may read.

use crm_core::{TenantId, UserId};
use uuid::Uuid;

use super::Millis;

/// The permission that shares a view with the workspace, and changes or deletes shared ones.
pub const SHARE: &str = "views.share";
/// How many views one person keeps of one list (their own and those they shared).
pub const MAX_PER_LIST: i64 = 50;
/// A query's longest form.
pub const MAX_QUERY: usize = 1_000;

/// The lists a view can belong to, each with the permission that reads it.
pub const LISTS: &[(&str, &str)] = &[
    ("customers", "customers.read"),
    ("leads", "leads.read"),
    ("opportunities", "opportunities.read"),
    ("tasks", "tasks.read"),
];

/// The permission that reads `list`, or `INVALID_ARGUMENT`'s (field, problem).
pub fn read_permission(
    field: &'static str,
    list: &str,
) -> Result<&'static str, (&'static str, String)> {
    LISTS
        .iter()
        .find(|(name, _)| *name == list)
        .map(|(_, permission)| *permission)
        .ok_or_else(|| {
            let names: Vec<_> = LISTS.iter().map(|(n, _)| *n).collect();
            (
                field,
                format!("{list:?} is not a list; one of {}", names.join(", ")),
            )
        })
}

/// A saved view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedView {
    /// Its id (UUIDv7).
    pub id: Uuid,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Who saved it.
    pub owner_id: UserId,
    /// The list it belongs to (one of [`LISTS`]).
    pub list: String,
    /// What people see.
    pub name: String,
    /// The list's filters and order (`status=active&sort=name`).
    pub query: String,
    /// Shared with the workspace.
    pub shared: bool,
    /// When saved.
    pub created_at: Millis,
    /// When last changed.
    pub updated_at: Millis,
    /// Bumped on every change; the etag.
    pub version: i64,
}

/// What an update changes (`None`: left as it is).
#[derive(Clone, Debug, Default)]
pub struct ViewPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new query.
    pub query: Option<String>,
    /// Shared or not.
    pub shared: Option<bool>,
}

/// Checks a view's name: the shared rules for names people read, 1 to 60 characters.
pub fn parse_view_name(raw: &str) -> Result<String, String> {
    crm_core::text::name(raw, 1, 60)
}

/// Checks a query: printable ASCII (as an address carries it, percent-encoded), at most
/// [`MAX_QUERY`], without the `?` or `#` before it.
pub fn parse_query(raw: &str) -> Result<String, String> {
    let query = raw.trim().trim_start_matches(['#', '?']);
    if query.len() > MAX_QUERY {
        return Err(format!("must be at most {MAX_QUERY} characters"));
    }
    if !query.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "must be printable ASCII, as an address carries it (percent-encode the rest)".into(),
        );
    }
    Ok(query.to_owned())
}

impl SavedView {
    /// A new view of `list` by `owner`, every field checked; every problem, by request field.
    pub fn new(
        tenant_id: TenantId,
        owner_id: UserId,
        list: &str,
        patch: ViewPatch,
        now: Millis,
    ) -> Result<SavedView, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        if let Err(p) = read_permission("saved_view.list", list) {
            problems.push(p);
        }
        let mut view = SavedView {
            id: Uuid::now_v7(),
            tenant_id,
            owner_id,
            list: list.to_owned(),
            name: String::new(),
            query: String::new(),
            shared: false,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let patch = ViewPatch {
            name: Some(patch.name.unwrap_or_default()),
            ..patch
        };
        if let Err(more) = view.apply(patch) {
            problems.extend(more);
        }
        if problems.is_empty() {
            Ok(view)
        } else {
            Err(problems)
        }
    }

    /// Changes what `patch` gives, all or nothing; true when something changed. Does not bump
    /// the version; [`SavedView::touch`] records the change.
    pub fn apply(&mut self, patch: ViewPatch) -> Result<bool, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let name = patch
            .name
            .map(|n| parse_view_name(&n).map_err(|e| problems.push(("saved_view.name", e))))
            .transpose()
            .ok()
            .flatten();
        let query = patch
            .query
            .map(|q| parse_query(&q).map_err(|e| problems.push(("saved_view.query", e))))
            .transpose()
            .ok()
            .flatten();
        if !problems.is_empty() {
            return Err(problems);
        }
        let before = self.clone();
        if let Some(name) = name {
            self.name = name;
        }
        if let Some(query) = query {
            self.query = query;
        }
        if let Some(shared) = patch.shared {
            self.shared = shared;
        }
        Ok(*self != before)
    }

    /// Records a change made at `now`.
    pub fn touch(&mut self, now: Millis) {
        self.version += 1;
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(name: &str, query: &str) -> ViewPatch {
        ViewPatch {
            name: Some(name.into()),
            query: Some(query.into()),
            shared: None,
        }
    }

    #[test]
    fn a_view_is_checked_field_by_field_and_kept_as_its_address_says() {
        let (tenant, owner) = (TenantId::new(), UserId::new());
        let view = SavedView::new(
            tenant,
            owner,
            "customers",
            patch(" Borong di KT ", "?status=active&tag=borong"),
            1_000,
        )
        .unwrap();
        assert_eq!(
            (view.name.as_str(), view.query.as_str(), view.shared),
            ("Borong di KT", "status=active&tag=borong", false)
        );
        let fields: Vec<_> = SavedView::new(
            tenant,
            owner,
            "invoices",
            patch("", "tag=kain sutera"),
            1_000,
        )
        .unwrap_err()
        .into_iter()
        .map(|(f, _)| f)
        .collect();
        assert_eq!(
            fields,
            ["saved_view.list", "saved_view.name", "saved_view.query"]
        );
        assert!(parse_query(&"a".repeat(MAX_QUERY + 1)).is_err());
        assert_eq!(read_permission("list", "leads"), Ok("leads.read"));
    }

    #[test]
    fn an_update_changes_all_or_nothing_and_tells_whether_it_changed() {
        let mut view = SavedView::new(
            TenantId::new(),
            UserId::new(),
            "leads",
            patch("Hot", "status=new"),
            1_000,
        )
        .unwrap();
        let bad = ViewPatch {
            name: Some("Warm".into()),
            query: Some("status=new\u{0}".into()),
            shared: Some(true),
        };
        assert!(view.apply(bad).is_err());
        assert_eq!((view.name.as_str(), view.shared), ("Hot", false));
        let same = ViewPatch {
            name: Some("Hot".into()),
            ..ViewPatch::default()
        };
        assert_eq!(view.apply(same), Ok(false));
        let share = ViewPatch {
            shared: Some(true),
            ..ViewPatch::default()
        };
        assert_eq!(view.apply(share), Ok(true));
        view.touch(2_000);
        assert_eq!((view.version, view.updated_at), (2, 2_000));
    }
}
