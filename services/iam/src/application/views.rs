//! Saved views: a person's own, and those shared with the workspace (`views.share`).

use crm_core::{Error, Principal, Result};
use uuid::Uuid;

use super::rules::invalid;
use super::{Caller, Iam, check_etag};
use crate::domain::ports::Changes;
use crate::domain::saved_view::{MAX_PER_LIST, SHARE, SavedView, ViewPatch, read_permission};

/// `PERMISSION_DENIED` unless the caller holds `permission` at some scope (a rep's own
/// customers are a list of customers too).
fn reads(p: &Principal, permission: &str) -> Result<()> {
    match p.scope(permission) {
        Some(_) => Ok(()),
        None => Err(Error::missing_permission(permission)),
    }
}

/// Whether the caller is a person (views belong to people, not to keys or services).
fn is_person(p: &Principal) -> bool {
    p.api_key_id.is_none() && p.service.is_none()
}

fn person_only(p: &Principal) -> Result<()> {
    if is_person(p) {
        Ok(())
    } else {
        Err(Error::permission_denied(
            "saved views belong to people: sign in as one to keep or change views",
        ))
    }
}

/// The view as `p` may reach it: their own, or one shared with the workspace, of a list they
/// may read; another person's own view is NOT_FOUND, as if it did not exist.
fn reach(p: &Principal, view: &SavedView) -> Result<()> {
    if !view.shared && view.owner_id != p.user_id {
        return Err(Error::not_found("saved view", view.id));
    }
    reads(
        p,
        read_permission("list", &view.list).map_err(|e| invalid(vec![e]))?,
    )
}

/// Changing what the workspace sees (a shared view, or sharing one) takes `views.share`.
fn may_change(p: &Principal, view: &SavedView, shares: bool) -> Result<()> {
    if view.shared || shares {
        p.require(SHARE)?;
    }
    Ok(())
}

impl Iam {
    /// Saves a view of `list` for the caller, shared when `patch.shared` says so.
    pub async fn create_saved_view(
        &self,
        caller: &Caller,
        list: &str,
        patch: ViewPatch,
    ) -> Result<SavedView> {
        let permission = read_permission("saved_view.list", list).map_err(|e| invalid(vec![e]))?;
        let p = self.current(caller).await?;
        reads(&p, permission)?;
        person_only(&p)?;
        if patch.shared == Some(true) {
            p.require(SHARE)?;
        }
        let view =
            SavedView::new(p.tenant_id, p.user_id, list, patch, self.now()).map_err(invalid)?;
        self.store.insert_saved_view(&view, MAX_PER_LIST).await?;
        Ok(view)
    }

    /// The views of `list` the caller may open (keys and services: the shared ones), oldest
    /// first, after `after`.
    pub async fn list_saved_views(
        &self,
        caller: &Caller,
        list: &str,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<SavedView>> {
        let permission = read_permission("list", list).map_err(|e| invalid(vec![e]))?;
        let p = self.current(caller).await?;
        reads(&p, permission)?;
        let viewer = is_person(&p).then_some(p.user_id);
        self.store
            .list_saved_views(p.tenant_id, list, viewer, after, limit)
            .await
    }

    /// Changes a view the caller reaches (a shared one, or sharing it: `views.share`).
    pub async fn update_saved_view(
        &self,
        caller: &Caller,
        id: Uuid,
        etag: &str,
        patch: ViewPatch,
    ) -> Result<SavedView> {
        let p = self.current(caller).await?;
        person_only(&p)?;
        let now = self.now();
        let change = move |view: &mut SavedView| {
            reach(&p, view)?;
            may_change(&p, view, patch.shared == Some(true))?;
            check_etag(etag, view.version, "saved view")?;
            if !view.apply(patch.clone()).map_err(invalid)? {
                return Ok(None);
            }
            view.touch(now);
            Ok(Some(Changes::default()))
        };
        self.store
            .update_saved_view(caller.principal.tenant_id, id, Box::new(change))
            .await
    }

    /// Deletes a view the caller reaches (a shared one: `views.share`).
    pub async fn delete_saved_view(&self, caller: &Caller, id: Uuid, etag: &str) -> Result<()> {
        let p = self.current(caller).await?;
        person_only(&p)?;
        let check = move |view: &SavedView| {
            reach(&p, view)?;
            may_change(&p, view, false)?;
            check_etag(etag, view.version, "saved view")
        };
        self.store
            .delete_saved_view(caller.principal.tenant_id, id, Box::new(check))
            .await
    }
}
