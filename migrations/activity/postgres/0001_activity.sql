-- The activity context on PostgreSQL (the same shape as on SQLite, with row-level security as the
-- second wall around every table): tasks and activities as JSON documents (`doc`) with the
-- columns reads filter and order by beside them, the records each relates to in link tables,
-- an FTS5 index over activities' words (written in the same transaction: read-your-writes),
-- and the timeline: a projection of every context's events (its own included), with the
-- owners of records it learnt from them and the links that make a converted lead's history its
-- customer's. Times are epoch milliseconds. The outbox, inbox and idempotency keys are added by
-- their owners (crm-events, crm-core) after these.

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'crm_app') then
        create role crm_app nologin;
    end if;
exception when duplicate_object or unique_violation then
    null; -- another context created it concurrently
end
$$;

create table tasks (
    seq bigint generated always as identity primary key,
    tenant_id text not null,
    id text not null,
    assignee_id text not null,
    created_by text not null,
    status text not null,
    due_at bigint not null,
    -- When its reminder fires; null once it fired, or when it has none or is closed.
    remind_at bigint,
    version bigint not null,
    doc text not null
);
create unique index tasks_tenant_id_key on tasks (tenant_id, id);
create index tasks_assignee_due on tasks (tenant_id, assignee_id, status, due_at, id);
create index tasks_due on tasks (tenant_id, due_at, id);
create index tasks_reminders on tasks (remind_at) where remind_at is not null;

create table task_records (
    tenant_id text not null,
    task_id text not null,
    record_type text not null,
    record_id text not null,
    due_at bigint not null,
    primary key (tenant_id, record_type, record_id, task_id)
);
create index task_records_task on task_records (tenant_id, task_id);

create table activities (
    seq bigint generated always as identity primary key,
    tenant_id text not null,
    id text not null,
    kind text not null,
    author_id text not null,
    occurred_at bigint not null,
    deleted_at bigint,
    version bigint not null,
    doc text not null
);
create unique index activities_tenant_id_key on activities (tenant_id, id);
create index activities_tenant_time on activities (tenant_id, occurred_at, id) where deleted_at is null;

create table activity_records (
    tenant_id text not null,
    activity_id text not null,
    record_type text not null,
    record_id text not null,
    occurred_at bigint not null,
    primary key (tenant_id, record_type, record_id, activity_id)
);
create index activity_records_activity on activity_records (tenant_id, activity_id);

-- Every change of an activity, with what it was before.
create table activity_changes (
    seq bigint generated always as identity primary key,
    tenant_id text not null,
    activity_id text not null,
    user_id text not null,
    changed_at bigint not null,
    action text not null,
    changed_fields text not null,
    before_doc text
);
create index activity_changes_activity on activity_changes (tenant_id, activity_id, seq);

-- The CRM's own search words (letters and digits, lower-cased) of each activity, in a table
-- without row-level security so that the GIN index is used (see the customers' search table);
-- the query names the tenant itself, and the activities it reads are filtered by the policy.
create table activity_search (
    seq bigint primary key,
    tenant_id text not null,
    search tsvector not null
);
create index activity_search_words on activity_search using gin (search) with (fastupdate = off);

-- The timeline: one row per entry and record it is shown on (`record_*`), the entry's id stable
-- across replays (derived from the event and the record).
create table timeline_entries (
    tenant_id text not null,
    record_type text not null,
    record_id text not null,
    entry_id text not null,
    occurred_at bigint not null,
    kind text not null,
    -- The entry's one source: an event, or a task or activity it follows.
    source_key text not null,
    doc text not null,
    primary key (tenant_id, record_type, record_id, entry_id)
);
create index timeline_entries_page on timeline_entries (tenant_id, record_type, record_id, occurred_at desc, entry_id desc);
create index timeline_entries_source on timeline_entries (tenant_id, source_key);

-- The owner of each record, as the events told it (who may read its timeline with an `:own`
-- grant).
create table timeline_records (
    tenant_id text not null,
    record_type text not null,
    record_id text not null,
    owner_id text,
    name text not null,
    primary key (tenant_id, record_type, record_id)
);

-- Records whose entries are also shown on another's: a lead and an opportunity on their
-- customer's, a contact's on its customer's.
create table timeline_links (
    tenant_id text not null,
    from_type text not null,
    from_id text not null,
    to_type text not null,
    to_id text not null,
    primary key (tenant_id, from_type, from_id, to_type, to_id)
);

-- The events whose entries a later event joins (a notification sent because of a deal won):
-- which records each was about.
create table timeline_causes (
    tenant_id text not null,
    event_id text not null,
    record_type text not null,
    record_id text not null,
    primary key (tenant_id, event_id, record_type, record_id)
);

-- Entries waiting for the event that caused them (it may arrive later on another topic).
create table timeline_pending (
    tenant_id text not null,
    cause_event_id text not null,
    entry_id text not null,
    occurred_at bigint not null,
    kind text not null,
    source_key text not null,
    doc text not null,
    primary key (tenant_id, cause_event_id, entry_id)
);

-- The tenant's users, as IAM's events told them (who may be given a task).
create table activity_users (
    tenant_id text not null,
    user_id text not null,
    email text not null,
    active bigint not null,
    primary key (tenant_id, user_id)
);

alter table tasks enable row level security;
alter table tasks force row level security;
create policy tenant_isolation on tasks
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table task_records enable row level security;
alter table task_records force row level security;
create policy tenant_isolation on task_records
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table activities enable row level security;
alter table activities force row level security;
create policy tenant_isolation on activities
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table activity_records enable row level security;
alter table activity_records force row level security;
create policy tenant_isolation on activity_records
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table activity_changes enable row level security;
alter table activity_changes force row level security;
create policy tenant_isolation on activity_changes
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table timeline_entries enable row level security;
alter table timeline_entries force row level security;
create policy tenant_isolation on timeline_entries
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table timeline_records enable row level security;
alter table timeline_records force row level security;
create policy tenant_isolation on timeline_records
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table timeline_links enable row level security;
alter table timeline_links force row level security;
create policy tenant_isolation on timeline_links
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table timeline_causes enable row level security;
alter table timeline_causes force row level security;
create policy tenant_isolation on timeline_causes
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table timeline_pending enable row level security;
alter table timeline_pending force row level security;
create policy tenant_isolation on timeline_pending
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table activity_users enable row level security;
alter table activity_users force row level security;
create policy tenant_isolation on activity_users
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
-- The reminder worker finds due reminders of every tenant (then fires each inside its tenant's
-- scope).
create policy reminders on tasks for select
    using (current_setting('app.reminder_worker', true) = 'on');

do $$
begin
    execute format('grant usage on schema %I to crm_app', current_schema());
end
$$;
grant select, insert, update, delete on tasks, task_records, activities, activity_records, activity_changes, activity_search, timeline_entries, timeline_records, timeline_links, timeline_causes, timeline_pending, activity_users to crm_app;
