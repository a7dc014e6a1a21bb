-- A reopened win withdraws its deal (ReopenOpportunity): the application deletes that one row.
grant delete on deals to crm_app;
