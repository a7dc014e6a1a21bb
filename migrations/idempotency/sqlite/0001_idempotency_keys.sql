-- Idempotency keys of the create RPCs (crm_core::idempotency owns them), in every context's
-- store: the first response of a request_id, kept 24 hours; `response` is null while the first
-- request is still running. Applied after the context's own migrations with a history table of
-- their own (`_crm_idempotency_migrations`); idempotent, as IAM's store got the table from IAM's
-- own migration 0004.

create table if not exists idempotency_keys (
    tenant_id text not null,
    method text not null,
    request_id text not null,
    fingerprint text not null,
    response blob,
    created_at integer not null,
    primary key (tenant_id, method, request_id)
);
create index if not exists idempotency_keys_created on idempotency_keys (tenant_id, created_at);
