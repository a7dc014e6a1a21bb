//! The search index, in the customer's own transaction, so a customer is findable the moment
//! its write commits: an FTS5 table on SQLite (rowid = `customers.seq`), a `customer_search`
//! table with a `tsvector` on PostgreSQL (see its migration for why it is a table of its own);
//! every query also filters on the tenant. Both index the same words: the [`search_words`] of
//! the customer's [`Customer::search_text`] (so `siti@kilang.example` is found by `siti` and
//! by `kilang`). The last query word is a prefix (`bat` finds "Batik"), the others whole words;
//! all of them must match; the best of the newest [`CANDIDATES`] matches come first
//! ([`search_score`] on SQLite, `ts_rank` on PostgreSQL).

use crm_core::storage::{Conn, Engine};
use crm_core::{Result, TenantId};

use super::{Sql, db, filter_columns, filtered};
use crate::domain::customer::Customer;
use crate::domain::ports::Filter;
use crate::domain::values::{query_terms, search_score, search_words};

/// How many of the newest matches a search ranks.
pub const CANDIDATES: i64 = 1_000;

/// The words a customer is found by.
pub(super) fn body(c: &Customer) -> String {
    search_words(&c.search_text()).join(" ")
}

/// Writes the customer's entry (replacing any earlier one).
pub(super) async fn index(tx: &mut Conn, seq: i64, c: &Customer) -> Result<()> {
    remove(tx, seq).await?;
    insert(tx, &[(seq, c)]).await
}

/// Adds the entries of customers (by position), in one statement.
pub(super) async fn insert(tx: &mut Conn, entries: &[(i64, &Customer)]) -> Result<()> {
    let engine = Engine::of(tx);
    let mut sql = Sql::new(match engine {
        Engine::Sqlite => "insert into customer_search (rowid, body) values ",
        Engine::Postgres => "insert into customer_search (seq, tenant_id, search) values ",
    });
    for (i, (seq, c)) in entries.iter().enumerate() {
        sql.int(if i == 0 { "(?" } else { ", (?" }, *seq);
        match engine {
            Engine::Sqlite => sql.text(", ?)", body(c)),
            Engine::Postgres => sql
                .text(", ?", c.tenant_id.to_string())
                .text(", to_tsvector('simple', ?))", body(c)),
        };
    }
    sql.query()
        .execute(&mut *tx)
        .await
        .map_err(db("indexing customers"))
        .map(drop)
}

/// Removes the customer's entry.
pub(super) async fn remove(tx: &mut Conn, seq: i64) -> Result<()> {
    let sql = match Engine::of(tx) {
        Engine::Sqlite => "delete from customer_search where rowid = $1",
        Engine::Postgres => "delete from customer_search where seq = $1",
    };
    sqlx::query(sql)
        .bind(seq)
        .execute(tx)
        .await
        .map_err(db("unindexing a customer"))
        .map(drop)
}

/// The customers matching `words` (from [`search_words`], at least one; see [`query_terms`]) in
/// `tenant`, best first, the page after `offset`.
///
/// The newest [`CANDIDATES`] matches that pass the filters are ranked, and a page of them read:
/// ranking every match of a common word costs in proportion to the matches (tens of
/// milliseconds at a million customers); walking the newest ones stops at the bound.
pub(super) async fn search(
    tx: &mut Conn,
    tenant: TenantId,
    words: &[String],
    filter: &Filter,
    offset: u32,
    limit: u32,
) -> Result<Vec<Customer>> {
    let ranked = match Engine::of(tx) {
        Engine::Sqlite => sqlite_candidates(tx, tenant, words, filter).await?,
        Engine::Postgres => postgres_candidates(tx, tenant, words, filter).await?,
    };
    let page: Vec<i64> = ranked
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    if page.is_empty() {
        return Ok(Vec::new());
    }
    let mut read = Sql::new("select seq, doc from customers where seq in (");
    for (i, seq) in page.iter().enumerate() {
        read.int(if i == 0 { "?" } else { ", ?" }, *seq);
    }
    read.push(")", None);
    // On PostgreSQL under the tenant's row-level security: only its customers come back.
    let mut rows = read.rows(tx).await.map_err(db("searching customers"))?;
    rows.sort_by_key(|r| page.iter().position(|seq| *seq == r.seq));
    rows.into_iter().map(Customer::try_from).collect()
}

