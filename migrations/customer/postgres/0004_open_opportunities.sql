-- The customers' open opportunities, as sales' events tell them (the consumer of
-- crm.sales.events.v1 keeps it): a customer with open opportunities is not deleted unless the
-- caller chooses to close them as lost.
create table customer_open_opportunities (
    tenant_id text not null,
    opportunity_id text not null,
    customer_id text not null,
    owner_id text,
    primary key (tenant_id, opportunity_id)
);
create index customer_open_opportunities_customer on customer_open_opportunities (tenant_id, customer_id);

alter table customer_open_opportunities enable row level security;
alter table customer_open_opportunities force row level security;
create policy tenant_isolation on customer_open_opportunities
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
grant select, insert, update, delete on customer_open_opportunities to crm_app;
