-- A person's own language (BCP 47) for the console and their notices; null: the workspace's.
alter table users add column locale text;