/// The candidates on SQLite, best first.
///
/// FTS5's own `rank` (bm25) counts, per query, every row holding each term: 10–15 ms for a
/// common word at a million customers, whatever the LIMIT. The candidates are ranked here
/// instead, by the words of their names ([`search_score`]), read from the rows the query joins
/// anyway. The tenant is filtered on the rows the full-text walk finds (`+c.tenant_id`): a
/// tenant token matched in the index cost 40 ms per query at a million customers, its list of
/// rows being as long as the tenant.
async fn sqlite_candidates(
    tx: &mut Conn,
    tenant: TenantId,
    words: &[String],
    filter: &Filter,
) -> Result<Vec<i64>> {
    #[derive(sqlx::FromRow)]
    struct Candidate {
        seq: i64,
        sort_name: String,
    }
    let terms: Vec<String> = query_terms(words, |w| format!("\"{w}\""), |w| format!("\"{w}\"*"));
    let mut sql = Sql::new(
        "select c.seq, c.sort_name from customer_search s \
         join customers c on c.seq = s.rowid where",
    );
    sql.text(" customer_search match ? and", terms.join(" AND "));
    filter_columns(&mut sql, tenant, filter, "+c.");
    sql.int(" order by s.rowid desc limit ?", CANDIDATES);
    let mut candidates: Vec<(u32, i64)> = sql
        .query_as::<Candidate>()
        .fetch_all(&mut *tx)
        .await
        .map_err(db("searching customers"))?
        .into_iter()
        .map(|c| (search_score(words, &search_words(&c.sort_name)), c.seq))
        .collect();
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(candidates.into_iter().map(|(_, seq)| seq).collect())
}

/// The candidates on PostgreSQL, best first by `ts_rank`.
///
/// The matches come from `customer_search` (no row-level security: see its migration; the
/// customers are then read under the tenant's policy). For a common word the planner walks the
/// tenant's newest entries and stops at the bound; for rare ones it asks the GIN index. Without
/// filters the index table is read alone (its rows are small); filters join the customers they
/// name.
async fn postgres_candidates(
    tx: &mut Conn,
    tenant: TenantId,
    words: &[String],
    filter: &Filter,
) -> Result<Vec<i64>> {
    #[derive(sqlx::FromRow)]
    struct Candidate {
        seq: i64,
        score: f64,
    }
    let query = query_terms(words, str::to_owned, |w| format!("{w}:*")).join(" & ");
    let unfiltered = *filter == Filter::default();
    // The query is the statement's first parameter ($1), named again after. `ts_rank` runs
    // outside the bounded walk: inside it, it ran on every match before the sort (28 ms
    // against 15 for two common words on a synthetic table of a million rows).
    let mut sql = Sql::new("select w.seq,");
    sql.text(
        " ts_rank(w.search, to_tsquery('simple', ?))::float8 as score \
         from (select s.seq, s.search from customer_search s",
        query,
    );
    if !unfiltered {
        sql.push(" join customers c on c.seq = s.seq", None);
    }
    sql.push(" where s.search @@ to_tsquery('simple', $1)", None)
        .text(" and s.tenant_id = ?", tenant.to_string());
    if !unfiltered {
        sql.push(" and", None);
        filtered(&mut sql, tenant, filter);
    }
    sql.int(" order by s.seq desc limit ?) w", CANDIDATES);
    let mut candidates = sql
        .query_as::<Candidate>()
        .fetch_all(&mut *tx)
        .await
        .map_err(db("searching customers"))?;
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.seq.cmp(&b.seq)));
    Ok(candidates.into_iter().map(|c| c.seq).collect())
}
