-- When a session (a family of refresh tokens) was signed in, for its maximum lifetime. Tokens
-- stored before keep 0 and count from their own issue (no update here: under the table's
-- row-level security the schema owner would see no rows).
alter table sessions add column started_at bigint not null default 0;
