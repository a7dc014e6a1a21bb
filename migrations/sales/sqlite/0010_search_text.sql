-- What a lead and an opportunity are found by (ListLeads' and ListOpportunities' `query`): the
-- lead's contact name, company, email, phone and interest, the opportunity's name, lower-cased
-- with one space between words (the application writes it on every save; rows already stored
-- take it here, where SQLite's lower() folds ASCII letters only).
alter table leads add column search_text text not null default '';
update leads set search_text = lower(trim(
    coalesce(json_extract(doc, '$.contact_name'), '') || ' ' ||
    coalesce(json_extract(doc, '$.company_name'), '') || ' ' ||
    coalesce(json_extract(doc, '$.email'), '') || ' ' ||
    coalesce(json_extract(doc, '$.phone'), '') || ' ' ||
    coalesce(json_extract(doc, '$.interest'), '')));
alter table opportunities add column search_text text not null default '';
update opportunities set search_text = lower(coalesce(json_extract(doc, '$.name'), ''));
