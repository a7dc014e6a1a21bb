//! Users: people who sign in to a tenant.

use crm_core::{TenantId, UserId};

use super::Millis;
use super::email::Email;
use super::mfa::Mfa;

/// Whether a user may sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserStatus {
    /// May sign in.
    Active,
    /// May not sign in or refresh.
    Deactivated,
    /// Soft-deleted; kept for the audit trail.
    Deleted,
    /// Invited and not accepted yet: holds its email and roles, may not sign in.
    Invited,
}

impl UserStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Deactivated => "deactivated",
            UserStatus::Deleted => "deleted",
            UserStatus::Invited => "invited",
        }
    }

    /// From the stored form.
    pub fn from_stored(s: &str) -> UserStatus {
        match s {
            "deactivated" => UserStatus::Deactivated,
            "deleted" => UserStatus::Deleted,
            "invited" => UserStatus::Invited,
            _ => UserStatus::Active,
        }
    }
}

/// A user of a tenant.
#[derive(Clone, Debug)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Unique per tenant among users not deleted.
    pub email: Email,
    /// Shown to colleagues.
    pub display_name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Status.
    pub status: UserStatus,
    /// Role names, sorted, each once.
    pub roles: Vec<String>,
    /// Team, for team-scoped grants.
    pub team: Option<String>,
    /// The language they read the console and their notices in (a BCP 47 tag); none: the
    /// workspace's.
    pub locale: Option<String>,
    /// When created.
    pub created_at: Millis,
    /// When last changed.
    pub updated_at: Millis,
    /// Last successful login.
    pub last_login_at: Option<Millis>,
    /// The second factor, confirmed or being enrolled.
    pub mfa: Option<Mfa>,
    /// Bumped on every change; the etag.
    pub version: i64,
}

/// The password hash of a user provisioned by single sign-on: no password matches it.
pub const NO_PASSWORD: &str = "!sso";

/// Checks a display name (the shared rules for names people read).
pub fn parse_display_name(raw: &str) -> Result<String, String> {
    crm_core::text::name(raw, 1, 100)
}

/// Checks a person's language (empty means the workspace's).
pub fn parse_locale(raw: &str) -> Result<Option<String>, &'static str> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        crm_core::text::locale(raw.trim()).map(Some)
    }
}

/// Checks a team name (empty means none).
pub fn parse_team(raw: &str) -> Result<Option<String>, String> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        crm_core::text::name(raw, 1, 64).map(Some)
    }
}

impl User {
    /// A new active user.
    pub fn new(
        tenant_id: TenantId,
        email: Email,
        display_name: String,
        password_hash: String,
        roles: Vec<String>,
        now: Millis,
    ) -> User {
        let mut user = User {
            id: UserId::new(),
            tenant_id,
            email,
            display_name,
            password_hash,
            status: UserStatus::Active,
            roles: Vec::new(),
            team: None,
            locale: None,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            mfa: None,
            version: 1,
        };
        for role in roles {
            user.grant(&role);
        }
        user
    }

    /// Whether the user holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Grants a role; false if already held.
    pub fn grant(&mut self, role: &str) -> bool {
        if self.has_role(role) {
            return false;
        }
        self.roles.push(role.to_owned());
        self.roles.sort();
        true
    }

    /// Revokes a role; false if not held.
    pub fn revoke(&mut self, role: &str) -> bool {
        let before = self.roles.len();
        self.roles.retain(|r| r != role);
        before != self.roles.len()
    }

    /// The password hash to check a password against; `None` for a user who signs in only
    /// through the tenant's identity provider ([`NO_PASSWORD`]).
    pub fn password_phc(&self) -> Option<&str> {
        (self.password_hash != NO_PASSWORD).then_some(self.password_hash.as_str())
    }

    /// Whether signing in needs a second factor.
    pub fn mfa_on(&self) -> bool {
        self.mfa.as_ref().is_some_and(Mfa::is_on)
    }

