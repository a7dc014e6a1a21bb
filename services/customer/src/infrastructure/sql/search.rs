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

use super::query::{Sql, filter_columns, filtered};
use super::{db, state};
use crate::domain::customer::Customer;
use crate::domain::ports::Filter;
use crate::domain::values::{query_terms, search_score, search_words};

/// How many of the newest matches a search ranks.
pub const CANDIDATES: i64 = 1_000;

/// The words a customer is found by, separated by spaces (which no word holds).
pub(super) fn body(c: &Customer) -> String {
    search_words(&c.search_text()).join(" ")
}

/// A word quoted for a `tsquery` literal. Words are letters and digits only; a quote or a
/// backslash is escaped all the same.
fn lexeme(word: &str) -> String {
    word.replace('\\', "\\\\").replace('\'', "''")
}

/// The version of the PostgreSQL index's entries that [`insert`] writes (see migration
/// `0003_exact_search_words`).
const POSTGRES_INDEX_VERSION: i64 = 2;

/// Rebuilds the PostgreSQL index's entries written by an earlier version, tenant by tenant, in
/// batches that lock the customers they read (a write in between waits, then writes its own
/// entry). Once, when the customer service starts; nothing on SQLite, whose entries the
/// migration copied.
pub async fn rebuild_if_needed(database: &crm_core::storage::Database) -> Result<()> {
    if database.engine() != Engine::Postgres {
        return Ok(());
    }
    if state::version(database, "customer_search_state").await? >= POSTGRES_INDEX_VERSION {
        return Ok(());
    }
    let tenants: Vec<String> = sqlx::query_scalar("select distinct tenant_id from customer_search")
        .fetch_all(database.pool())
        .await
        .map_err(db("listing the tenants to reindex"))?;
    tracing::info!(
        tenants = tenants.len(),
        "rebuilding the customers' search index with exact words"
    );
    let mut done = 0u64;
    for tenant in &tenants {
        let tenant = state::tenant("customer_search.tenant_id", tenant)?;
        let mut after = 0i64;
        loop {
            let mut tx = database
                .begin_for(tenant)
                .await
                .map_err(db("reindexing customers"))?;
            let mut read = Sql::new("select seq, doc from customers where deleted_at is null");
            read.int(" and seq > ?", after)
                .int(" order by seq limit ? for update", REBUILD_BATCH);
            let rows = read
                .rows(&mut tx)
                .await
                .map_err(db("reindexing customers"))?;
            let Some(last) = rows.last().map(|r| r.seq) else {
                break;
            };
            let mut write = Sql::new(
                "update customer_search set search = array_to_tsvector(string_to_array(v.body, ' ')) from (values ",
            );
            for (i, row) in rows.into_iter().enumerate() {
                let seq = row.seq;
                let customer = Customer::try_from(row)?;
                write
                    .int(
                        if i == 0 {
                            "(cast(? as bigint)"
                        } else {
                            ", (cast(? as bigint)"
                        },
                        seq,
                    )
                    .text(", ?)", body(&customer));
                done += 1;
            }
            write.push(") v (seq, body) where customer_search.seq = v.seq", None);
            write
                .query()
                .execute(&mut *tx)
                .await
                .map_err(db("reindexing customers"))?;
            tx.commit().await.map_err(db("reindexing customers"))?;
            after = last;
        }
        tracing::info!(%tenant, customers = done, "reindexed a tenant's customers");
    }
    state::record(database, "customer_search_state", POSTGRES_INDEX_VERSION).await?;
    tracing::info!(
        customers = done,
        "the customers' search index holds exact words"
    );
    Ok(())
}

/// Customers reindexed in one transaction.
const REBUILD_BATCH: i64 = 500;

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
                // The words as they are: PostgreSQL's parser would drop or split some.
                .text(", array_to_tsvector(string_to_array(?, ' ')))", body(c)),
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
    filter_columns(&mut sql, Engine::Sqlite, tenant, filter, "+c.");
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
    // A `tsquery` literal of the words as they are, not `to_tsquery`, whose parser dropped
    // words (`²`) and so widened a search.
    let query = query_terms(
        words,
        |w| format!("'{}'", lexeme(w)),
        |w| format!("'{}':*", lexeme(w)),
    )
    .join(" & ");
    let unfiltered = *filter == Filter::default();
    // The query is the statement's first parameter ($1), named again after. `ts_rank` runs
    // outside the bounded walk: inside it, it ran on every match before the sort (28 ms
    // against 15 for two common words on a synthetic table of a million rows).
    let mut sql = Sql::new("select w.seq,");
    sql.text(
        " ts_rank(w.search, cast(? as tsquery))::float8 as score \
         from (select s.seq, s.search from customer_search s",
        query,
    );
    if !unfiltered {
        sql.push(" join customers c on c.seq = s.seq", None);
    }
    sql.push(" where s.search @@ cast($1 as tsquery)", None)
        .text(" and s.tenant_id = ?", tenant.to_string());
    if !unfiltered {
        sql.push(" and", None);
        filtered(&mut sql, Engine::Postgres, tenant, filter);
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
