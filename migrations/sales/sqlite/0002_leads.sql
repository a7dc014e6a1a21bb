-- Leads: the filterable fields as columns, the whole lead as JSON in `doc`. And sales' own view
-- of the tenant's users and their roles, kept from IAM's UserCreated and UserRoleChanged, so
-- assigning a lead never calls IAM.
create table leads (
    id text primary key,
    tenant_id text not null,
    status text not null,
    source integer not null,
    owner_id text,
    doc text not null,
    created_at integer not null,
    updated_at integer not null,
    version integer not null
);
create index leads_tenant on leads (tenant_id, id);
create index leads_owner on leads (tenant_id, owner_id, id);

create table sales_users (
    tenant_id text not null,
    user_id text not null,
    email text not null,
    roles text not null,
    updated_at integer not null,
    primary key (tenant_id, user_id)
);


