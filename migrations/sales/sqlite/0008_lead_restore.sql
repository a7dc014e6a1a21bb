-- A deleted lead stays restorable for 30 days (RestoreLead), listed most recently deleted first
-- (ListDeletedLeads); then the purge removes it for good.
alter table leads add column deleted_at integer;
create index leads_tenant_deleted on leads (tenant_id, deleted_at, id) where deleted_at is not null;
create index leads_deleted on leads (deleted_at) where deleted_at is not null;
