//! The second factor: TOTP (RFC 6238, through `totp-rs`: SHA-1, six digits, 30-second steps, one
//! step of skew), one-time recovery codes, the challenge a password sign-in gets when a second
//! factor is needed, and the tenant's policy on who needs one.
//!
//! A code is accepted once: the store keeps the last step accepted per user and refuses a code
//! of that step or an earlier one (RFC 6238 §5.2), so a code seen over a shoulder cannot be
//! replayed within its window. Recovery codes and challenge tokens are stored as SHA-256
//! hashes, like refresh tokens.

use crm_core::{TenantId, UserId};
use totp_rs::{Secret, Totp};

use super::{Millis, opaque};

/// What authenticator apps show as the account's issuer.
pub const ISSUER: &str = "Kilang CRM";
/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;
/// How long a sign-in's challenge can be answered.
pub const CHALLENGE_TTL: Millis = 5 * 60 * 1000;
/// The prefix of a challenge's token ([`super::opaque`]).
pub const CHALLENGE_PREFIX: &str = "mfa_";
/// The letters of recovery codes: no 0/o, 1/l/i to misread.
const CODE_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// A user's second factor: the shared secret, and whether it was confirmed (until then it is
/// only an enrolment in progress and sign-ins do not ask for it).
#[derive(Clone, PartialEq, Eq)]
pub struct Mfa {
    /// The 160-bit shared secret, base32 (RFC 4648, no padding).
    pub secret: String,
    /// When a first code proved the app holds the secret; `None` while enrolling.
    pub confirmed_at: Option<Millis>,
}

impl std::fmt::Debug for Mfa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mfa")
            .field("secret", &"<redacted>")
            .field("confirmed_at", &self.confirmed_at)
            .finish()
    }
}

impl Mfa {
    /// A new enrolment with a fresh random secret.
    pub fn enrol() -> Result<Mfa, getrandom::Error> {
        let mut bytes = [0u8; 20];
        getrandom::fill(&mut bytes)?;
        Ok(Mfa {
            secret: Secret::new_stack(bytes).to_base32(),
            confirmed_at: None,
        })
    }

    /// Whether sign-ins ask for it.
    pub fn is_on(&self) -> bool {
        self.confirmed_at.is_some()
    }

    fn totp(&self, account: &str) -> Option<Totp> {
        let secret = Secret::try_from_base32(&self.secret).ok()?;
        totp_rs::Builder::new()
            .with_secret(secret)
            .with_issuer(Some(ISSUER))
            .with_account_name(account.replace(':', ""))
            .build()
            .ok()
    }

    /// The `otpauth://totp/...` URI an app reads from a QR code, for the account `account`.
    pub fn otpauth_uri(&self, account: &str) -> String {
        self.totp(account)
            .and_then(|t| t.to_url().ok())
            .unwrap_or_default()
    }

    /// The step a six-digit `code` is good for at `now_secs` (this step, the one before or the
    /// one after); `None` if it is good for none. Whether that step was spent already is the
    /// store's to say ([`super::ports::IamStore::spend_second_factor`]).
    pub fn check(&self, code: &str, now_secs: u64) -> Option<i64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        self.totp("")?
            .check(&code, now_secs)
            .map(|step| step as i64)
    }

    /// The code for `secs` (for tests and the README's walkthrough helpers).
    pub fn code_at(&self, secs: u64) -> String {
        self.totp("")
            .map(|t| t.generate(secs).to_string())
            .unwrap_or_default()
    }
}

/// The code an app holding the base32 `secret` shows now; `None` if it is not a secret.
pub fn current_code(secret: &str) -> Option<String> {
    let mfa = Mfa {
        secret: secret.trim().to_owned(),
        confirmed_at: None,
    };
    mfa.totp("")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(mfa.code_at(now))
}

/// Whether `code` looks like a TOTP code (digits) rather than a recovery code.
pub fn is_totp_code(code: &str) -> bool {
    let digits = code.chars().filter(|c| !c.is_whitespace());
    let mut n = 0;
    for c in digits {
        if !c.is_ascii_digit() {
            return false;
        }
        n += 1;
    }
    n == 6
}

/// Ten new recovery codes (`xxxxx-xxxxx`, 50 bits each) and their stored hashes.
pub fn recovery_codes() -> Result<(Vec<String>, Vec<String>), getrandom::Error> {
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let mut bytes = [0u8; 10];
        getrandom::fill(&mut bytes)?;
        let letters: String = bytes
            .iter()
            .map(|b| CODE_ALPHABET[*b as usize % CODE_ALPHABET.len()] as char)
            .collect();
        codes.push(format!("{}-{}", &letters[..5], &letters[5..]));
    }
    let hashes = codes.iter().map(|c| hash_recovery_code(c)).collect();
    Ok((codes, hashes))
}

/// The stored form of a recovery code: case, spaces and dashes do not matter.
pub fn hash_recovery_code(code: &str) -> String {
    let normalised: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    opaque::sha256_hex(&normalised)
}

/// A password sign-in waiting for its second factor.
#[derive(Clone, Debug)]
pub struct Challenge {
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Who signed in with a password.
    pub user_id: UserId,
    /// When the password was checked.
    pub created_at: Millis,
    /// When it can no longer be answered.
    pub expires_at: Millis,
    /// The tenant requires a second factor the user has not set up.
    pub enrollment_required: bool,
    /// Set when it completed a sign-in.
    pub spent_at: Option<Millis>,
}

