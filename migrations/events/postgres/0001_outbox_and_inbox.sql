-- The event backbone's tables, in every context's store (crm-events owns them; the launcher
-- applies them after the context's own migrations, with a history table of their own,
-- `_crm_events_migrations`). Every statement is idempotent: IAM's store got the same tables from
-- IAM's own early migrations, and this leaves them as they are.
--
-- The outbox is tenant data (row-level security; the relay reads every tenant's rows with
-- app.relay = on). Cursors, processed events, dead letters and consumer offsets belong to no
-- tenant (the relay and consumers work across tenants), so they have no row-level security.

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'crm_app') then
        create role crm_app nologin;
    end if;
exception when duplicate_object or unique_violation then
    null; -- another context created it concurrently
end
$$;

create table if not exists outbox (
    seq bigint generated always as identity primary key,
    id text not null unique,
    tenant_id text not null,
    aggregate_type text not null,
    aggregate_id text not null,
    event_type text not null,
    payload bytea not null,
    occurred_at bigint not null,
    correlation_id text,
    published_at bigint,
    source text not null,
    causation_id text,
    traceparent text
);
create index if not exists outbox_pending on outbox (seq) where published_at is null;

alter table outbox enable row level security;
alter table outbox force row level security;
do $$
begin
    if not exists (select 1 from pg_policies where schemaname = current_schema()
                   and tablename = 'outbox' and policyname = 'tenant_isolation') then
        create policy tenant_isolation on outbox
            using (tenant_id = current_setting('app.tenant_id', true))
            with check (tenant_id = current_setting('app.tenant_id', true));
    end if;
    if not exists (select 1 from pg_policies where schemaname = current_schema()
                   and tablename = 'outbox' and policyname = 'relay') then
        create policy relay on outbox
            using (current_setting('app.relay', true) = 'on');
    end if;
end
$$;

create table if not exists event_cursors (
    consumer text not null,
    topic text not null,
    seq bigint not null,
    updated_at bigint not null,
    primary key (consumer, topic)
);

create table if not exists processed_events (
    consumer text not null,
    event_id text not null,
    processed_at bigint not null,
    primary key (consumer, event_id)
);

create table if not exists dead_letters (
    id text primary key,
    consumer text not null,
    topic text not null,
    event_id text not null,
    source text not null,
    event_type text not null,
    subject text not null,
    tenant_id text not null,
    time bigint not null,
    correlation_id text,
    causation_id text,
    traceparent text,
    payload bytea not null,
    error text not null,
    attempts integer not null,
    parked_at bigint not null,
    redrive_requested_at bigint,
    redriven_at bigint
);
create index if not exists dead_letters_consumer on dead_letters (consumer, parked_at);

-- Kafka consumers keep their position in their own store, written in the same transaction as
-- the handler's effect: after a restart they resume exactly where their effects stopped.
create table if not exists consumer_offsets (
    consumer text not null,
    topic text not null,
    partition_id integer not null,
    next_offset bigint not null,
    primary key (consumer, topic, partition_id)
);

do $$
begin
    execute format('grant usage on schema %I to crm_app', current_schema());
end
$$;
grant select, insert, update, delete
    on outbox, event_cursors, processed_events, dead_letters, consumer_offsets to crm_app;
