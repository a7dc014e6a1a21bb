-- When a session (a family of refresh tokens) was signed in, for its maximum lifetime. Tokens
-- stored before keep 0 and count from their own issue.
alter table sessions add column started_at integer not null default 0;
