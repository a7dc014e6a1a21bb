-- Single sign-on. Each tenant's OpenID provider: its settings as JSON and the client secret
-- apart (never returned by the API).
create table sso_settings (
    tenant_id text primary key,
    settings text not null,
    client_secret text not null,
    updated_at integer not null,
    version integer not null
);

-- Sign-ins in flight: the hash of the `state` sent to the provider, with the nonce and PKCE
-- verifier the answer is checked against. Completing one spends it.
create table sso_flows (
    state_hash text primary key,
    tenant_id text not null,
    nonce text not null,
    pkce_verifier text not null,
    created_at integer not null,
    expires_at integer not null,
    spent_at integer
);
create index sso_flows_expiry on sso_flows (tenant_id, expires_at);

-- Which provider account is which user: (issuer, subject) once linked, whatever the email
-- becomes later.
create table user_identities (
    tenant_id text not null,
    issuer text not null,
    subject text not null,
    user_id text not null,
    created_at integer not null,
    primary key (tenant_id, issuer, subject)
);


