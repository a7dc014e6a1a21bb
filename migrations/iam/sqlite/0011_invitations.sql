-- Invitations: the current link of each invited user (status 'invited'), stored only as the
-- SHA-256 of its token. Sending again replaces the row; accepting or revoking removes it.
create table invitations (
    user_id text primary key,
    tenant_id text not null,
    token_hash text not null unique,
    invited_by text not null,
    sent_at integer not null,
    expires_at integer not null,
    send_count integer not null
);
create index invitations_tenant on invitations (tenant_id);
