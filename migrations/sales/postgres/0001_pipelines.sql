-- Pipelines and their stages. Stages keep their ids across renames and reorders, and a removed
-- stage keeps its row (with `removed_at`) so history and analytics can still name it. A tenant
-- has at most one default pipeline.
create table pipelines (
    id text primary key,
    tenant_id text not null,
    name text not null,
    currency_code text not null,
    is_default bigint not null,
    created_at bigint not null,
    updated_at bigint not null,
    version bigint not null
);
create index pipelines_tenant on pipelines (tenant_id, id);
create unique index pipelines_one_default on pipelines (tenant_id) where is_default = 1;

create table stages (
    id text primary key,
    tenant_id text not null,
    pipeline_id text not null,
    position bigint not null,
    name text not null,
    probability bigint not null,
    removed_at bigint
);
create index stages_pipeline on stages (tenant_id, pipeline_id, position);

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'crm_app') then
        create role crm_app nologin;
    end if;
exception when duplicate_object or unique_violation then
    null; -- another context created it concurrently
end
$$;

alter table pipelines enable row level security;
alter table pipelines force row level security;
create policy tenant_isolation on pipelines
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table stages enable row level security;
alter table stages force row level security;
create policy tenant_isolation on stages
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));

do $$
begin
    execute format('grant usage on schema %I to crm_app', current_schema());
end
$$;
grant select, insert, update on pipelines, stages to crm_app;
