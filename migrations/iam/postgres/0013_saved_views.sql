-- Saved views: a list's filters and order under a name, a person's own or shared with the
-- workspace. A person's names are unique per list; how many one keeps is capped by the service
-- (the owner's user row is locked while it counts).
create table saved_views (
    id text primary key,
    tenant_id text not null,
    owner_id text not null,
    list text not null,
    name text not null,
    query text not null,
    shared bigint not null check (shared in (0, 1)),
    created_at bigint not null,
    updated_at bigint not null,
    version bigint not null,
    constraint saved_views_owner_name_key unique (tenant_id, owner_id, list, name)
);
create index saved_views_list on saved_views (tenant_id, list, id);

alter table saved_views enable row level security;
alter table saved_views force row level security;
create policy tenant_isolation on saved_views
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));

grant select, insert, update, delete on saved_views to crm_app;
