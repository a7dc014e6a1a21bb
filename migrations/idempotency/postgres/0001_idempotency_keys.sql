-- Idempotency keys of the create RPCs (crm_core::idempotency owns them), in every context's
-- store: the first response of a request_id, kept 24 hours; `response` is null while the first
-- request is still running. Applied after the context's own migrations with a history table of
-- their own (`_crm_idempotency_migrations`); idempotent, as IAM's store got the table from IAM's
-- own migration 0004.

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'crm_app') then
        create role crm_app nologin;
    end if;
exception when duplicate_object or unique_violation then
    null; -- another context created it concurrently
end
$$;

create table if not exists idempotency_keys (
    tenant_id text not null,
    method text not null,
    request_id text not null,
    fingerprint text not null,
    response bytea,
    created_at bigint not null,
    primary key (tenant_id, method, request_id)
);
create index if not exists idempotency_keys_created on idempotency_keys (tenant_id, created_at);

alter table idempotency_keys enable row level security;
alter table idempotency_keys force row level security;
do $$
begin
    if not exists (select 1 from pg_policies where schemaname = current_schema()
                   and tablename = 'idempotency_keys' and policyname = 'tenant_isolation') then
        create policy tenant_isolation on idempotency_keys
            using (tenant_id = current_setting('app.tenant_id', true))
            with check (tenant_id = current_setting('app.tenant_id', true));
    end if;
    execute format('grant usage on schema %I to crm_app', current_schema());
end
$$;
grant select, insert, update, delete on idempotency_keys to crm_app;