    /// Whether the user may sign in.
    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }

    /// The etag clients send back.
    pub fn etag(&self) -> String {
        self.version.to_string()
    }

    /// Applies an update: each field given is parsed by its rule and changed if it differs.
    /// Returns the fields that changed (none: nothing to save), or every problem found, by the
    /// request field it concerns. Deleting is not an update (`delete`). Does not bump the version;
    /// the change is recorded by [`User::touch`].
    pub fn apply(
        &mut self,
        patch: &UserPatch,
    ) -> Result<Vec<&'static str>, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let mut changed = Vec::new();
        if let Some(raw) = &patch.email {
            match Email::parse(raw) {
                Ok(email) if email != self.email && self.status == UserStatus::Invited => {
                    problems.push((
                        "user.email",
                        "the invitation went to the address it has: revoke it and invite the right one"
                            .to_owned(),
                    ));
                }
                Ok(email) if email != self.email => {
                    self.email = email;
                    changed.push("email");
                }
                Ok(_) => {}
                Err(e) => problems.push(("user.email", e.to_owned())),
            }
        }
        if let Some(raw) = &patch.display_name {
            match parse_display_name(raw) {
                Ok(name) if name != self.display_name => {
                    self.display_name = name;
                    changed.push("display_name");
                }
                Ok(_) => {}
                Err(e) => problems.push(("user.display_name", e)),
            }
        }
        if let Some(raw) = &patch.team {
            match parse_team(raw) {
                Ok(team) if team != self.team => {
                    self.team = team;
                    changed.push("team");
                }
                Ok(_) => {}
                Err(e) => problems.push(("user.team", e)),
            }
        }
        if let Some(raw) = &patch.locale {
            match parse_locale(raw) {
                Ok(locale) if locale != self.locale => {
                    self.locale = locale;
                    changed.push("locale");
                }
                Ok(_) => {}
                Err(e) => problems.push(("user.locale", e.to_owned())),
            }
        }
        match patch.status {
            Some(UserStatus::Deleted) => {
                problems.push(("user.status", "use DeleteUser to delete a user".to_owned()));
            }
            Some(UserStatus::Invited) => {
                problems.push((
                    "user.status",
                    "use InviteUser to invite a person".to_owned(),
                ));
            }
            Some(_) if self.status == UserStatus::Invited => {
                problems.push((
                    "user.status",
                    "they have not accepted the invitation yet: resend or revoke it".to_owned(),
                ));
            }
            Some(status) if status != self.status => {
                self.status = status;
                changed.push("status");
            }
            _ => {}
        }
        if problems.is_empty() {
            Ok(changed)
        } else {
            Err(problems)
        }
    }

    /// Soft-deletes the user (the row stays for the audit trail; the email is freed).
    pub fn delete(&mut self) {
        self.status = UserStatus::Deleted;
    }

    /// Records a change made at `now`: a new version (etag) and update time.
    pub fn touch(&mut self, now: Millis) {
        self.version += 1;
        self.updated_at = now;
    }
}

/// The fields an update may change; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserPatch {
    /// New email.
    pub email: Option<String>,
    /// New display name.
    pub display_name: Option<String>,
    /// Active or deactivated.
    pub status: Option<UserStatus>,
    /// New team (empty clears it).
    pub team: Option<String>,
    /// New language (empty: the workspace's).
    pub locale: Option<String>,
}

impl UserPatch {
    /// Whether it changes nothing but the display name and the language (which users may
    /// change for themselves).
    pub fn only_own_profile(&self) -> bool {
        self.email.is_none() && self.status.is_none() && self.team.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn siti() -> User {
        let email = Email::parse("siti@kilang.example").unwrap();
        User::new(
            TenantId::new(),
            email,
            "Siti".into(),
            "h".into(),
            vec![],
            1_000,
        )
    }

    #[test]
    fn a_patch_changes_what_differs_and_reports_every_problem() {
        let mut user = siti();
        let patch = UserPatch {
            email: Some("SITI@kilang.example".into()),
            display_name: Some("Siti Aminah".into()),
            team: Some("Kuantan".into()),
            status: Some(UserStatus::Deactivated),
            locale: Some(" ms-my ".into()),
        };
        assert_eq!(
            user.apply(&patch).unwrap(),
            ["display_name", "team", "locale", "status"]
        );
        assert_eq!(
            user.locale.as_deref(),
            Some("ms-MY"),
            "kept in its canonical form"
        );
        assert_eq!(
            user.version, 1,
            "applying does not record the change; touch does"
        );
        user.touch(2_000);
        assert_eq!((user.version, user.updated_at), (2, 2_000));

        let bad = UserPatch {
            email: Some("not an email".into()),
            display_name: Some("\u{202E}".into()),
            status: Some(UserStatus::Deleted),
            team: None,
            locale: Some("klingon".into()),
        };
        let fields: Vec<_> = user
            .apply(&bad)
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            [
                "user.email",
                "user.display_name",
                "user.locale",
                "user.status"
            ]
        );
    }

    #[test]
    fn an_empty_language_is_the_workspaces() {
        let mut user = siti();
        user.locale = Some("en-MY".into());
        let clear = UserPatch {
            locale: Some(String::new()),
            ..UserPatch::default()
        };
        assert!(
            clear.only_own_profile(),
            "a person may change their own language"
        );
        assert_eq!(user.apply(&clear).unwrap(), ["locale"]);
        assert_eq!(user.locale, None);
        let team = UserPatch {
            team: Some("Kuantan".into()),
            locale: Some("ms".into()),
            ..UserPatch::default()
        };
        assert!(!team.only_own_profile(), "the team is not theirs to change");
    }

    #[test]
    fn roles_stay_sorted_and_unique() {
        let email = Email::parse("siti@kilang.example").unwrap();
        let mut user = User::new(
            TenantId::new(),
            email,
            "Siti".into(),
            "h".into(),
            vec!["viewer".into(), "admin".into()],
            0,
        );
        assert_eq!(user.roles, ["admin", "viewer"]);
        assert!(!user.grant("admin"));
        assert!(user.grant("sales_rep"));
        assert_eq!(user.roles, ["admin", "sales_rep", "viewer"]);
        assert!(user.revoke("admin"));
        assert!(!user.revoke("admin"));
    }

    #[test]
    fn display_names_and_teams_are_checked() {
        assert_eq!(parse_display_name("  Siti Aminah ").unwrap(), "Siti Aminah");
        assert!(parse_display_name(" ").is_err());
        assert_eq!(parse_team(" ").unwrap(), None);
        assert_eq!(parse_team("Kuantan").unwrap().as_deref(), Some("Kuantan"));
    }
}
