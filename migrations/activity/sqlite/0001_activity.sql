-- The activity context on SQLite: tasks and activities as JSON documents (`doc`) with the
-- columns reads filter and order by beside them, the records each relates to in link tables,
-- an FTS5 index over activities' words (written in the same transaction: read-your-writes),
-- and the timeline: a projection of every context's events (its own included), with the
-- owners of records it learnt from them and the links that make a converted lead's history its
-- customer's. Times are epoch milliseconds. The outbox, inbox and idempotency keys are added by
-- their owners (crm-events, crm-core) after these.

create table tasks (
    seq integer primary key autoincrement,
    tenant_id text not null,
    id text not null,
    assignee_id text not null,
    created_by text not null,
    status text not null,
    due_at integer not null,
    -- When its reminder fires; null once it fired, or when it has none or is closed.
    remind_at integer,
    version integer not null,
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
    due_at integer not null,
    primary key (tenant_id, record_type, record_id, task_id)
);
create index task_records_task on task_records (tenant_id, task_id);

create table activities (
    seq integer primary key autoincrement,
    tenant_id text not null,
    id text not null,
    kind text not null,
    author_id text not null,
    occurred_at integer not null,
    deleted_at integer,
    version integer not null,
    doc text not null
);
create unique index activities_tenant_id_key on activities (tenant_id, id);
create index activities_tenant_time on activities (tenant_id, occurred_at, id) where deleted_at is null;

create table activity_records (
    tenant_id text not null,
    activity_id text not null,
    record_type text not null,
    record_id text not null,
    occurred_at integer not null,
    primary key (tenant_id, record_type, record_id, activity_id)
);
create index activity_records_activity on activity_records (tenant_id, activity_id);

-- Every change of an activity, with what it was before.
create table activity_changes (
    seq integer primary key autoincrement,
    tenant_id text not null,
    activity_id text not null,
    user_id text not null,
    changed_at integer not null,
    action text not null,
    changed_fields text not null,
    before_doc text
);
create index activity_changes_activity on activity_changes (tenant_id, activity_id, seq);

-- rowid = activities.seq; the CRM's own search words (letters and digits, lower-cased), as the
-- customers' index holds them.
create virtual table activity_search using fts5(
    body,
    tokenize = 'ascii',
    prefix = '2 3'
);

-- The timeline: one row per entry and record it is shown on (`record_*`), the entry's id stable
-- across replays (derived from the event and the record).
create table timeline_entries (
    tenant_id text not null,
    record_type text not null,
    record_id text not null,
    entry_id text not null,
    occurred_at integer not null,
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
    occurred_at integer not null,
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
    active integer not null,
    primary key (tenant_id, user_id)
);
