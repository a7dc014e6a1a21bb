-- Idempotency keys of the create RPCs (crm_core::idempotency): the first response of a request_id,
-- kept 24 hours. `response` is null while the first request is still running.
create table idempotency_keys (
    tenant_id text not null,
    method text not null,
    request_id text not null,
    fingerprint text not null,
    response blob,
    created_at integer not null,
    primary key (tenant_id, method, request_id)
);
create index idempotency_keys_created on idempotency_keys (tenant_id, created_at);
