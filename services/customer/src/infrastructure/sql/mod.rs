//! The customer store on SQLite and PostgreSQL, written once on
//! [`crm_core::storage::Database`]: the aggregate as a JSON document beside the columns reads
//! filter and order by, tags in `customer_tags`, and the search index ([`search`]) written in
//! the same transaction as the customer, so a customer is findable the moment its write
//! commits. On PostgreSQL every transaction is scoped to its tenant (row-level security).

mod custom_fields;
mod deleted;
mod names;
mod query;
mod search;
mod state;

pub use custom_fields::SqlCustomFieldStore;

pub use names::rekey_if_needed as rekey_names;
pub use search::rebuild_if_needed as rebuild_search_index;

use query::{Arg, Sql, filtered};

use async_trait::async_trait;
use crm_core::storage::{Conn, Database, Engine, Tx, UniqueConstraint, map_db_error};
use crm_core::text::sort_key;
use crm_core::{Error, Result, TenantId, UserId};
use crm_events::outbox::append_events;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::domain::Millis;
use crate::domain::customer::Customer;
use crate::domain::ports::{
    Change, Cursor, CustomerStore, Filter, Mode, Order, OutboxEvent, Purged,
};

const UNIQUES: &[UniqueConstraint] = &[UniqueConstraint {
    name: "customers_tenant_email_key",
    sqlite_columns: "customers.tenant_id, customers.email",
    field: "customer.email",
    message: "a customer with this email already exists",
}];

fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| map_db_error(e, UNIQUES, doing)
}

/// A stored customer: its position (which links tags and the search index), its document,
/// and, where a read of deleted customers selects it, the column's deletion time (documents
/// of customers deleted before the aggregate knew it do not carry it).
#[derive(sqlx::FromRow)]
pub(super) struct Row {
    seq: i64,
    doc: String,
    #[sqlx(default)]
    deleted_at: Option<i64>,
}

impl TryFrom<Row> for Customer {
    type Error = Error;

    fn try_from(row: Row) -> Result<Customer> {
        let mut customer: Customer = serde_json::from_str(&row.doc).map_err(|e| {
            Error::internal(
                "stored data could not be read",
                anyhow::anyhow!("customers.doc of seq {}: {e}", row.seq),
            )
        })?;
        customer.deleted_at = customer.deleted_at.or(row.deleted_at);
        Ok(customer)
    }
}

/// The customer store on either engine.
pub struct SqlCustomerStore {
    db: Database,
}

impl SqlCustomerStore {
    /// A store on `db` (migrated).
    pub fn new(db: Database) -> SqlCustomerStore {
        SqlCustomerStore { db }
    }

    async fn begin(&self, tenant: TenantId) -> Result<Tx> {
        self.db
            .begin_for(tenant)
            .await
            .map_err(db("starting a transaction scoped to its tenant"))
    }
}

/// Customers per multi-row statement of a batch (13 parameters each). Small on purpose: the
/// SQLite driver looks each `$n` up by name in a list as long as the statement's parameters,
/// so a statement's binding costs grow with the square of its parameters (a profile of 250
/// rows per statement spent most of its time in `sqlite3_bind_parameter_name`).
const BATCH_CHUNK: usize = 25;

