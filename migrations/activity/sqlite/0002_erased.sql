-- Records purged for good (a customer after its 30 days in Recently deleted): nothing is added
-- to their timelines again, whatever arrives later (a task about one changed, an opportunity
-- of one reopened).
create table timeline_erased (
    tenant_id text not null,
    record_type text not null,
    record_id text not null,
    primary key (tenant_id, record_type, record_id)
);
