-- The index holds the CRM's own search words as they are (`array_to_tsvector`), and queries
-- name them as they are (a `tsquery` literal): PostgreSQL's text-search parser no longer reads
-- them, which dropped or split some (`m²` became `m`, widening a search) where SQLite and
-- MongoDB did not. The entries written before are rebuilt from the customers by the customer
-- service when it starts (the words are computed in Rust), version 1 → 2 here.
create table customer_search_state (
    version integer not null
);
insert into customer_search_state (version)
    select case when exists (select 1 from customer_search) then 1 else 2 end;
grant select, update on customer_search_state to crm_app;
