-- The second factor (TOTP, RFC 6238). Its shared secret lives on the user row (base32; null
-- without one); `mfa_confirmed_at` is null while an enrolment waits for its first code, and
-- `mfa_last_step` is the last time step a code was accepted for, so no code works twice.
alter table users add column mfa_secret text;
alter table users add column mfa_confirmed_at integer;
alter table users add column mfa_last_step integer not null default 0;

-- One-time recovery codes, stored only as SHA-256 hashes.
create table mfa_recovery_codes (
    tenant_id text not null,
    user_id text not null,
    code_hash text not null,
    used_at integer,
    primary key (tenant_id, user_id, code_hash)
);

-- Password sign-ins waiting for their second factor: the challenge token's hash, its user and
-- how long it can be answered. A success spends it.
create table mfa_challenges (
    token_hash text primary key,
    tenant_id text not null,
    user_id text not null,
    created_at integer not null,
    expires_at integer not null,
    enrollment_required integer not null,
    spent_at integer
);
create index mfa_challenges_expiry on mfa_challenges (tenant_id, expires_at);


