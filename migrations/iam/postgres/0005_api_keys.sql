-- API keys of integrations: stored only as the SHA-256 of the key, with the role they act as
-- (a built-in role's name or a custom role's id), their expiry, last use and revocation. A key
-- names its tenant, so it is looked up under that tenant's row-level security like the rest.
create table api_keys (
    id text primary key,
    tenant_id text not null,
    name text not null,
    role_id text not null,
    prefix text not null,
    key_hash text not null unique,
    created_by text not null,
    created_at bigint not null,
    expires_at bigint,
    last_used_at bigint,
    revoked_at bigint,
    version bigint not null
);
create index api_keys_tenant on api_keys (tenant_id, id);

alter table api_keys enable row level security;
alter table api_keys force row level security;
create policy tenant_isolation on api_keys
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));

grant select, insert, update on api_keys to crm_app;
