-- The second factor (TOTP, RFC 6238). Its shared secret lives on the user row (base32; null
-- without one); `mfa_confirmed_at` is null while an enrolment waits for its first code, and
-- `mfa_last_step` is the last time step a code was accepted for, so no code works twice.
alter table users add column mfa_secret text;
alter table users add column mfa_confirmed_at bigint;
alter table users add column mfa_last_step bigint not null default 0;

-- One-time recovery codes, stored only as SHA-256 hashes.
create table mfa_recovery_codes (
    tenant_id text not null,
    user_id text not null,
    code_hash text not null,
    used_at bigint,
    primary key (tenant_id, user_id, code_hash)
);

-- Password sign-ins waiting for their second factor: the challenge token's hash, its user and
-- how long it can be answered. A success spends it.
create table mfa_challenges (
    token_hash text primary key,
    tenant_id text not null,
    user_id text not null,
    created_at bigint not null,
    expires_at bigint not null,
    enrollment_required bigint not null,
    spent_at bigint
);
create index mfa_challenges_expiry on mfa_challenges (tenant_id, expires_at);

alter table mfa_recovery_codes enable row level security;
alter table mfa_recovery_codes force row level security;
create policy tenant_isolation on mfa_recovery_codes
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
alter table mfa_challenges enable row level security;
alter table mfa_challenges force row level security;
create policy tenant_isolation on mfa_challenges
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));

grant select, insert, update, delete on mfa_recovery_codes to crm_app;
grant select, insert, update, delete on mfa_challenges to crm_app;
