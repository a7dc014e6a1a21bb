-- Notification templates (the whole template as JSON in `doc`, the filtered fields as columns),
-- notifications with their delivery state, every delivery attempt, and the notification
-- context's own view of IAM's tenants and users (who gets what, in which language).
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'crm_app') then
        create role crm_app nologin;
    end if;
exception when duplicate_object or unique_violation then
    null; -- another context created it concurrently
end
$$;

create table templates (
    id text primary key,
    tenant_id text not null,
    name text not null,
    channel text not null,
    event_type text not null,
    locale text not null,
    enabled bigint not null,
    doc text not null,
    version bigint not null
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
    attempts bigint not null,
    next_attempt_at bigint,
    trigger_event_id text not null,
    created_at bigint not null,
    read_at bigint,
    doc text not null,
    version bigint not null
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
    attempt bigint not null,
    tenant_id text not null,
    at bigint not null,
    provider text not null,
    answer text not null,
    error text not null,
    primary key (notification_id, attempt)
);

create table notification_tenants (
    tenant_id text primary key,
    name text not null,
    locale text not null,
    updated_at bigint not null
);

create table notification_users (
    tenant_id text not null,
    user_id text not null,
    email text not null,
    display_name text not null,
    roles text not null,
    active bigint not null,
    updated_at bigint not null,
    primary key (tenant_id, user_id)
);

alter table templates enable row level security;
alter table templates force row level security;
create policy tenant_isolation on templates
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table notifications enable row level security;
alter table notifications force row level security;
create policy tenant_isolation on notifications
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table delivery_log enable row level security;
alter table delivery_log force row level security;
create policy tenant_isolation on delivery_log
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table notification_tenants enable row level security;
alter table notification_tenants force row level security;
create policy tenant_isolation on notification_tenants
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table notification_users enable row level security;
alter table notification_users force row level security;
create policy tenant_isolation on notification_users
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
-- The delivery worker finds due notifications of every tenant (then delivers each inside its
-- tenant): reading across tenants is allowed, writing only within the tenant set.
create policy delivery on notifications for select
    using (current_setting('app.delivery_worker', true) = 'on');

do $$
begin
    execute format('grant usage on schema %I to crm_app', current_schema());
end
$$;
grant select, insert, update, delete on templates to crm_app;
grant select, insert, update on notifications, delivery_log, notification_tenants, notification_users to crm_app;
