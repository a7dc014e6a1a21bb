-- Signing in by email (Login without a workspace's slug): the workspaces where an email has an
-- active account.
create index users_email_active on users (email) where status = 'active';
