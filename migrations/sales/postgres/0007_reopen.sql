-- A reopened win withdraws its deal (ReopenOpportunity): the application deletes that one row.
grant delete on deals to crm_app;
-- A customer's opportunities (its record lists them; its deletion closes the open ones).
create index opportunities_customer on opportunities (tenant_id, customer_id, status);
