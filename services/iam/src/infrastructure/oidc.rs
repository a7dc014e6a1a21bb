//! The OpenID Connect relying party, on the `openidconnect` crate: discovery, the authorization
//! URL (PKCE S256, `state`, `nonce`), the code exchange and the ID token's verification
//! (signature by the provider's JWKS, `iss`, `aud`, `exp`, `nonce`, `azp`).
//!
//! The discovery document and its keys are read again for every sign-in, so a key the provider
//! rotated in is known at once; a sign-in is rare enough for the two requests. HTTP goes through
//! reqwest on rustls (ring, the Mozilla roots), never following redirects (SSRF).

use std::time::Duration;

use crm_core::Result;
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};

use crate::domain::ports::{AuthorizationRequest, OpenIdProvider};
use crate::domain::sso::{Identity, SsoProvider, SsoRefusal, fetchable};

/// An HTTP failure talking to the provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The relying party.
#[derive(Clone)]
pub struct Oidc {
    http: reqwest::Client,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc").finish_non_exhaustive()
    }
}

/// Resolves names for the relying party's requests, keeping only addresses it may fetch from
/// ([`fetchable`]): a name that resolves only to private addresses is refused, so an owner's
/// issuer URL cannot reach inside the network (SSRF). IP-literal URLs are checked when the
/// settings are saved.
struct PublicOnly {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| fetchable(a.ip(), allow_loopback))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{host} resolves to no public address; identity providers must be reachable on the internet"
                )
                .into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl Oidc {
    /// A relying party with its own HTTP client; `allow_loopback` lets it reach a provider on
    /// this machine (the embedded CRM, tests).
    pub fn new(allow_loopback: bool) -> anyhow::Result<Oidc> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(std::sync::Arc::new(PublicOnly { allow_loopback }))
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Oidc { http })
    }

    /// The closure `openidconnect` sends its requests through.
    fn client(
        &self,
    ) -> impl Fn(
        openidconnect::HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpError>> + Send>,
    > + use<> {
        let http = self.http.clone();
        move |request: openidconnect::HttpRequest| {
            let http = http.clone();
            Box::pin(async move {
                let request =
                    reqwest::Request::try_from(request).map_err(|e| HttpError(e.to_string()))?;
                let response = http
                    .execute(request)
                    .await
                    .map_err(|e| HttpError(chain(&e)))?;
                let mut builder = http::Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    builder = builder.header(name, value);
                }
                let body = response
                    .bytes()
                    .await
                    .map_err(|e| HttpError(e.to_string()))?;
                builder
                    .body(body.to_vec())
                    .map_err(|e| HttpError(e.to_string()))
            })
        }
    }

    async fn metadata(&self, issuer: &str) -> Result<CoreProviderMetadata, SsoRefusal> {
        let issuer = IssuerUrl::new(issuer.to_owned())
            .map_err(|e| SsoRefusal::Unreachable(e.to_string()))?;
        CoreProviderMetadata::discover_async(issuer, &self.client())
            .await
            .map_err(|e| SsoRefusal::Unreachable(chain(&e)))
    }

    async fn rp(
        &self,
        provider: &SsoProvider,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        SsoRefusal,
    > {
        let s = &provider.settings;
        let metadata = self.metadata(&s.issuer_url).await?;
        let redirect = RedirectUrl::new(s.redirect_uri.clone())
            .map_err(|e| SsoRefusal::Unreachable(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(s.client_id.clone()),
            Some(ClientSecret::new(provider.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }
}

#[async_trait::async_trait]
impl OpenIdProvider for Oidc {
    /// Reads the provider's discovery document: whether the issuer is a working provider.
    async fn check_issuer(&self, issuer: &str) -> Result<(), SsoRefusal> {
        self.metadata(issuer).await.map(drop)
    }

    /// Where to send the browser for `state`, with the nonce and PKCE verifier to keep.
    async fn authorization_url(
        &self,
        provider: &SsoProvider,
        state: &str,
    ) -> Result<AuthorizationRequest, SsoRefusal> {
        let client = self.rp(provider).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = state.to_owned();
        let (url, _, nonce) = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                move || CsrfToken::new(state),
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges `code` (with the flow's PKCE verifier) and verifies the ID token against the
    /// flow's nonce: who signed in.
    async fn identity(
        &self,
        provider: &SsoProvider,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Identity, SsoRefusal> {
        let client = self.rp(provider).await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SsoRefusal::Unreachable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.client())
            .await
            .map_err(|e| SsoRefusal::CodeRefused(chain(&e)))?;
        use openidconnect::TokenResponse;
        let id_token = response
            .id_token()
            .ok_or_else(|| SsoRefusal::IdToken("the token response has no ID token".into()))?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_owned()))
            .map_err(|e| SsoRefusal::IdToken(chain(&e)))?;
        let email = claims.email().map(|e| e.as_str().to_lowercase());
        let verified_email = email
            .clone()
            .filter(|_| claims.email_verified() == Some(true));
        let name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned());
        // Custom claims (the groups) are read from the token whose signature and claims were
        // just verified.
        let groups = if provider.settings.groups_claim.is_empty() {
            Vec::new()
        } else {
            payload(&id_token.to_string())
                .and_then(|p| p.get(&provider.settings.groups_claim).cloned())
                .map(|v| match v {
                    serde_json::Value::Array(items) => items
                        .into_iter()
                        .filter_map(|i| i.as_str().map(str::to_owned))
                        .collect(),
                    serde_json::Value::String(s) => vec![s],
                    _ => Vec::new(),
                })
                .unwrap_or_default()
        };
        Ok(Identity {
            issuer: claims.issuer().as_str().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            verified_email,
            email,
            name,
            groups,
        })
    }
}

/// The JSON payload of a JWT (already verified by the caller).
fn payload(jwt: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    use base64::Engine;
    let part = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// An error with its causes, one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_provider_on_a_private_address_is_refused_before_any_request() {
        // `localhost` resolves to loopback only: refused unless a local provider is allowed.
        use crate::domain::ports::OpenIdProvider as _;
        let err = Oidc::new(false)
            .unwrap()
            .check_issuer("https://localhost:9")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no public address"), "{err}");
        // Allowed, it gets as far as connecting (nothing listens on port 9).
        let err = Oidc::new(true)
            .unwrap()
            .check_issuer("https://localhost:9")
            .await
            .unwrap_err();
        assert!(!err.to_string().contains("no public address"), "{err}");
    }
}
