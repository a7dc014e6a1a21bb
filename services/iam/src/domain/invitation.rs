//! Invitations: how a person joins a workspace. The inviter names them and their roles; they get
//! an email with a one-time link (`inv_<tenant>_<secret>`, stored only as its SHA-256) that
//! works for 72 hours, where they choose their own password. Sending the link again replaces
//! it; revoking or accepting ends it.

use crm_core::{Error, ErrorKind, TenantId, UserId};

use super::Millis;
use super::opaque;

/// The prefix of an invitation's token.
pub const PREFIX: &str = "inv_";

/// How long a link works: 72 hours.
pub const LIFETIME_MS: Millis = 72 * 3600 * 1000;

/// Where a link leads, after the console's address: the token follows. A fragment never
/// reaches a server's logs or another site's `Referer`.
pub const CONSOLE_PATH: &str = "/#invitation/";

/// A pending invitation: the current link of an invited user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The invited user (status `Invited`).
    pub user_id: UserId,
    /// SHA-256 (hex) of the current link's token.
    pub token_hash: String,
    /// Who invited them, or sent the current link.
    pub invited_by: UserId,
    /// When the current link was sent.
    pub sent_at: Millis,
    /// When it stops working.
    pub expires_at: Millis,
    /// Links sent so far.
    pub send_count: i32,
}

impl Invitation {
    /// A new link for `user`, sent by `by` at `now` (the `send_count`-th), and its token.
    pub fn mint(
        tenant_id: TenantId,
        user_id: UserId,
        by: UserId,
        now: Millis,
        send_count: i32,
    ) -> crm_core::Result<(Invitation, String)> {
        let token = opaque::mint(PREFIX, tenant_id)
            .map_err(|e| Error::internal("no randomness for an invitation", e))?;
        let invitation = Invitation {
            tenant_id,
            user_id,
            token_hash: opaque::sha256_hex(&token),
            invited_by: by,
            sent_at: now,
            expires_at: now + LIFETIME_MS,
            send_count,
        };
        Ok((invitation, token))
    }

    /// Whether the link still works at `now`.
    pub fn is_open(&self, now: Millis) -> bool {
        now < self.expires_at
    }
}

/// The link a person opens: `console` (no trailing slash needed) and the token.
pub fn link(console: &str, token: &str) -> String {
    format!("{}{CONSOLE_PATH}{token}", console.trim_end_matches('/'))
}

/// The answer for a token that is unknown, used, revoked or replaced: one answer for all, so a
/// token's history is not told.
pub fn invalid_error() -> Error {
    Error::new(
        ErrorKind::NotFound,
        "this invitation link does not work: it was used, withdrawn or replaced by a newer one; \
         ask whoever invited you to send it again",
    )
    .with_reason("INVITATION_INVALID")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_names_its_tenant_and_works_for_72_hours() {
        let tenant = TenantId::new();
        let (invitation, token) =
            Invitation::mint(tenant, UserId::new(), UserId::new(), 1_000, 1).unwrap();
        assert_eq!(opaque::tenant_of(PREFIX, &token), Some(tenant));
        assert_eq!(invitation.token_hash, opaque::sha256_hex(&token));
        assert!(invitation.is_open(1_000 + LIFETIME_MS - 1));
        assert!(!invitation.is_open(1_000 + LIFETIME_MS));
        assert_eq!(
            link("https://crm.kilang.example/", &token),
            format!("https://crm.kilang.example/#invitation/{token}")
        );
    }
}
