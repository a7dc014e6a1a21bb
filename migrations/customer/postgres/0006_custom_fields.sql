-- The custom fields a workspace defines for its customers: the definition as a JSON document
-- beside its key, unique per tenant. How many a workspace keeps is capped by the service (it
-- counts under a transaction-level advisory lock on the tenant).
create table custom_fields (
    tenant_id text not null,
    key text not null,
    doc text not null,
    created_at bigint not null,
    version bigint not null,
    constraint custom_fields_tenant_key_key primary key (tenant_id, key)
);

alter table custom_fields enable row level security;
alter table custom_fields force row level security;
create policy tenant_isolation on custom_fields
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));

grant select, insert, update, delete on custom_fields to crm_app;
