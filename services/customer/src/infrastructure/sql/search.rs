//! The search index, in the customer's own transaction: an FTS5 table on SQLite (rowid =
//! `customers.seq`), a `tsvector` column on PostgreSQL; every query also filters on the tenant. Both index the same words: the
//! [`search_words`] of the customer's [`Customer::search_text`] (so `siti@kilang.example` is
//! found by `siti` and by `kilang`). Every query
//! word is a prefix (`bat` finds "Batik"); all of them must match; the best of the newest
//! [`CANDIDATES`] matches come first.

use crm_core::storage::{Conn, Engine};
use crm_core::{Result, TenantId};

use super::{Sql, db, filter_columns, filtered};
use crate::domain::customer::Customer;
use crate::domain::ports::Filter;
use crate::domain::values::search_words;

/// How many of the newest matches a search ranks.
pub const CANDIDATES: i64 = 1_000;

/// The words a customer is found by.
pub(super) fn body(c: &Customer) -> String {
    search_words(&c.search_text()).join(" ")
}

/// Writes the customer's entry (replacing any earlier one).
pub(super) async fn index(tx: &mut Conn, seq: i64, c: &Customer) -> Result<()> {
    let body = body(c);
    match Engine::of(tx) {
        Engine::Sqlite => {
            remove(tx, seq).await?;
            sqlx::query("insert into customer_search (rowid, body) values ($1, $2)")
                .bind(seq)
                .bind(body)
                .execute(&mut *tx)
                .await
                .map_err(db("indexing a customer"))?;
        }
        Engine::Postgres => {
            sqlx::query("update customers set search = to_tsvector('simple', $2) where seq = $1")
                .bind(seq)
                .bind(body)
                .execute(&mut *tx)
                .await
                .map_err(db("indexing a customer"))?;
        }
    }
    Ok(())
}

/// Removes the customer's entry.
pub(super) async fn remove(tx: &mut Conn, seq: i64) -> Result<()> {
    let sql = match Engine::of(tx) {
        Engine::Sqlite => "delete from customer_search where rowid = $1",
        Engine::Postgres => "update customers set search = null where seq = $1",
    };
    sqlx::query(sql)
        .bind(seq)
        .execute(tx)
        .await
        .map_err(db("unindexing a customer"))
        .map(drop)
}

/// The query for `words` (from [`search_words`], at least one) in `tenant`.
pub(super) fn query(
    engine: Engine,
    tenant: TenantId,
    words: &[String],
    filter: &Filter,
    offset: u32,
    limit: u32,
) -> Sql {
    // The newest CANDIDATES matches that pass the filters are ranked, and a page of them read:
    // ranking every match of a common word costs in proportion to the matches (tens of
    // milliseconds at a million customers); walking the newest ones stops at the bound.
    let mut sql = match engine {
        Engine::Sqlite => {
            // The tenant is filtered on the rows the full-text walk finds (`+c.tenant_id`). A
            // tenant token matched in the index cost 40 ms per query at a million customers: its
            // list of rows is as long as the tenant.
            let terms: Vec<String> = words.iter().map(|w| format!("\"{w}\"*")).collect();
            let mut sql = Sql::new(
                "select c.seq, c.doc from customers c join (select s.rowid as hit, s.rank as score \
                 from customer_search s join customers c on c.seq = s.rowid where",
            );
            sql.text(" customer_search match ? and", terms.join(" AND "));
            filter_columns(&mut sql, tenant, filter, "+c.");
            sql.int(
                " order by s.rowid desc limit ?) r on c.seq = r.hit",
                CANDIDATES,
            )
            .push(" order by r.score, c.seq", None);
            sql
        }
        Engine::Postgres => {
            let terms: Vec<String> = words.iter().map(|w| format!("{w}:*")).collect();
            let mut sql = Sql::new(
                "select c.seq, c.doc from customers c join (select c.seq as hit from customers c where",
            );
            sql.text(
                " c.search @@ to_tsquery('simple', ?) and",
                terms.join(" & "),
            );
            filtered(&mut sql, tenant, filter);
            // $1 is the query, the statement's first parameter.
            sql.int(
                " order by c.seq desc limit ?) r on c.seq = r.hit",
                CANDIDATES,
            )
            .push(
                " order by ts_rank(c.search, to_tsquery('simple', $1)) desc, c.seq",
                None,
            );
            sql
        }
    };
    sql.int(" limit ?", i64::from(limit))
        .int(" offset ?", i64::from(offset));
    sql
}
