-- Saved views: a list's filters and order under a name, a person's own or shared with the
-- workspace. A person's names are unique per list; how many one keeps is capped by the service.
create table saved_views (
    id text primary key,
    tenant_id text not null,
    owner_id text not null,
    list text not null,
    name text not null,
    query text not null,
    shared integer not null check (shared in (0, 1)),
    created_at integer not null,
    updated_at integer not null,
    version integer not null
);
create unique index saved_views_owner_name_key on saved_views (tenant_id, owner_id, list, name);
create index saved_views_list on saved_views (tenant_id, list, id);
