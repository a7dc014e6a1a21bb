-- Opportunities (filterable and summable fields as columns, the whole opportunity as JSON in
-- `doc`), every stage change (what analytics and the point-in-time view are rebuilt from), deals,
-- the tenant settings sales needs (from IAM's events), and the lead-conversion sagas.
create table opportunities (
    id text primary key,
    tenant_id text not null,
    pipeline_id text not null,
    stage_id text not null,
    status text not null,
    owner_id text,
    customer_id text not null,
    lead_id text,
    amount_units bigint not null,
    amount_nanos bigint not null,
    probability bigint not null,
    expected_close_at bigint,
    created_at bigint not null,
    updated_at bigint not null,
    closed_at bigint,
    loss_reason bigint not null,
    doc text not null,
    version bigint not null
);
create index opportunities_tenant on opportunities (tenant_id, id);
create index opportunities_stage on opportunities (tenant_id, pipeline_id, status, stage_id);
-- The forecast reads these columns alone.
create index opportunities_close on opportunities
    (tenant_id, pipeline_id, status, expected_close_at, probability, amount_units, amount_nanos);
create index opportunities_created on opportunities (tenant_id, pipeline_id, created_at);
-- One opportunity per lead: concurrent conversions of the same lead make one.
create unique index opportunities_lead on opportunities (tenant_id, lead_id) where lead_id is not null;

create table stage_changes (
    tenant_id text not null,
    opportunity_id text not null,
    seq bigint not null,
    pipeline_id text not null,
    from_stage_id text,
    to_stage_id text not null,
    -- The stage's place in the pipeline when it was entered.
    to_position bigint not null,
    changed_by text not null,
    changed_at bigint not null,
    -- When the opportunity left `to_stage_id` (its next change, or its close); null while there.
    left_at bigint,
    primary key (tenant_id, opportunity_id, seq)
);
create index stage_changes_pipeline on stage_changes (tenant_id, pipeline_id, to_stage_id, changed_at);

create table deals (
    id text primary key,
    tenant_id text not null,
    opportunity_id text not null,
    pipeline_id text not null,
    customer_id text not null,
    owner_id text,
    amount_units bigint not null,
    amount_nanos bigint not null,
    closed_at bigint not null,
    doc text not null
);
create index deals_closed on deals (tenant_id, closed_at, id);
create index deals_pipeline on deals (tenant_id, pipeline_id, closed_at, amount_units, amount_nanos);
create unique index deals_opportunity on deals (tenant_id, opportunity_id);

-- Running sums per pipeline, stage and day of creation of the opportunities: analytics of
-- "now" read these instead of the whole history. Each change of an opportunity adds its
-- contribution's difference in its own transaction.
create table stage_stats (
    tenant_id text not null,
    pipeline_id text not null,
    stage_id text not null,
    day bigint not null,
    entered bigint not null,
    advanced bigint not null,
    stay_millis bigint not null,
    stays bigint not null,
    open_count bigint not null,
    open_entered_at bigint not null,
    open_units bigint not null,
    open_nanos bigint not null,
    primary key (tenant_id, pipeline_id, stage_id, day)
);

create table close_stats (
    tenant_id text not null,
    pipeline_id text not null,
    day bigint not null,
    status text not null,
    loss_reason bigint not null,
    closed bigint not null,
    units bigint not null,
    nanos bigint not null,
    cycle_millis bigint not null,
    primary key (tenant_id, pipeline_id, day, status, loss_reason)
);

create table sales_tenants (
    tenant_id text primary key,
    deal_approval_threshold_units bigint not null,
    time_zone text not null,
    updated_at bigint not null
);

create table conversions (
    id text primary key,
    tenant_id text not null,
    lead_id text not null,
    request_id text not null,
    step text not null,
    doc text not null,
    created_at bigint not null,
    updated_at bigint not null
);
create index conversions_unfinished on conversions (step, updated_at);
-- One conversion of a lead under way at a time (concurrent ones join it); a request id names one.
create unique index conversions_active on conversions (tenant_id, lead_id)
    where step in ('started', 'customer_ensured', 'compensating');
create unique index conversions_request on conversions (tenant_id, request_id) where request_id <> '';

alter table opportunities enable row level security;
alter table opportunities force row level security;
create policy tenant_isolation on opportunities
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table stage_changes enable row level security;
alter table stage_changes force row level security;
create policy tenant_isolation on stage_changes
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table deals enable row level security;
alter table deals force row level security;
create policy tenant_isolation on deals
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table stage_stats enable row level security;
alter table stage_stats force row level security;
create policy tenant_isolation on stage_stats
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table close_stats enable row level security;
alter table close_stats force row level security;
create policy tenant_isolation on close_stats
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table sales_tenants enable row level security;
alter table sales_tenants force row level security;
create policy tenant_isolation on sales_tenants
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
-- The saga recovery task lists unfinished sagas of every tenant (then works on each inside its
-- tenant): reading across tenants is allowed, writing only within the tenant set.
alter table conversions enable row level security;
alter table conversions force row level security;
create policy tenant_isolation on conversions
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
create policy recovery on conversions for select
    using (current_setting('app.saga_recovery', true) = 'on');

grant select, insert, update on opportunities, stage_changes, deals, stage_stats, close_stats, sales_tenants, conversions to crm_app;
