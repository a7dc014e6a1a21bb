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
                .update_with(caller, id, "", change.owner_id, &[], "", |c| change.of(c))
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

/// The ids of a batch, refused as a whole (on the field `ids`, or `ids[i]` for one that is not a
/// customer id) when there are none, too many, or one twice: a request like that is the
/// caller's mistake, not one customer's outcome.
pub fn batch_ids(raw: &[String]) -> Result<Vec<Uuid>> {
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
    let mut ids = Vec::with_capacity(raw.len());
    for (i, id) in raw.iter().enumerate() {
        let id = Uuid::try_parse(id.trim())
            .map_err(|_| Error::invalid_field(format!("ids[{i}]"), "is not a customer id"))?;
        if !seen.insert(id) {
            return Err(Error::invalid_field(
                format!("ids[{i}]"),
                "is named before; name each customer once",
            ));
        }
        ids.push(id);
    }
    Ok(ids)
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
        assert_eq!(BatchChange::default().of(&c).1, Vec::<String>::new());
    }

    #[test]
    fn a_batch_names_one_to_a_hundred_customers_each_once() {
        let id = Uuid::now_v7();
        assert_eq!(batch_ids(&[id.to_string()]).unwrap(), [id]);
        for (refused, field) in [
            (Vec::new(), "ids"),
            (vec![id.to_string(), id.to_string()], "ids[1]"),
            (vec![id.to_string(), "nope".into()], "ids[1]"),
            (
                (0..=MAX_BATCH)
                    .map(|_| Uuid::now_v7().to_string())
                    .collect(),
                "ids",
            ),
        ] {
            let err = batch_ids(&refused).unwrap_err();
            assert!(
                err.to_string().contains(&format!("invalid {field}:")),
                "{err}"
            );
        }
    }
}
