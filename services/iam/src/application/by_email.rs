//! Signing in without a workspace's slug: the workspace is found by the email, or by its name.

use crm_core::Result;

use super::Iam;
use super::auth::{account_key, address_key};
use super::rules::locked_out;
use super::signin::{SignIn, Workspace};
use crate::domain::audit::Origin;
use crate::domain::email::Email;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;

/// At most this many workspaces of one email are tried (and offered to choose from).
pub const MAX_WORKSPACES: u32 = 20;

/// The lockout keys of signing in by an email (failures without a workspace's slug or id count
/// here, never toward the lockout of an account of a workspace): from one address, and from
/// everywhere. From one address it locks at an account's limit, so whoever guesses from there
/// locks only themselves out; from everywhere at [`EVERYWHERE`] times that, so guessing spread
/// over many addresses stays bounded without one stranger locking a person out.
fn email_keys(normalised_email: &str, origin: &Origin) -> (Option<String>, String) {
    let here = origin
        .client_address
        .as_ref()
        .map(|ip| format!("email:{normalised_email}@{ip}"));
    (here, format!("email:{normalised_email}"))
}

/// How many times an account's limit signing in by an email takes from everywhere.
pub const EVERYWHERE: u32 = 4;

/// A name as people type it: trimmed, spaces collapsed, any case.
fn folded(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether `typed` names `tenant`: nothing typed names every workspace; else its name or its
/// slug, in any case and spacing.
pub fn names(typed: &str, tenant: &Tenant) -> bool {
    let typed = folded(typed);
    typed.is_empty() || typed == folded(&tenant.name) || typed == tenant.slug.to_lowercase()
}

impl Iam {
    /// Login by email, in the workspaces `typed` names ([`names`]) where the email has an
    /// active account. The password is checked against each such account not locked out: right
    /// in one, the sign-in goes on there; in several, the person chooses (no token issued);
    /// in none, the one answer every failure gets. Failures count toward the email's own
    /// lockouts ([`email_keys`]) and the address's, and are on the trail of each workspace
    /// tried.
    pub(super) async fn login_by_email(
        &self,
        typed: &str,
        email: &str,
        password: &str,
        origin: &Origin,
    ) -> Result<SignIn> {
        let normalised = email.trim().to_lowercase();
        let (here_key, email_key) = email_keys(&normalised, origin);
        let address_key = address_key(origin);
        for key in [here_key.as_ref(), Some(&email_key), address_key.as_ref()]
            .into_iter()
            .flatten()
        {
            if let Some(left) = self.throttle.locked_for(key).await? {
                return Err(locked_out(left));
            }
        }

        let mut accounts: Vec<(Tenant, User)> = Vec::new();
        if let Ok(parsed) = Email::parse(email) {
            for tenant in self
                .store
                .tenants_with_account(&parsed, MAX_WORKSPACES)
                .await?
            {
                // An account locked out by failures in its workspace is not tried here either
                // (nor said to be locked: that would tell whether it exists).
                if !names(typed, &tenant)
                    || self
                        .throttle
                        .locked_for(&account_key(tenant.id, &normalised))
                        .await?
                        .is_some()
                {
                    continue;
                }
                let user = self.store.user_by_email(tenant.id, &parsed).await?;
                if let Some(user) = user.filter(User::is_active) {
                    accounts.push((tenant, user));
                }
            }
        }
        if accounts.is_empty() {
            // The same work as a wrong password, so the answer's time tells nothing.
            self.hasher.verify(password, None).await?;
        }
        let mut right = Vec::new();
        for (tenant, user) in &accounts {
            if self.hasher.verify(password, user.password_phc()).await? {
                right.push((tenant, user));
            }
        }

        match right.as_slice() {
            [] => {
                let s = &self.settings;
                let keys = [
                    (here_key.as_deref(), s.account_failure_limit),
                    (
                        Some(email_key.as_str()),
                        s.account_failure_limit.saturating_mul(EVERYWHERE),
                    ),
                    (address_key.as_deref(), s.address_failure_limit),
                ];
                let tried: Vec<_> = accounts
                    .iter()
                    .map(|(t, u)| (t.id, ("user", u.id.to_string())))
                    .collect();
                Err(self.failed_login(&keys, &tried, origin).await)
            }
            [(tenant, user)] => {
                if let Some(here) = &here_key {
                    self.throttle.reset(here).await?;
                }
                self.throttle
                    .reset(&account_key(tenant.id, &normalised))
                    .await?;
                self.password_accepted(tenant, user, origin).await
            }
            several => Ok(SignIn::Choose(
                several.iter().map(|(t, _)| Workspace::from(*t)).collect(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_is_named_by_its_name_or_slug_in_any_case_and_spacing() {
        let tenant = Tenant::new(
            "Kilang Desa  Murni Batik".into(),
            "kilang-desa".into(),
            1_000,
        );
        for typed in [
            "",
            "  ",
            "Kilang Desa Murni Batik",
            " kilang   DESA murni batik ",
            "KILANG-DESA",
        ] {
            assert!(names(typed, &tenant), "{typed:?} names it");
        }
        for typed in ["Kilang", "kilang desa", "Batik Murni", "kilang_desa"] {
            assert!(!names(typed, &tenant), "{typed:?} does not name it");
        }
    }
}
