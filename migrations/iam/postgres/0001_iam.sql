-- IAM on PostgreSQL. Same shape as SQLite (ids as UUIDv7 text, times as epoch milliseconds) so
-- one SQL adapter serves both; row-level security is the second wall around every tenant table.

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'crm_app') then
        create role crm_app nologin;
    end if;
exception when duplicate_object or unique_violation then
    null; -- another context created it concurrently
end
$$;

create table tenants (
    id text primary key,
    name text not null,
    slug text not null,
    status text not null default 'active',
    settings text not null,
    created_at bigint not null,
    updated_at bigint not null,
    version bigint not null default 1,
    constraint tenants_slug_key unique (slug)
);

create table users (
    id text primary key,
    tenant_id text not null references tenants (id),
    email text not null,
    display_name text not null,
    password_hash text not null,
    status text not null,
    team text,
    created_at bigint not null,
    updated_at bigint not null,
    last_login_at bigint,
    version bigint not null default 1
);
create unique index users_tenant_email_key on users (tenant_id, email) where status <> 'deleted';

create table user_roles (
    tenant_id text not null,
    user_id text not null references users (id) on delete cascade,
    role text not null,
    primary key (user_id, role)
);
create index user_roles_tenant_role on user_roles (tenant_id, role);

create table roles (
    id text primary key,
    tenant_id text not null references tenants (id),
    name text not null,
    description text not null,
    permissions text not null,
    created_at bigint not null,
    updated_at bigint not null,
    version bigint not null default 1,
    constraint roles_tenant_name_key unique (tenant_id, name)
);

create table sessions (
    token_hash text primary key,
    family_id text not null,
    tenant_id text not null,
    user_id text not null references users (id),
    issued_at bigint not null,
    expires_at bigint not null,
    spent_at bigint,
    revoked_at bigint
);
create index sessions_family on sessions (tenant_id, family_id);
create index sessions_user on sessions (tenant_id, user_id);

create table audit_events (
    id text primary key,
    tenant_id text not null,
    kind integer not null,
    actor_id text,
    target_type text not null,
    target_id text not null,
    outcome integer not null,
    client_address text,
    user_agent text,
    correlation_id text,
    details text not null,
    created_at bigint not null
);
create index audit_events_tenant on audit_events (tenant_id, id);

create table outbox (
    seq bigint generated always as identity primary key,
    id text not null unique,
    tenant_id text not null,
    aggregate_type text not null,
    aggregate_id text not null,
    event_type text not null,
    payload bytea not null,
    occurred_at bigint not null,
    correlation_id text,
    published_at bigint
);
create index outbox_pending on outbox (seq) where published_at is null;

-- Row-level security: a transaction sees only the tenant it set with
-- set_config('app.tenant_id', ..., true); without it, nothing.
alter table users enable row level security;
alter table users force row level security;
create policy tenant_isolation on users
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));

alter table user_roles enable row level security;
alter table user_roles force row level security;
create policy tenant_isolation on user_roles
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));

alter table roles enable row level security;
alter table roles force row level security;
create policy tenant_isolation on roles
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));

alter table sessions enable row level security;
alter table sessions force row level security;
create policy tenant_isolation on sessions
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));

alter table audit_events enable row level security;
alter table audit_events force row level security;
create policy tenant_isolation on audit_events
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));

alter table outbox enable row level security;
alter table outbox force row level security;
create policy tenant_isolation on outbox
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
-- The relay publishes every tenant's events; it says so with set_config('app.relay', 'on', true).
create policy relay on outbox
    using (current_setting('app.relay', true) = 'on');

-- The application role owns nothing; the audit trail is insert-only for it.
do $$
begin
    execute format('grant usage on schema %I to crm_app', current_schema());
    execute format('grant select, insert, update on tenants, users, roles, sessions, outbox to crm_app');
    execute format('grant select, insert, update, delete on user_roles, roles to crm_app');
    execute format('grant select, insert on audit_events to crm_app');
end
$$;
