//! Permissions in words: what each allows (`"delete customers"`), so a refusal tells people what
//! they may not do rather than a permission's id.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

/// What each known permission allows, in words, for refusals ([`allows`]).
static WORDS: OnceLock<RwLock<HashMap<&'static str, &'static str>>> = OnceLock::new();

/// Makes permissions known to refusals, each `(name, what it allows)`, so a missing permission
/// is said in words instead of by its id. The launcher tells it every context's (idempotent).
pub fn describe(permissions: impl IntoIterator<Item = (&'static str, &'static str)>) {
    let words = WORDS.get_or_init(Default::default);
    let mut words = words
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    words.extend(permissions);
}

/// What `permission` allows in words (`"delete customers"`), once [`describe`]d.
pub fn allows(permission: &str) -> Option<&'static str> {
    let words = WORDS
        .get()?
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    words.get(permission).copied()
}

/// What `permission` allows in words, else its id.
pub fn words(permission: &str) -> String {
    allows(permission).map_or_else(|| permission.to_owned(), str::to_owned)
}
