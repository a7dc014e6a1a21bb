-- Customers on SQLite: the aggregate as a JSON document (`doc`), the columns reads filter and
-- order by beside it, tags in their own table, and an FTS5 index over the words search finds a
-- customer by, written in the same transaction as the customer (read-your-writes). `seq` links
-- the three. The outbox, inbox and idempotency keys are added by their owners (crm-events,
-- crm-core) after these.

create table customers (
    seq integer primary key autoincrement,
    id text not null,
    tenant_id text not null,
    customer_type text not null,
    status text not null,
    owner_id text,
    email text,
    display_name text not null,
    sort_name text not null,
    created_at integer not null,
    updated_at integer not null,
    version integer not null,
    deleted_at integer,
    doc text not null
);
create unique index customers_tenant_id_key on customers (tenant_id, id);
-- The primary email is unique per tenant among customers not deleted.
create unique index customers_tenant_email_key on customers (tenant_id, email)
    where email is not null and deleted_at is null;
create index customers_tenant_name on customers (tenant_id, sort_name, id) where deleted_at is null;
create index customers_tenant_owner on customers (tenant_id, owner_id, id) where deleted_at is null;

create table customer_tags (
    tenant_id text not null,
    customer_seq integer not null references customers (seq) on delete cascade,
    tag text not null,
    primary key (customer_seq, tag)
);
create index customer_tags_tag on customer_tags (tenant_id, tag, customer_seq);

-- rowid = customers.seq; queries filter the tenant on the rows they find. Prefix indexes make
-- 2- and 3-letter prefixes cheap.
create virtual table customer_search using fts5(
    body,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
