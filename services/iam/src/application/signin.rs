//! What a sign-in answers: the session's tokens, or a second factor still to give.

use crm_core::TenantId;

use crate::domain::Millis;
use crate::domain::tenant::Tenant;
use crate::domain::user::User;

/// A signed-in session.
#[derive(Clone, Debug)]
pub struct SessionTokens {
    /// The JWT.
    pub access_token: String,
    /// Its expiry.
    pub access_expires_at: Millis,
    /// The opaque refresh token.
    pub refresh_token: String,
    /// Its expiry.
    pub refresh_expires_at: Millis,
    /// Who is signed in.
    pub user: User,
}

/// How a sign-in with a password ended.
#[derive(Clone, Debug)]
pub enum SignIn {
    /// Signed in, to that workspace.
    Done(Box<SessionTokens>, Workspace),
    /// The password was right; a second factor is needed before any token is issued.
    SecondFactor(PendingSignIn, Workspace),
    /// No workspace was named and the email and password are right in several: nothing is
    /// issued; the person chooses one (by name order) and signs in to it.
    Choose(Vec<Workspace>),
}

/// A workspace as a sign-in names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    /// The tenant.
    pub id: TenantId,
    /// Its name.
    pub name: String,
    /// Its slug.
    pub slug: String,
}

impl From<&Tenant> for Workspace {
    fn from(t: &Tenant) -> Self {
        Workspace {
            id: t.id,
            name: t.name.clone(),
            slug: t.slug.clone(),
        }
    }
}

/// A sign-in waiting for AuthService.VerifyMfa.
#[derive(Clone, Debug)]
pub struct PendingSignIn {
    /// Names the challenge.
    pub mfa_token: String,
    /// When it stops working.
    pub expires_at: Millis,
    /// The user must enrol first (the tenant requires a second factor).
    pub enrollment_required: bool,
}
