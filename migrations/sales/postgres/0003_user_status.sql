-- Whether each user may still be handed work, from IAM's UserStatusChanged.
alter table sales_users add column status text not null default 'active';
