-- Where an opportunity's request to win above the large-deal threshold stands ('pending',
-- 'approved', 'declined'; null without one), as a column: the sales managers' list of the
-- requests waiting for them (ListOpportunities by approval_state) reads an index, not every
-- opportunity's document.
alter table opportunities add column approval_state text;
update opportunities set approval_state = lower(json_extract(doc, '$.approval.state'))
    where json_extract(doc, '$.approval.state') is not null;
create index opportunities_approval on opportunities (tenant_id, approval_state, id)
    where approval_state is not null;
