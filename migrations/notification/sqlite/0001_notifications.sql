-- Notification templates (the whole template as JSON in `doc`, the filtered fields as columns),
-- notifications with their delivery state, every delivery attempt, and the notification
-- context's own view of IAM's tenants and users (who gets what, in which language).
create table templates (
    id text primary key,
    tenant_id text not null,
    name text not null,
    channel text not null,
    event_type text not null,
    locale text not null,
    enabled integer not null,
    doc text not null,
    version integer not null
);
create unique index templates_name on templates (tenant_id, name);
create index templates_event on templates (tenant_id, event_type, channel, locale);

create table notifications (
    id text primary key,
    tenant_id text not null,
    channel text not null,
    recipient_user_id text,
    recipient_address text not null,
    status text not null,
    attempts integer not null,
    next_attempt_at integer,
    trigger_event_id text not null,
    created_at integer not null,
    read_at integer,
    doc text not null,
    version integer not null
);
-- One notification per event, channel and recipient: a redelivered event makes none again.
create unique index notifications_trigger on notifications
    (tenant_id, trigger_event_id, channel, recipient_address);
create index notifications_recipient on notifications (tenant_id, recipient_user_id, id);
create index notifications_tenant on notifications (tenant_id, id);
-- The delivery worker's queue.
create index notifications_due on notifications (next_attempt_at) where next_attempt_at is not null;

create table delivery_log (
    notification_id text not null,
    attempt integer not null,
    tenant_id text not null,
    at integer not null,
    provider text not null,
    answer text not null,
    error text not null,
    primary key (notification_id, attempt)
);

create table notification_tenants (
    tenant_id text primary key,
    name text not null,
    locale text not null,
    updated_at integer not null
);

create table notification_users (
    tenant_id text not null,
    user_id text not null,
    email text not null,
    display_name text not null,
    roles text not null,
    active integer not null,
    updated_at integer not null,
    primary key (tenant_id, user_id)
);
