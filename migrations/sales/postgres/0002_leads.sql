-- Leads: the filterable fields as columns, the whole lead as JSON in `doc`. And sales' own view
-- of the tenant's users and their roles, kept from IAM's UserCreated and UserRoleChanged, so
-- assigning a lead never calls IAM.
create table leads (
    id text primary key,
    tenant_id text not null,
    status text not null,
    source bigint not null,
    owner_id text,
    doc text not null,
    created_at bigint not null,
    updated_at bigint not null,
    version bigint not null
);
create index leads_tenant on leads (tenant_id, id);
create index leads_owner on leads (tenant_id, owner_id, id);

create table sales_users (
    tenant_id text not null,
    user_id text not null,
    email text not null,
    roles text not null,
    updated_at bigint not null,
    primary key (tenant_id, user_id)
);

alter table leads enable row level security;
alter table leads force row level security;
create policy tenant_isolation on leads
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table sales_users enable row level security;
alter table sales_users force row level security;
create policy tenant_isolation on sales_users
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));

grant select, insert, update on leads, sales_users to crm_app;
