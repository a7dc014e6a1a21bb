//! What a sign-in answers: the session's tokens, or a second factor still to give.

use crate::domain::Millis;
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
    /// Signed in.
    Done(Box<SessionTokens>),
    /// The password was right; a second factor is needed before any token is issued.
    SecondFactor(PendingSignIn),
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
