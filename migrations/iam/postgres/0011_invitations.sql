-- Invitations: the current link of each invited user (status 'invited'), stored only as the
-- SHA-256 of its token. Sending again replaces the row; accepting or revoking removes it.
create table invitations (
    user_id text primary key references users (id),
    tenant_id text not null,
    token_hash text not null unique,
    invited_by text not null,
    sent_at bigint not null,
    expires_at bigint not null,
    send_count integer not null
);
create index invitations_tenant on invitations (tenant_id);

alter table invitations enable row level security;
alter table invitations force row level security;
create policy tenant_isolation on invitations
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));

grant select, insert, update, delete on invitations to crm_app;
