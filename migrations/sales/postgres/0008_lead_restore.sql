-- A deleted lead stays restorable for 30 days (RestoreLead), listed most recently deleted first
-- (ListDeletedLeads); then the purge removes it for good. The purge finds due leads of every
-- tenant under its own setting (then deletes each inside its tenant's scope).
alter table leads add column deleted_at bigint;
create index leads_tenant_deleted on leads (tenant_id, deleted_at, id) where deleted_at is not null;
create index leads_deleted on leads (deleted_at) where deleted_at is not null;
create policy purge on leads for select
    using (current_setting('app.lead_purge', true) = 'on');
grant delete on leads to crm_app;
