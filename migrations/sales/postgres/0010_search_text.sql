-- What a lead and an opportunity are found by (ListLeads' and ListOpportunities' `query`): the
-- lead's contact name, company, email, phone and interest, the opportunity's name, lower-cased
-- with one space between words (the application writes it on every save; rows already stored
-- take it here).
alter table leads add column search_text text not null default '';
update leads set search_text = lower(trim(
    coalesce(doc::jsonb ->> 'contact_name', '') || ' ' ||
    coalesce(doc::jsonb ->> 'company_name', '') || ' ' ||
    coalesce(doc::jsonb ->> 'email', '') || ' ' ||
    coalesce(doc::jsonb ->> 'phone', '') || ' ' ||
    coalesce(doc::jsonb ->> 'interest', '')));
alter table opportunities add column search_text text not null default '';
update opportunities set search_text = lower(coalesce(doc::jsonb ->> 'name', ''));
