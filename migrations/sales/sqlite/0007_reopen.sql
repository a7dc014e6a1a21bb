-- A reopened win withdraws its deal (ReopenOpportunity). SQLite has no roles to grant it to:
-- kept in step with PostgreSQL's migrations.
select 1;