/// Inserts customers with a few statements for all of them: the rows (returning their
/// positions), their tags, and their search entries.
async fn insert_many(tx: &mut Conn, chunk: &[Customer]) -> Result<()> {
    let mut sql = Sql::new(
        "insert into customers (id, tenant_id, customer_type, status, owner_id, email, display_name, \
         sort_name, created_at, updated_at, version, deleted_at, doc",
    );
    sql.push(") values ", None);
    for (i, c) in chunk.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" }, None)
            .text("?", c.id.to_string())
            .text(", ?", c.tenant_id.to_string())
            .text(", ?", c.customer_type.as_str())
            .text(", ?", c.status.as_str())
            .push(", ?", Some(Arg::OptText(c.owner_id.map(|o| o.to_string()))))
            .push(", ?", Some(Arg::OptText(c.email.clone())))
            .text(", ?", c.display_name.clone())
            .text(", ?", sort_key(&c.display_name))
            .int(", ?", c.created_at)
            .int(", ?", c.updated_at)
            .int(", ?, null", c.version)
            .text(", ?)", document(c));
    }
    sql.push(" returning seq, id", None);
    #[derive(sqlx::FromRow)]
    struct Inserted {
        seq: i64,
        id: String,
    }
    let rows = sql
        .query_as::<Inserted>()
        .fetch_all(&mut *tx)
        .await
        .map_err(db("creating customers"))?;
    let seqs: std::collections::HashMap<String, i64> =
        rows.into_iter().map(|r| (r.id, r.seq)).collect();
    let entries = chunk
        .iter()
        .map(|c| {
            let seq = seqs.get(&c.id.to_string()).copied().ok_or_else(|| {
                Error::internal(
                    "an inserted customer has no position",
                    anyhow::anyhow!("{}", c.id),
                )
            })?;
            Ok((seq, c))
        })
        .collect::<Result<Vec<(i64, &Customer)>>>()?;
    insert_tags(tx, &entries).await?;
    search::insert(tx, &entries).await
}

/// Saves a changed customer over version `expected`; a deleted one leaves the search index
/// (a restored one comes back to it).
async fn save(tx: &mut Conn, seq: i64, c: &Customer, expected: i64) -> Result<()> {
    let done = sqlx::query(
        "update customers set customer_type = $2, status = $3, owner_id = $4, email = $5, display_name = $6, \
         sort_name = $7, updated_at = $8, version = $9, doc = $10, deleted_at = $12 \
         where seq = $1 and version = $11",
    )
    .bind(seq)
    .bind(c.customer_type.as_str())
    .bind(c.status.as_str())
    .bind(c.owner_id.map(|o| o.to_string()))
    .bind(c.email.clone())
    .bind(&c.display_name)
    .bind(sort_key(&c.display_name))
    .bind(c.updated_at)
    .bind(c.version)
    .bind(document(c))
    .bind(expected)
    .bind(c.deleted_at)
    .execute(&mut *tx)
    .await
    .map_err(db("saving a customer"))?;
    if done.rows_affected() == 0 {
        return Err(Error::etag_mismatch("customer").with_metadata("id", c.id.to_string()));
    }
    write_tags(tx, seq, c).await?;
    match c.deleted_at {
        Some(_) => search::remove(tx, seq).await,
        None => search::index(tx, seq, c).await,
    }
}

fn document(c: &Customer) -> String {
    serde_json::to_string(c).expect("a customer serialises")
}

/// Replaces a customer's tags.
async fn write_tags(tx: &mut Conn, seq: i64, c: &Customer) -> Result<()> {
    sqlx::query("delete from customer_tags where customer_seq = $1")
        .bind(seq)
        .execute(&mut *tx)
        .await
        .map_err(db("saving tags"))?;
    insert_tags(tx, &[(seq, c)]).await
}

/// Adds the tags of customers (by position), in one statement.
async fn insert_tags(tx: &mut Conn, entries: &[(i64, &Customer)]) -> Result<()> {
    let tagged: Vec<(i64, &Customer, &String)> = entries
        .iter()
        .flat_map(|(seq, c)| c.tags.iter().map(move |t| (*seq, *c, t)))
        .collect();
    if tagged.is_empty() {
        return Ok(());
    }
    let mut tags = Sql::new("insert into customer_tags (tenant_id, customer_seq, tag) values ");
    for (i, (seq, c, tag)) in tagged.iter().enumerate() {
        tags.text(if i == 0 { "(?" } else { ", (?" }, c.tenant_id.to_string())
            .int(", ?", *seq)
            .text(", ?)", (*tag).clone());
    }
    tags.query()
        .execute(&mut *tx)
        .await
        .map_err(db("saving tags"))
        .map(drop)
}

