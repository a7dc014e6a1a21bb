-- The event backbone's columns and tables (crm-events). Cursors, processed events and dead
-- letters belong to no tenant (the relay and consumers work across tenants), so they have no
-- row-level security; the application role may read and write them.

alter table outbox add column source text not null default 'crm.iam';
alter table outbox add column causation_id text;
alter table outbox add column traceparent text;

create table event_cursors (
    consumer text not null,
    topic text not null,
    seq bigint not null,
    updated_at bigint not null,
    primary key (consumer, topic)
);

create table processed_events (
    consumer text not null,
    event_id text not null,
    processed_at bigint not null,
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
create index dead_letters_consumer on dead_letters (consumer, parked_at);

grant select, insert, update, delete on event_cursors, processed_events, dead_letters to crm_app;
-- The relay marks events published and prunes them.
grant delete on outbox to crm_app;
