-- Pipelines and their stages. Stages keep their ids across renames and reorders, and a removed
-- stage keeps its row (with `removed_at`) so history and analytics can still name it. A tenant
-- has at most one default pipeline.
create table pipelines (
    id text primary key,
    tenant_id text not null,
    name text not null,
    currency_code text not null,
    is_default integer not null,
    created_at integer not null,
    updated_at integer not null,
    version integer not null
);
create index pipelines_tenant on pipelines (tenant_id, id);
create unique index pipelines_one_default on pipelines (tenant_id) where is_default = 1;

create table stages (
    id text primary key,
    tenant_id text not null,
    pipeline_id text not null,
    position integer not null,
    name text not null,
    probability integer not null,
    removed_at integer
);
create index stages_pipeline on stages (tenant_id, pipeline_id, position);



