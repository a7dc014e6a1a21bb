-- The event backbone's columns and tables (crm-events): the rest of the CloudEvents envelope on
-- the outbox, consumer cursors (embedded bus), processed events and dead letters (consumers).

alter table outbox add column source text not null default 'crm.iam';
alter table outbox add column causation_id text;
alter table outbox add column traceparent text;

create table event_cursors (
    consumer text not null,
    topic text not null,
    seq integer not null,
    updated_at integer not null,
    primary key (consumer, topic)
);

create table processed_events (
    consumer text not null,
    event_id text not null,
    processed_at integer not null,
    primary key (consumer, event_id)
);

create table dead_letters (
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
create index dead_letters_consumer on dead_letters (consumer, parked_at);
