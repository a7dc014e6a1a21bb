-- The point-in-time view and the forecast from running sums instead of whole-table scans.
--
-- `stage_stats_at` and `close_stats_at` are `stage_stats` and `close_stats` with the day of the
-- change added to the key: the pipeline as it stood at a moment is the sum of the changes made
-- on earlier days, corrected from the history for the opportunities changed on the moment's own
-- day. `forecast_stats` sums open opportunities per hour of expected close.
create table stage_stats_at (
    tenant_id text not null,
    pipeline_id text not null,
    stage_id text not null,
    day integer not null,
    at_day integer not null,
    entered integer not null,
    advanced integer not null,
    stay_millis integer not null,
    stays integer not null,
    open_count integer not null,
    open_entered_at integer not null,
    open_units integer not null,
    open_nanos integer not null,
    primary key (tenant_id, pipeline_id, day, at_day, stage_id)
);

create table close_stats_at (
    tenant_id text not null,
    pipeline_id text not null,
    day integer not null,
    at_day integer not null,
    status text not null,
    loss_reason integer not null,
    closed integer not null,
    units integer not null,
    nanos integer not null,
    cycle_millis integer not null,
    primary key (tenant_id, pipeline_id, day, at_day, status, loss_reason)
);

create table forecast_stats (
    tenant_id text not null,
    pipeline_id text not null,
    hour integer not null,
    open_count integer not null,
    units integer not null,
    nanos integer not null,
    weighted_units integer not null,
    weighted_nanos integer not null,
    primary key (tenant_id, pipeline_id, hour)
);

-- Which opportunities changed on a day: the point-in-time view rebuilds those from the history.
create index stage_changes_at on stage_changes (tenant_id, pipeline_id, changed_at);
create index opportunities_closed on opportunities (tenant_id, pipeline_id, closed_at);

-- What is already stored, summed as the service sums each change from now on. A stay adds an
-- open opportunity on the day it begins and takes it away on the day it ends. A stage counts
-- as entered on the first entry, and as passed on the first later entry further on (or the win).
insert into stage_stats_at (tenant_id, pipeline_id, stage_id, day, at_day, entered, advanced,
    stay_millis, stays, open_count, open_entered_at, open_units, open_nanos)
select tenant_id, pipeline_id, stage_id, day, at_day, sum(entered), sum(advanced),
    sum(stay_millis), sum(stays), sum(open_count), sum(open_entered_at), sum(open_units),
    sum(open_nanos)
from (
    select sc.tenant_id, sc.pipeline_id, sc.to_stage_id as stage_id,
        o.created_at / 86400000 as day, sc.changed_at / 86400000 as at_day,
        case when exists (select 1 from stage_changes e where e.tenant_id = sc.tenant_id
            and e.opportunity_id = sc.opportunity_id and e.to_stage_id = sc.to_stage_id
            and e.seq < sc.seq) then 0 else 1 end as entered,
        0 as advanced, 0 as stay_millis, 0 as stays, 1 as open_count,
        sc.changed_at as open_entered_at, o.amount_units as open_units,
        o.amount_nanos as open_nanos
    from stage_changes sc
    join opportunities o on o.tenant_id = sc.tenant_id and o.id = sc.opportunity_id
    union all
    select sc.tenant_id, sc.pipeline_id, sc.to_stage_id, o.created_at / 86400000,
        sc.left_at / 86400000, 0, 0, sc.left_at - sc.changed_at, 1, -1, -sc.changed_at,
        -o.amount_units, -o.amount_nanos
    from stage_changes sc
    join opportunities o on o.tenant_id = sc.tenant_id and o.id = sc.opportunity_id
    where sc.left_at is not null
    union all
    select tenant_id, pipeline_id, stage_id, day, passed / 86400000, 0, 1, 0, 0, 0, 0, 0, 0
    from (
        select tenant_id, pipeline_id, stage_id, day,
            case when min(further) is null then max(won_at)
                 when max(won_at) is null then min(further)
                 when min(further) < max(won_at) then min(further)
                 else max(won_at) end as passed
        from (
            select sc.tenant_id, sc.pipeline_id, sc.opportunity_id, sc.to_stage_id as stage_id,
                o.created_at / 86400000 as day,
                (select min(l.changed_at) from stage_changes l
                 where l.tenant_id = sc.tenant_id and l.opportunity_id = sc.opportunity_id
                 and l.seq > sc.seq and l.to_position > sc.to_position) as further,
                case when o.status = 'won' then o.closed_at end as won_at
            from stage_changes sc
            join opportunities o on o.tenant_id = sc.tenant_id and o.id = sc.opportunity_id
        ) f
        group by tenant_id, pipeline_id, opportunity_id, stage_id, day
    ) p
    where passed is not null
) events
group by tenant_id, pipeline_id, stage_id, day, at_day;

insert into close_stats_at (tenant_id, pipeline_id, day, at_day, status, loss_reason, closed,
    units, nanos, cycle_millis)
select tenant_id, pipeline_id, created_at / 86400000, closed_at / 86400000, status, loss_reason,
    count(*), sum(amount_units), sum(amount_nanos), sum(closed_at - created_at)
from opportunities
where status in ('won', 'lost') and closed_at is not null
group by tenant_id, pipeline_id, created_at / 86400000, closed_at / 86400000, status, loss_reason;

insert into forecast_stats (tenant_id, pipeline_id, hour, open_count, units, nanos,
    weighted_units, weighted_nanos)
select tenant_id, pipeline_id, expected_close_at / 3600000, count(*), sum(amount_units),
    sum(amount_nanos), sum(amount_units * probability), sum(amount_nanos * probability)
from opportunities
where status = 'open' and expected_close_at is not null
group by tenant_id, pipeline_id, expected_close_at / 3600000;