impl Challenge {
    /// A new challenge and the token that names it (`mfa_<tenant>_<256 random bits>`).
    pub fn issue(
        tenant_id: TenantId,
        user_id: UserId,
        enrollment_required: bool,
        now: Millis,
    ) -> Result<(Challenge, String), getrandom::Error> {
        let token = opaque::mint(CHALLENGE_PREFIX, tenant_id)?;
        let challenge = Challenge {
            token_hash: opaque::sha256_hex(&token),
            tenant_id,
            user_id,
            created_at: now,
            expires_at: now + CHALLENGE_TTL,
            enrollment_required,
            spent_at: None,
        };
        Ok((challenge, token))
    }

    /// Whether it can still be answered at `now`.
    pub fn is_open(&self, now: Millis) -> bool {
        self.spent_at.is_none() && now < self.expires_at
    }
}

/// Who in a tenant must sign in with a second factor. The numbers are `crm.iam.v1.MfaPolicy`'s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaPolicy {
    /// Each user chooses.
    #[default]
    Optional,
    /// Users who may manage users.
    Admins,
    /// Everyone.
    Everyone,
}

impl MfaPolicy {
    /// From the API's number (0, unset, is optional); `None` for a number that is no policy.
    pub fn from_i32(n: i32) -> Option<MfaPolicy> {
        match n {
            0 | 1 => Some(MfaPolicy::Optional),
            2 => Some(MfaPolicy::Admins),
            3 => Some(MfaPolicy::Everyone),
            _ => None,
        }
    }

    /// The API's number.
    pub fn as_i32(self) -> i32 {
        match self {
            MfaPolicy::Optional => 1,
            MfaPolicy::Admins => 2,
            MfaPolicy::Everyone => 3,
        }
    }

    /// Whether a user with these effective permissions must have a second factor.
    pub fn requires(self, permissions: &[String]) -> bool {
        match self {
            MfaPolicy::Optional => false,
            MfaPolicy::Admins => permissions.iter().any(|p| p == "users.manage"),
            MfaPolicy::Everyone => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_good_for_its_step_and_the_neighbours() {
        let mfa = Mfa::enrol().unwrap();
        assert_eq!(
            Secret::try_from_base32(&mfa.secret)
                .unwrap()
                .as_bytes()
                .len(),
            20
        );
        let now = 1_800_000_000u64;
        let step = (now / 30) as i64;
        let code = mfa.code_at(now);
        assert_eq!(code.len(), 6);
        assert_eq!(mfa.check(&code, now), Some(step));
        assert_eq!(
            mfa.check(&format!("{} {}", &code[..3], &code[3..]), now),
            Some(step)
        );
        // The app's clock a step behind or ahead.
        assert_eq!(mfa.check(&mfa.code_at(now - 30), now), Some(step - 1));
        assert_eq!(mfa.check(&mfa.code_at(now + 30), now), Some(step + 1));
        assert_eq!(mfa.check(&mfa.code_at(now - 60), now), None);
        assert_eq!(mfa.check("000000x", now), None);
        let other = Mfa::enrol().unwrap();
        assert_ne!(other.secret, mfa.secret);
    }

    #[test]
    fn the_uri_is_what_apps_read_and_debug_hides_the_secret() {
        let mfa = Mfa::enrol().unwrap();
        let uri = mfa.otpauth_uri("siti@kilang.test");
        assert!(
            uri.starts_with("otpauth://totp/Kilang%20CRM:siti%40kilang.test?"),
            "{uri}"
        );
        assert!(uri.contains(&format!("secret={}", mfa.secret)), "{uri}");
        assert!(uri.contains("issuer=Kilang%20CRM"), "{uri}");
        assert!(!format!("{mfa:?}").contains(&mfa.secret));
    }

    #[test]
    fn recovery_codes_are_distinct_readable_and_hashed_loosely() {
        let (codes, hashes) = recovery_codes().unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        for (code, hash) in codes.iter().zip(&hashes) {
            assert_eq!(code.len(), 11);
            assert!(!is_totp_code(code));
            assert_eq!(
                &hash_recovery_code(&code.to_uppercase().replace('-', " ")),
                hash
            );
        }
        assert!(is_totp_code("123 456"));
        assert!(!is_totp_code("12345"));
    }

    #[test]
    fn a_challenge_names_its_tenant_and_closes() {
        let tenant = TenantId::new();
        let (challenge, token) = Challenge::issue(tenant, UserId::new(), false, 1_000).unwrap();
        assert_eq!(opaque::tenant_of(CHALLENGE_PREFIX, &token), Some(tenant));
        assert_eq!(challenge.token_hash, opaque::sha256_hex(&token));
        assert!(challenge.is_open(1_000 + CHALLENGE_TTL - 1));
        assert!(!challenge.is_open(1_000 + CHALLENGE_TTL));
        assert_eq!(opaque::tenant_of(CHALLENGE_PREFIX, "rt_x_y"), None);
        assert_eq!(
            opaque::tenant_of(CHALLENGE_PREFIX, &token.replace("mfa_", "rt_")),
            None
        );
    }

    #[test]
    fn the_policy_covers_whom_it_says() {
        let admin = vec!["users.manage".to_owned()];
        let rep = vec!["customers.read".to_owned()];
        assert!(!MfaPolicy::Optional.requires(&admin));
        assert!(MfaPolicy::Admins.requires(&admin));
        assert!(!MfaPolicy::Admins.requires(&rep));
        assert!(MfaPolicy::Everyone.requires(&rep));
        for p in [MfaPolicy::Optional, MfaPolicy::Admins, MfaPolicy::Everyone] {
            assert_eq!(MfaPolicy::from_i32(p.as_i32()), Some(p));
        }
        assert_eq!(MfaPolicy::from_i32(0), Some(MfaPolicy::Optional));
        assert_eq!(MfaPolicy::from_i32(4), None);
    }
}
