-- Customers on PostgreSQL: the same shape as SQLite (ids as UUIDv7 text, times as epoch
-- milliseconds, the aggregate as a JSON document in `doc`), with a `tsvector` of the words search
-- finds a customer by, kept in the same transaction (read-your-writes) and indexed with GIN.
-- Row-level security is the second wall around every table, as in IAM.

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'crm_app') then
        create role crm_app nologin;
    end if;
exception when duplicate_object or unique_violation then
    null; -- another context created it concurrently
end
$$;

create table customers (
    seq bigint generated always as identity primary key,
    id text not null,
    tenant_id text not null,
    customer_type text not null,
    status text not null,
    owner_id text,
    email text,
    display_name text not null,
    sort_name text not null,
    created_at bigint not null,
    updated_at bigint not null,
    version bigint not null,
    deleted_at bigint,
    doc text not null,
    search tsvector
);
create unique index customers_tenant_id_key on customers (tenant_id, id);
create unique index customers_tenant_email_key on customers (tenant_id, email)
    where email is not null and deleted_at is null;
create index customers_tenant_name on customers (tenant_id, sort_name, id) where deleted_at is null;
create index customers_tenant_owner on customers (tenant_id, owner_id, id) where deleted_at is null;
create index customers_search on customers using gin (search) where deleted_at is null;

create table customer_tags (
    tenant_id text not null,
    customer_seq bigint not null references customers (seq) on delete cascade,
    tag text not null,
    primary key (customer_seq, tag)
);
create index customer_tags_tag on customer_tags (tenant_id, tag, customer_seq);

alter table customers enable row level security;
alter table customers force row level security;
create policy tenant_isolation on customers
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));

alter table customer_tags enable row level security;
alter table customer_tags force row level security;
create policy tenant_isolation on customer_tags
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));

do $$
begin
    execute format('grant usage on schema %I to crm_app', current_schema());
end
$$;
grant select, insert, update on customers to crm_app;
grant select, insert, update, delete on customer_tags to crm_app;
