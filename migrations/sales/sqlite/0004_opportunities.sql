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
    amount_units integer not null,
    amount_nanos integer not null,
    probability integer not null,
    expected_close_at integer,
    created_at integer not null,
    updated_at integer not null,
    closed_at integer,
    loss_reason integer not null,
    doc text not null,
    version integer not null
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
    seq integer not null,
    pipeline_id text not null,
    from_stage_id text,
    to_stage_id text not null,
    -- The stage's place in the pipeline when it was entered.
    to_position integer not null,
    changed_by text not null,
    changed_at integer not null,
    -- When the opportunity left `to_stage_id` (its next change, or its close); null while there.
    left_at integer,
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
    amount_units integer not null,
    amount_nanos integer not null,
    closed_at integer not null,
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
    day integer not null,
    entered integer not null,
    advanced integer not null,
    stay_millis integer not null,
    stays integer not null,
    open_count integer not null,
    open_entered_at integer not null,
    open_units integer not null,
    open_nanos integer not null,
    primary key (tenant_id, pipeline_id, stage_id, day)
);

create table close_stats (
    tenant_id text not null,
    pipeline_id text not null,
    day integer not null,
    status text not null,
    loss_reason integer not null,
    closed integer not null,
    units integer not null,
    nanos integer not null,
    cycle_millis integer not null,
    primary key (tenant_id, pipeline_id, day, status, loss_reason)
);

create table sales_tenants (
    tenant_id text primary key,
    deal_approval_threshold_units integer not null,
    time_zone text not null,
    updated_at integer not null
);

create table conversions (
    id text primary key,
    tenant_id text not null,
    lead_id text not null,
    request_id text not null,
    step text not null,
    doc text not null,
    created_at integer not null,
    updated_at integer not null
);
create index conversions_unfinished on conversions (step, updated_at);
-- One conversion of a lead under way at a time (concurrent ones join it); a request id names one.
create unique index conversions_active on conversions (tenant_id, lead_id)
    where step in ('started', 'customer_ensured', 'compensating');
create unique index conversions_request on conversions (tenant_id, request_id) where request_id <> '';
