-- IAM on SQLite. Ids are UUIDv7 text, times are milliseconds since the epoch.

create table tenants (
    id text primary key,
    name text not null,
    slug text not null,
    status text not null default 'active',
    settings text not null,
    created_at integer not null,
    updated_at integer not null,
    version integer not null default 1,
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
    created_at integer not null,
    updated_at integer not null,
    last_login_at integer,
    version integer not null default 1
);
-- Deleted users keep their row (audit trail) but free their email.
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
    created_at integer not null,
    updated_at integer not null,
    version integer not null default 1,
    constraint roles_tenant_name_key unique (tenant_id, name)
);

create table sessions (
    token_hash text primary key,
    family_id text not null,
    tenant_id text not null,
    user_id text not null references users (id),
    issued_at integer not null,
    expires_at integer not null,
    spent_at integer,
    revoked_at integer
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
    created_at integer not null
);
create index audit_events_tenant on audit_events (tenant_id, id);

-- Nothing changes the audit trail.
create trigger audit_events_no_update before update on audit_events
begin select raise(abort, 'audit events are append-only'); end;
create trigger audit_events_no_delete before delete on audit_events
begin select raise(abort, 'audit events are append-only'); end;

-- Domain events, written in the same transaction as the change they describe.
create table outbox (
    seq integer primary key autoincrement,
    id text not null unique,
    tenant_id text not null,
    aggregate_type text not null,
    aggregate_id text not null,
    event_type text not null,
    payload blob not null,
    occurred_at integer not null,
    correlation_id text,
    published_at integer
);
create index outbox_pending on outbox (seq) where published_at is null;
