-- Lists by name follow names as people read them ("Borong Kain 2" before "Borong Kain 10"):
-- `sort_name` holds crm_core::text::sort_key of the name (each run of digits led by its length)
-- where it held the name lower-cased. The customer service rewrites the stored keys from the
-- names when it starts (the key is computed in Rust), version 1 → 2 here; with no customers
-- yet, it only records version 2.
create table customer_sort_state (
    version integer not null
);
insert into customer_sort_state (version) values (1);
grant select, update on customer_sort_state to crm_app;
