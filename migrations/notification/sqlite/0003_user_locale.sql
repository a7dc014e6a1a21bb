-- A person's own language (IAM's UserProfileChanged); null: the tenant's.
alter table notification_users add column locale text;
