-- A deleted customer stays restorable for 30 days (RestoreCustomer), listed most recently
-- deleted first (ListDeletedCustomers); then the purge removes it for good.
create index customers_tenant_deleted on customers (tenant_id, deleted_at, id) where deleted_at is not null;
create index customers_deleted on customers (deleted_at) where deleted_at is not null;
