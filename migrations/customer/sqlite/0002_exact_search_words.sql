-- The index holds the CRM's own search words (letters and digits, lower-cased: see
-- `search_words`), and nothing re-reads them: the `ascii` tokenizer takes every non-ASCII
-- character as part of a word and splits only on ASCII punctuation and spaces, which the words
-- never hold. So an index entry is exactly its words, as on PostgreSQL and MongoDB, and a
-- query finds the same customers on every engine (`unicode61` had folded diacritics and split
-- on characters Unicode 6.1 did not know, which the other engines did not). The entries are the
-- words already, so they are copied as they are.
create virtual table customer_search_exact using fts5(
    body,
    tokenize = 'ascii',
    prefix = '2 3'
);
insert into customer_search_exact (rowid, body) select rowid, body from customer_search;
drop table customer_search;
alter table customer_search_exact rename to customer_search;
