-- A customer's opportunities (its record lists them; its deletion closes the open ones). A
-- reopened win withdraws its deal: on PostgreSQL the application role is granted the delete.
create index opportunities_customer on opportunities (tenant_id, customer_id, status);
