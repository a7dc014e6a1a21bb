-- A deleted customer stays restorable for 30 days (RestoreCustomer), listed most recently
-- deleted first (ListDeletedCustomers); then the purge removes it for good. The purge finds due
-- customers of every tenant under its own setting (then deletes each inside its tenant's scope).
create index customers_tenant_deleted on customers (tenant_id, deleted_at, id) where deleted_at is not null;
create index customers_deleted on customers (deleted_at) where deleted_at is not null;
create policy purge on customers for select
    using (current_setting('app.customer_purge', true) = 'on');
grant delete on customers to crm_app;
