-- The custom fields a workspace defines for its customers: the definition as a JSON document
-- beside its key, unique per tenant. How many a workspace keeps is capped by the service.
create table custom_fields (
    tenant_id text not null,
    key text not null,
    doc text not null,
    created_at integer not null,
    version integer not null
);
create unique index custom_fields_tenant_key_key on custom_fields (tenant_id, key);
