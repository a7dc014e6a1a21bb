//! Users: people who sign in to a tenant.

use crm_core::{TenantId, UserId};

use super::Millis;
use super::email::Email;

/// Whether a user may sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserStatus {
    /// May sign in.
    Active,
    /// May not sign in or refresh.
    Deactivated,
    /// Soft-deleted; kept for the audit trail.
    Deleted,
}

impl UserStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Deactivated => "deactivated",
            UserStatus::Deleted => "deleted",
        }
    }

    /// From the stored form.
    pub fn from_stored(s: &str) -> UserStatus {
        match s {
            "deactivated" => UserStatus::Deactivated,
            "deleted" => UserStatus::Deleted,
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
    /// When created.
    pub created_at: Millis,
    /// When last changed.
    pub updated_at: Millis,
    /// Last successful login.
    pub last_login_at: Option<Millis>,
    /// Bumped on every change; the etag.
    pub version: i64,
}

/// Checks a display name (the shared rules for names people read).
pub fn parse_display_name(raw: &str) -> Result<String, String> {
    crm_core::text::name(raw, 1, 100)
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
            created_at: now,
            updated_at: now,
            last_login_at: None,
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

    /// Whether the user may sign in.
    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }

    /// The etag clients send back.
    pub fn etag(&self) -> String {
        self.version.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
