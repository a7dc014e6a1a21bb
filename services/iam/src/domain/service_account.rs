//! Service accounts: how the CRM's own services prove who they are to IAM (OAuth2 client
//! credentials, RFC 6749 §4.4) in microservices mode, and what each may do.
//!
//! The catalog is code, reviewed like any other grant: each service, the callees it may get
//! tokens for (one audience per context, `crm.customer`), and the permissions its background
//! work needs, nothing more. Operators hold only the secrets: IAM's configuration keeps the
//! SHA-256 of each (`iam.service_accounts.<name>`), the service keeps the secret.

/// One service's account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceAccount {
    /// The service, as `--target` names it.
    pub name: &'static str,
    /// The contexts it may call (token audiences).
    pub audiences: &'static [&'static str],
    /// What its tokens carry.
    pub permissions: &'static [&'static str],
}

/// The permission of the internal directory (`DirectoryService`), which no role grants.
pub const DIRECTORY_READ: &str = "directory.read";

/// Every service that calls another, with what it needs.
pub const SERVICE_ACCOUNTS: &[ServiceAccount] = &[
    ServiceAccount {
        name: "sales",
        // A won deal's saga makes its customer; recovery finishes it long after the user left.
        audiences: &["crm.customer", "crm.iam"],
        // An undone conversion deletes the customer it made (compensation).
        permissions: &[
            "customers.read",
            "customers.write",
            "customers.delete",
            "directory.read",
        ],
    },
    ServiceAccount {
        name: "notification",
        // Recipients' addresses and the customers events name.
        audiences: &["crm.iam", "crm.customer"],
        permissions: &["directory.read", "customers.read"],
    },
    ServiceAccount {
        name: "customer",
        // Owners' names and addresses.
        audiences: &["crm.iam"],
        permissions: &["directory.read"],
    },
];

/// The account of `name`, if the CRM has one.
pub fn account(name: &str) -> Option<&'static ServiceAccount> {
    SERVICE_ACCOUNTS.iter().find(|a| a.name == name)
}

/// What IAM's configuration keeps of a secret: SHA-256, hex. Secrets are random (see
/// [`new_secret`]), so a fast hash is enough, as for API keys.
pub fn hash_secret(secret: &str) -> String {
    super::opaque::sha256_hex(secret)
}

/// Whether `secret` is the one whose hash is `stored`, compared in constant time.
pub fn secret_matches(secret: &str, stored: &str) -> bool {
    let sent = hash_secret(secret);
    sent.len() == stored.len()
        && sent
            .bytes()
            .zip(stored.to_ascii_lowercase().bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A new random secret (256 bits, base64url).
pub fn new_secret() -> Result<String, getrandom::Error> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!(
        "ksvc_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_known_by_name_and_secrets_match_only_their_hash() {
        let sales = account("sales").unwrap();
        assert!(sales.audiences.contains(&"crm.customer"));
        assert!(account("edge").is_none());
        let secret = new_secret().unwrap();
        let stored = hash_secret(&secret);
        assert_eq!(stored.len(), 64);
        assert!(secret_matches(&secret, &stored));
        assert!(secret_matches(&secret, &stored.to_uppercase()));
        assert!(!secret_matches(&new_secret().unwrap(), &stored));
        assert!(!secret_matches(&secret, "abc"));
        for a in SERVICE_ACCOUNTS {
            for audience in a.audiences {
                assert_eq!(audience.matches('.').count(), 1, "{audience}");
            }
            // That each is a permission of some context is checked where every context is
            // known: the launcher's tests (`services/crm/tests/contexts.rs`).
            assert!(!a.permissions.is_empty(), "{}", a.name);
        }
    }
}
