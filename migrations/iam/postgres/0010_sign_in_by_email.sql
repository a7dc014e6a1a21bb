-- Signing in by email (Login without a workspace's slug): the workspaces where an email has an
-- active account are found across tenants under the sign-in's own setting (`app.sign_in`), in
-- a transaction that reads only tenant ids; each account is then read inside its tenant.
create index users_email_active on users (email) where status = 'active';
create policy sign_in on users for select
    using (current_setting('app.sign_in', true) = 'on');
