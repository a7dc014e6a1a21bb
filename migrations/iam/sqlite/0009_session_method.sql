-- How a session was signed in (password, second_factor, single_sign_on), so a refresh can tell
-- whether the tenant's second-factor policy was met. Sessions stored before count as password.
alter table sessions add column method text not null default 'password';
