-- API keys of integrations: stored only as the SHA-256 of the key, with the role they act as
-- (a built-in role's name or a custom role's id), their expiry, last use and revocation.
create table api_keys (
    id text primary key,
    tenant_id text not null,
    name text not null,
    role_id text not null,
    prefix text not null,
    key_hash text not null unique,
    created_by text not null,
    created_at integer not null,
    expires_at integer,
    last_used_at integer,
    revoked_at integer,
    version integer not null
);
create index api_keys_tenant on api_keys (tenant_id, id);