#[async_trait]
impl CustomerStore for SqlCustomerStore {
    async fn insert(&self, customer: &Customer, events: Vec<OutboxEvent>) -> Result<()> {
        let result = async {
            let mut tx = self.begin(customer.tenant_id).await?;
            insert_many(&mut tx, std::slice::from_ref(customer)).await?;
            append_events(&mut tx, &events).await?;
            tx.commit().await.map_err(db("creating a customer"))
        }
        .instrument(self.db.transaction_span("insert"))
        .await;
        match result {
            Ok(()) => Ok(()),
            Err(e) => Err(super::name_the_holder(self, e, customer).await),
        }
    }

    async fn insert_batch(&self, customers: &[Customer], events: Vec<OutboxEvent>) -> Result<()> {
        let Some(first) = customers.first() else {
            return Ok(());
        };
        if let Some(c) = customers.iter().find(|c| c.tenant_id != first.tenant_id) {
            return Err(Error::internal(
                "a batch mixes tenants",
                anyhow::anyhow!("insert_batch got {} and {}", first.tenant_id, c.tenant_id),
            ));
        }
        let mut tx = self.begin(first.tenant_id).await?;
        for chunk in customers.chunks(BATCH_CHUNK) {
            insert_many(&mut tx, chunk).await?;
        }
        append_events(&mut tx, &events).await?;
        tx.commit().await.map_err(db("creating customers"))
    }

    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Option<Customer>> {
        let query = sqlx::query_as::<_, Row>(
            "select seq, doc from customers where tenant_id = $1 and id = $2 and deleted_at is null",
        )
        .bind(tenant.to_string())
        .bind(id.to_string());
        let row = match self.db.engine() {
            // One statement is its own transaction on SQLite; BEGIN and COMMIT around it would
            // be two more trips to the driver's worker thread on the hottest read.
            Engine::Sqlite => query.fetch_optional(self.db.pool()).await,
            Engine::Postgres => {
                let mut tx = self.begin(tenant).await?;
                let row = query.fetch_optional(&mut *tx).await;
                tx.commit().await.map_err(db("reading a customer"))?;
                row
            }
        }
        .map_err(db("reading a customer"))?;
        row.map(Customer::try_from).transpose()
    }

