//! A list's bulk actions: one change given to many customers, or many deleted, each customer on
//! its own (its checks, its transaction, its events), so one refused never stops the others.

use crm_core::{Error, Result, UserId};
use uuid::Uuid;

use super::{Caller, Customers};
use crate::domain::customer::{Customer, CustomerInput, Status};

/// The most customers one batch takes.
pub const MAX_BATCH: usize = 100;

/// The change a bulk action gives each customer; what is `None` or empty stays as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchChange {
    /// The new owner.
    pub owner_id: Option<UserId>,
    /// The new status.
    pub status: Option<Status>,
    /// Tags to add (normalised: trimmed, lower-cased, each once).
    pub add_tags: Vec<String>,
    /// Tags to take away (normalised).
    pub remove_tags: Vec<String>,
}

impl BatchChange {
    /// Whether it changes nothing at all.
    pub fn is_empty(&self) -> bool {
        self.owner_id.is_none()
            && self.status.is_none()
            && self.add_tags.is_empty()
            && self.remove_tags.is_empty()
    }

    /// What it asks of `c` as stored: the input and the fields it sets.
    fn of(&self, c: &Customer) -> (CustomerInput, Vec<String>) {
        let mut paths = Vec::new();
        let mut input = CustomerInput::default();
        if let Some(owner) = self.owner_id {
            input.owner_id = Some(owner);
            paths.push("owner_id".to_owned());
        }
        if let Some(status) = self.status {
            input.status = Some(status);
            paths.push("status".to_owned());
        }
        if !self.add_tags.is_empty() || !self.remove_tags.is_empty() {
            let mut tags: Vec<String> = c
                .tags
                .iter()
                .filter(|t| !self.remove_tags.contains(t))
                .cloned()
                .collect();
            for tag in &self.add_tags {
                if !tags.contains(tag) && !self.remove_tags.contains(tag) {
                    tags.push(tag.clone());
                }
            }
            input.tags = tags;
            paths.push("tags".to_owned());
        }
        (input, paths)
    }
}

impl Customers {
    /// Gives `change` to each of `ids`, in order: each one's outcome.
    pub async fn change_each(
        &self,
        caller: &Caller,
        ids: &[Uuid],
        change: &BatchChange,
    ) -> Vec<Result<Customer>> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let done = self
                .update_with(caller, id, "", change.owner_id, "", |c| change.of(c))
                .await;
            out.push(done);
        }
        out
    }

    /// Deletes each of `ids`, in order, as [`Customers::delete`] without closing opportunities:
    /// each one's outcome.
    pub async fn delete_each(&self, caller: &Caller, ids: &[Uuid]) -> Vec<Result<()>> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            out.push(self.delete(caller, id, "", false).await);
        }
        out
    }
}

/// The ids of a batch, refused as a whole (on the field `ids`) when there are none, too many
/// or one twice; an id that is not one is that item's own failure.
pub fn batch_ids(raw: &[String]) -> Result<Vec<std::result::Result<Uuid, Error>>> {
    if raw.is_empty() {
        return Err(Error::invalid_field("ids", "name at least one customer"));
    }
    if raw.len() > MAX_BATCH {
        return Err(Error::invalid_field(
            "ids",
            format!(
                "{} customers at once; at most {MAX_BATCH}: send the rest in another batch",
                raw.len()
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = raw.iter().find(|id| !seen.insert(id.trim())) {
        return Err(Error::invalid_field(
            "ids",
            format!(
                "{} is named twice; name each customer once",
                crm_core::error::clip(twice)
            ),
        ));
    }
    Ok(raw
        .iter()
        .enumerate()
        .map(|(i, id)| {
            Uuid::try_parse(id.trim())
                .map_err(|_| Error::invalid_field(format!("ids[{i}]"), "is not a customer id"))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_added_once_and_taken_away_and_the_rest_kept() {
        let c = Customer::create(
            crm_core::TenantId::new(),
            CustomerInput {
                customer_type: Some(crate::domain::customer::CustomerType::Business),
                business: crate::domain::customer::Business {
                    legal_name: "Kedai Tan".into(),
                    ..Default::default()
                },
                tags: vec!["batik".into(), "songket".into(), "vip".into()],
                ..CustomerInput::default()
            },
            UserId::new(),
            1,
        )
        .unwrap();
        let change = BatchChange {
            add_tags: vec!["wholesale".into(), "batik".into()],
            remove_tags: vec!["vip".into()],
            status: Some(Status::Active),
            ..BatchChange::default()
        };
        let (input, paths) = change.of(&c);
        assert_eq!(input.tags, ["batik", "songket", "wholesale"]);
        assert_eq!(input.status, Some(Status::Active));
        assert_eq!(paths, ["status", "tags"]);
        assert!(BatchChange::default().is_empty());
        assert!(!change.is_empty());
    }

    #[test]
    fn a_batch_names_one_to_a_hundred_customers_each_once() {
        let id = Uuid::now_v7().to_string();
        let items = batch_ids(&[id.clone(), "nope".into()]).unwrap();
        assert!(items[0].is_ok());
        let bad = items[1].as_ref().unwrap_err().to_string();
        assert!(bad.contains("ids[1]"), "{bad}");
        for refused in [
            Vec::new(),
            vec![id.clone(), id.clone()],
            (0..=MAX_BATCH)
                .map(|_| Uuid::now_v7().to_string())
                .collect(),
        ] {
            let err = batch_ids(&refused).unwrap_err();
            assert!(err.to_string().contains("ids"), "{err}");
        }
    }
}
