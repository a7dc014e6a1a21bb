-- The event backbone's tables, in every context's store (crm-events owns them; the launcher
-- applies them after the context's own migrations, with a history table of their own,
-- `_crm_events_migrations`). Every statement is idempotent: IAM's store got the same tables from
-- IAM's own early migrations, and this leaves them as they are.

create table if not exists outbox (
    seq integer primary key autoincrement,
    id text not null unique,
    tenant_id text not null,
    aggregate_type text not null,
    aggregate_id text not null,
    event_type text not null,
    payload blob not null,
    occurred_at integer not null,
    correlation_id text,
    published_at integer,
    source text not null,
    causation_id text,
    traceparent text
);
create index if not exists outbox_pending on outbox (seq) where published_at is null;

create table if not exists event_cursors (
    consumer text not null,
    topic text not null,
    seq integer not null,
    updated_at integer not null,
    primary key (consumer, topic)
);

create table if not exists processed_events (
    consumer text not null,
    event_id text not null,
    processed_at integer not null,
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
    time integer not null,
    correlation_id text,
    causation_id text,
    traceparent text,
    payload blob not null,
    error text not null,
    attempts integer not null,
    parked_at integer not null,
    redrive_requested_at integer,
    redriven_at integer
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
