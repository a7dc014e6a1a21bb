//! IAM's use cases on fakes: a password "hasher" that does no argon2, a signer with no keys, an
//! OpenID provider answering from a script and a clock that moves only when told, over the
//! SQLite store. Time-dependent rules (lockouts, revocation marks, timestamps, sign-in flows)
//! are checked by moving the clock, never by sleeping.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use crm_core::auth::AccessClaims;
use crm_core::clock::{Clock, ManualClock};
use crm_core::config::Config;
use crm_core::idempotency::Idempotency;
use crm_core::revocation::Revocations;
use crm_core::storage::Database;
use crm_core::{ErrorKind, Principal, Result};
use crm_iam::application::{Adapters, Caller, Iam, IamSettings, SignIn};
use crm_iam::domain::audit::Origin;
use crm_iam::domain::password::Password;
use crm_iam::domain::ports::{PasswordHashing, TokenSigning};
use crm_iam::infrastructure::sql::SqlIamStore;
use crm_iam::infrastructure::throttle::MemoryThrottle;

mod by_email;
mod invitations;
mod mfa;
mod sso;

/// Stores the password as is, behind a prefix: instant, and obviously not for production.
struct FakeHasher;

#[async_trait]
impl PasswordHashing for FakeHasher {
    async fn hash(&self, password: &Password) -> Result<String> {
        Ok(format!("fake${}", password.expose()))
    }

    async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool> {
        Ok(phc == Some(format!("fake${password}").as_str()))
    }
}

/// Signs nothing: the token names its subject, which is all a use case passes on.
struct FakeSigner;

impl TokenSigning for FakeSigner {
    fn sign(&self, claims: &AccessClaims) -> Result<String> {
        Ok(format!("token-for-{}", claims.sub))
    }

    fn public_keys(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn jwks(&self) -> jsonwebtoken::jwk::JwkSet {
        jsonwebtoken::jwk::JwkSet { keys: Vec::new() }
    }
}

const START: i64 = 1_764_000_000_000;
const PASSWORD: &str = "batik canting motif";

struct World {
    provider: Arc<sso::FakeProvider>,
    db: Database,
    iam: Iam,
    clock: ManualClock,
    revocations: Revocations,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    world_with(|_| ()).await
}

/// A world whose configuration `adjust` changes first.
async fn world_with(adjust: impl FnOnce(&mut Config)) -> World {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    adjust(&mut config);
    let db = Database::open(&config, "iam").await.unwrap();
    db.migrate("iam", &crm_iam::MIGRATIONS).await.unwrap();
    let clock = ManualClock::at(START);
    let provider = Arc::new(sso::FakeProvider::default());
    let revocations = Revocations::memory();
    let adapters = Adapters {
        store: Arc::new(SqlIamStore::new(
            db.clone(),
            crm_iam::infrastructure::secrets::SecretBox::ephemeral(),
        )),
        throttle: Arc::new(MemoryThrottle::with_clock(Arc::new(clock.clone()))),
        hasher: Arc::new(FakeHasher),
        keys: Arc::new(FakeSigner),
        clock: Arc::new(clock.clone()),
        revocations: revocations.clone(),
        idempotency: Idempotency::new(db.clone()),
        oidc: provider.clone(),
    };
    World {
        provider,
        db: db.clone(),
        iam: Iam::new(adapters, IamSettings::from_config(&config).unwrap()),
        clock,
        revocations,
        _dir: dir,
    }
}

/// The owner of a new tenant, as a caller.
async fn owner(w: &World) -> (Caller, String) {
    let (tenant, session) = w
        .iam
        .register(
            "Kilang",
            "siti@kilang.example",
            PASSWORD,
            ("Siti", ""),
            &Origin::default(),
        )
        .await
        .unwrap();
    let principal = Principal {
        tenant_id: tenant.id,
        user_id: session.user.id,
        roles: session.user.roles.clone(),
        permissions: Vec::new(),
        team: None,
        token_id: session.access_token.clone(),
        issued_at: w.clock.now_millis(),
        expires_at: None,
        api_key_id: None,
        service: None,
    };
    let caller = Caller {
        principal,
        origin: Origin::default(),
    };
    (caller, tenant.slug)
}

#[tokio::test]
async fn a_lockout_ends_when_the_clock_passes_it() {
    let w = world().await;
    let (_, slug) = owner(&w).await;
    let origin = Origin::default();
    let login =
        |password: &'static str| w.iam.login(&slug, "siti@kilang.example", password, &origin);
    for attempt in 1..=5 {
        let err = login("not the password").await.unwrap_err();
        let expected = if attempt < 5 {
            ErrorKind::Unauthenticated
        } else {
            ErrorKind::ResourceExhausted
        };
        assert_eq!(err.kind(), expected, "attempt {attempt}");
    }
    let err = login(PASSWORD).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ResourceExhausted, "locked out");
    w.clock.advance(Duration::from_secs(899));
    assert_eq!(
        login(PASSWORD).await.unwrap_err().kind(),
        ErrorKind::ResourceExhausted,
        "a second before the 15 minutes are up"
    );
    w.clock.advance(Duration::from_secs(1));
    let SignIn::Done(session, _) = login(PASSWORD).await.expect("the lockout is over") else {
        panic!("no second factor was set up");
    };
    assert_eq!(
        session.access_token,
        format!("token-for-{}", session.user.id)
    );
}

#[tokio::test]
async fn changes_are_stamped_and_revocations_marked_by_the_clock() {
    let w = world().await;
    let (siti, _) = owner(&w).await;
    w.clock.advance(Duration::from_secs(60));
    let ali = w
        .iam
        .create_user(
            &siti,
            "ali@kilang.example",
            "Ali",
            PASSWORD,
            vec!["admin".into()],
            "",
        )
        .await
        .unwrap();
    assert_eq!(ali.created_at, START + 60_000);

    w.clock.advance(Duration::from_secs(60));
    let revoked_at = w.clock.now_millis();
    let changed = w.iam.revoke_role(&siti, ali.id, "admin").await.unwrap();
    assert_eq!(changed.updated_at, revoked_at);
    assert!(
        w.revocations
            .is_revoked(ali.id, revoked_at - 1)
            .await
            .unwrap(),
        "a token issued before the change is cut"
    );
    assert!(
        !w.revocations.is_revoked(ali.id, revoked_at).await.unwrap(),
        "one issued from then on is not"
    );
    assert!(
        !w.revocations
            .is_revoked(siti.principal.user_id, 0)
            .await
            .unwrap(),
        "nobody else's"
    );
}
