-- Records purged for good (a customer after its 30 days in Recently deleted): nothing is added
-- to their timelines again, whatever arrives later (a task about one changed, an opportunity
-- of one reopened).
create table timeline_erased (
    tenant_id text not null,
    record_type text not null,
    record_id text not null,
    primary key (tenant_id, record_type, record_id)
);
alter table timeline_erased enable row level security;
alter table timeline_erased force row level security;
create policy tenant_isolation on timeline_erased
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
grant select, insert on timeline_erased to crm_app;
