-- Idempotency keys of the create RPCs (crm_core::idempotency): the first response of a request_id,
-- kept 24 hours. `response` is null while the first request is still running.
create table idempotency_keys (
    tenant_id text not null,
    method text not null,
    request_id text not null,
    fingerprint text not null,
    response bytea,
    created_at bigint not null,
    primary key (tenant_id, method, request_id)
);
create index idempotency_keys_created on idempotency_keys (tenant_id, created_at);

alter table idempotency_keys enable row level security;
alter table idempotency_keys force row level security;
create policy tenant_isolation on idempotency_keys
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));

grant select, insert, update, delete on idempotency_keys to crm_app;