    async fn by_email(&self, tenant: TenantId, email: &str) -> Result<Option<Customer>> {
        let mut tx = self.begin(tenant).await?;
        let row: Option<Row> = sqlx::query_as(
            "select seq, doc from customers where tenant_id = $1 and email = $2 and deleted_at is null",
        )
        .bind(tenant.to_string())
        .bind(email)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("reading a customer"))?;
        tx.commit().await.map_err(db("reading a customer"))?;
        row.map(Customer::try_from).transpose()
    }

    async fn taken_emails(
        &self,
        tenant: TenantId,
        emails: &[String],
    ) -> Result<Vec<(String, Uuid)>> {
        #[derive(sqlx::FromRow)]
        struct Taken {
            email: String,
            id: String,
        }
        if emails.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new("select c.email, c.id from customers c where");
        sql.text(
            " c.tenant_id = ? and c.deleted_at is null and c.email in (",
            tenant.to_string(),
        );
        for (i, email) in emails.iter().enumerate() {
            sql.text(if i == 0 { "?" } else { ", ?" }, email.clone());
        }
        sql.push(")", None);
        let mut tx = self.begin(tenant).await?;
        let rows = sql
            .query_as::<Taken>()
            .fetch_all(&mut *tx)
            .await
            .map_err(db("reading emails"))?;
        tx.commit().await.map_err(db("reading emails"))?;
        rows.into_iter()
            .map(|t| {
                let id = Uuid::try_parse(&t.id).map_err(|e| {
                    Error::internal(
                        "stored data could not be read",
                        anyhow::anyhow!("customers.id: {e}"),
                    )
                })?;
                Ok((t.email, id))
            })
            .collect()
    }

    /// Loads a live customer (a deleted one to restore), changes it through `change` and saves
    /// it, live or deleted as `mode` says, with its events in one transaction.
    async fn change(
        &self,
        tenant: TenantId,
        id: Uuid,
        mut change: Change<'_>,
        mode: Mode,
    ) -> Result<Customer> {
        let mut tx = self
            .db
            .begin_write(tenant)
            .await
            .map_err(db("starting a transaction"))?;
        let lock = Engine::of(&tx).row_lock();
        let state = if mode.loads_deleted() {
            "not null"
        } else {
            "null"
        };
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select seq, doc, deleted_at from customers where tenant_id = $1 and id = $2 and deleted_at is {state}{lock}"
        )))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("reading a customer"))?;
        let Some(row) = row else {
            return Err(Error::not_found("customer", id));
        };
        let seq = row.seq;
        let mut customer = Customer::try_from(row)?;
        let expected = customer.version;
        let events = change(&mut customer)?;
        mode.settle(&mut customer, expected);
        if customer.version != expected
            && let Err(e) = save(&mut tx, seq, &customer, expected).await
        {
            // The email asked for (or kept by a restored customer) is another's: name its
            // holder, outside the failed transaction.
            drop(tx);
            return Err(super::name_the_holder(self, e, &customer).await);
        }
        append_events(&mut tx, &events).await?;
        tx.commit().await.map_err(db("saving a customer"))?;
        Ok(customer)
    }

    async fn list_deleted(
        &self,
        tenant: TenantId,
        owner: Option<UserId>,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Customer>> {
        let sql = deleted::list(tenant, owner, after, limit)?;
        let mut tx = self.begin(tenant).await?;
        let rows = sql
            .rows(&mut tx)
            .await
            .map_err(db("listing deleted customers"))?;
        tx.commit().await.map_err(db("listing deleted customers"))?;
        rows.into_iter().map(Customer::try_from).collect()
    }

    async fn purge(&self, deleted_before: Millis, limit: u32, purged: &Purged) -> Result<u32> {
        deleted::purge(&self.db, deleted_before, limit, purged).await
    }

    async fn list(
        &self,
        tenant: TenantId,
        filter: &Filter,
        order: Order,
        after: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Customer>> {
        let mut sql = Sql::new("select c.seq, c.doc from customers c where");
        filtered(&mut sql, self.db.engine(), tenant, filter);
        match (order, after) {
            (Order::Created, Some(a)) => {
                sql.text(" and c.id > ?", a.id.to_string());
            }
            (Order::CreatedDesc, Some(a)) => {
                sql.text(" and c.id < ?", a.id.to_string());
            }
            (Order::Name, Some(a)) => {
                sql.text(" and (c.sort_name > ?", a.key.clone())
                    .text(" or (c.sort_name = ?", a.key.clone())
                    .text(" and c.id > ?))", a.id.to_string());
            }
            (Order::NameDesc, Some(a)) => {
                sql.text(" and (c.sort_name < ?", a.key.clone())
                    .text(" or (c.sort_name = ?", a.key.clone())
                    .text(" and c.id < ?))", a.id.to_string());
            }
            (_, None) => {}
        }
        sql.push(
            match order {
                Order::Created => " order by c.id",
                Order::CreatedDesc => " order by c.id desc",
                Order::Name => " order by c.sort_name, c.id",
                Order::NameDesc => " order by c.sort_name desc, c.id desc",
            },
            None,
        );
        sql.int(" limit ?", i64::from(limit));
        let mut tx = self.begin(tenant).await?;
        let rows = sql.rows(&mut tx).await.map_err(db("listing customers"))?;
        tx.commit().await.map_err(db("listing customers"))?;
        rows.into_iter().map(Customer::try_from).collect()
    }

    async fn count(&self, tenant: TenantId, filter: &Filter) -> Result<i64> {
        #[derive(sqlx::FromRow)]
        struct Count {
            n: i64,
        }
        let mut sql = Sql::new("select count(*) as n from customers c where");
        filtered(&mut sql, self.db.engine(), tenant, filter);
        let mut tx = self.begin(tenant).await?;
        let count = sql
            .query_as::<Count>()
            .fetch_one(&mut *tx)
            .await
            .map_err(db("counting customers"))?;
        tx.commit().await.map_err(db("counting customers"))?;
        Ok(count.n)
    }

    async fn search(
        &self,
        tenant: TenantId,
        words: &[String],
        filter: &Filter,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Customer>> {
        self.db
            .in_tenant(tenant, "searching customers", async |tx| {
                search::search(tx, tenant, words, filter, offset, limit).await
            })
            .await
    }
}
