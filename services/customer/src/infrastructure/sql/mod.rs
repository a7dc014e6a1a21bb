//! The customer store on SQLite and PostgreSQL, written once on
//! [`crm_core::storage::Database`]: the aggregate as a JSON document beside the columns reads
//! filter and order by, tags in `customer_tags`, and the search index ([`search`]) written in
//! the same transaction as the customer, so a customer is findable the moment its write
//! commits. On PostgreSQL every transaction is scoped to its tenant (row-level security).

mod search;

use async_trait::async_trait;
use crm_core::storage::{Conn, Database, Engine, Tx, UniqueConstraint, map_db_error};
use crm_core::{Error, ErrorKind, Result, TenantId};
use uuid::Uuid;

use crate::domain::customer::Customer;
use crate::domain::ports::{Change, Cursor, CustomerStore, Filter, Order, OutboxEvent};

const UNIQUES: &[UniqueConstraint] = &[UniqueConstraint {
    name: "customers_tenant_email_key",
    sqlite_columns: "customers.tenant_id, customers.email",
    field: "customer.email",
    message: "a customer with this email already exists",
}];

fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| map_db_error(e, UNIQUES, doing)
}

/// A stored customer: its position (which links tags and the search index) and its document.
#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    doc: String,
}

impl TryFrom<Row> for Customer {
    type Error = Error;

    fn try_from(row: Row) -> Result<Customer> {
        serde_json::from_str(&row.doc).map_err(|e| {
            Error::internal(
                "stored data could not be read",
                anyhow::anyhow!("customers.doc of seq {}: {e}", row.seq),
            )
        })
    }
}

/// A statement built piece by piece, its parameters numbered as they are added.
struct Sql {
    text: String,
    args: Vec<Arg>,
}

enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

impl Sql {
    fn new(text: &str) -> Sql {
        Sql {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    /// Appends `text`, in which `?` stands for `arg`'s parameter.
    fn push(&mut self, text: &str, arg: Option<Arg>) -> &mut Sql {
        match arg {
            Some(arg) => {
                self.args.push(arg);
                let n = format!("${}", self.args.len());
                self.text.push_str(&text.replace('?', &n));
            }
            None => self.text.push_str(text),
        }
        self
    }

    fn text(&mut self, text: &str, value: impl Into<String>) -> &mut Sql {
        self.push(text, Some(Arg::Text(value.into())))
    }

    fn int(&mut self, text: &str, value: i64) -> &mut Sql {
        self.push(text, Some(Arg::Int(value)))
    }

    /// The statement with its parameters bound, reading rows as `T`.
    fn query_as<T>(self) -> sqlx::query::QueryAs<'static, sqlx::Any, T, sqlx::any::AnyArguments>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        let mut query = sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(self.text));
        for arg in self.args {
            query = match arg {
                Arg::Text(s) => query.bind(s),
                Arg::OptText(s) => query.bind(s),
                Arg::Int(n) => query.bind(n),
            };
        }
        query
    }

    /// The statement with its parameters bound, for statements that return no rows.
    fn query(self) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(self.text));
        for arg in self.args {
            query = match arg {
                Arg::Text(s) => query.bind(s),
                Arg::OptText(s) => query.bind(s),
                Arg::Int(n) => query.bind(n),
            };
        }
        query
    }

    async fn rows(self, tx: &mut Conn) -> std::result::Result<Vec<Row>, sqlx::Error> {
        self.query_as::<Row>().fetch_all(tx).await
    }
}

/// The filter every read applies: the tenant, not deleted, and the request's filters.
fn filtered(sql: &mut Sql, tenant: TenantId, filter: &Filter) {
    filter_columns(sql, tenant, filter, "c.");
}

/// [`filtered`], naming the columns `{column}` as `prefix` says: `+c.` on SQLite when the
/// full-text index must drive the query (a unary `+` keeps SQLite from walking the tenant's
/// rows by an index of `customers` and matching each against the full-text query).
fn filter_columns(sql: &mut Sql, tenant: TenantId, filter: &Filter, prefix: &str) {
    sql.text(
        &format!(" {prefix}tenant_id = ? and c.deleted_at is null"),
        tenant.to_string(),
    );
    if let Some(t) = filter.customer_type {
        sql.text(&format!(" and {prefix}customer_type = ?"), t.as_str());
    }
    if let Some(s) = filter.status {
        sql.text(&format!(" and {prefix}status = ?"), s.as_str());
    }
    if let Some(owner) = filter.owner_id {
        sql.text(&format!(" and {prefix}owner_id = ?"), owner.to_string());
    }
    for tag in &filter.tags {
        sql.text(
            " and exists (select 1 from customer_tags t where t.customer_seq = c.seq and t.tag = ?)",
            tag.clone(),
        );
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

    /// An email conflict says which customer holds the email.
    async fn explain_conflict(&self, err: Error, customer: &Customer) -> Error {
        if err.kind() != ErrorKind::AlreadyExists {
            return err;
        }
        let Some(email) = &customer.email else {
            return err;
        };
        match self.by_email(customer.tenant_id, email).await {
            Ok(Some(holder)) => err.with_metadata("customer_id", holder.id.to_string()),
            _ => err,
        }
    }

    /// Loads, changes through `change` and saves in one transaction; `delete` marks the
    /// customer deleted instead of saving its new state.
    async fn change(
        &self,
        tenant: TenantId,
        id: Uuid,
        change: Change<'_>,
        delete: bool,
    ) -> Result<Customer> {
        let mut tx = self
            .db
            .begin_write(tenant)
            .await
            .map_err(db("starting a transaction"))?;
        let lock = match Engine::of(&tx) {
            Engine::Postgres => " for update",
            Engine::Sqlite => "",
        };
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select seq, doc from customers where tenant_id = $1 and id = $2 and deleted_at is null{lock}"
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
        if delete {
            sqlx::query(
                "update customers set deleted_at = $2, updated_at = $2, version = $3 where seq = $1",
            )
            .bind(seq)
            .bind(customer.updated_at)
            .bind(customer.version)
            .execute(&mut *tx)
            .await
            .map_err(db("deleting a customer"))?;
            search::remove(&mut tx, seq).await?;
        } else if customer.version != expected
            && let Err(e) = save(&mut tx, seq, &customer, expected).await
        {
            // The email asked for is the changed customer's: name its holder, outside the
            // failed transaction.
            drop(tx);
            return Err(self.explain_conflict(e, &customer).await);
        }
        append(&mut tx, events).await?;
        tx.commit().await.map_err(db("saving a customer"))?;
        Ok(customer)
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
    let engine = Engine::of(tx);
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
            .text(", ?", c.display_name.to_lowercase())
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
    let seq_of = |c: &Customer| seqs.get(&c.id.to_string()).copied();
    let tagged: Vec<(i64, &Customer, &String)> = chunk
        .iter()
        .filter_map(|c| seq_of(c).map(|seq| (seq, c)))
        .flat_map(|(seq, c)| c.tags.iter().map(move |t| (seq, c, t)))
        .collect();
    if !tagged.is_empty() {
        let mut tags = Sql::new("insert into customer_tags (tenant_id, customer_seq, tag) values ");
        for (i, (seq, c, tag)) in tagged.iter().enumerate() {
            tags.text(if i == 0 { "(?" } else { ", (?" }, c.tenant_id.to_string())
                .int(", ?", *seq)
                .text(", ?)", (*tag).clone());
        }
        tags.query()
            .execute(&mut *tx)
            .await
            .map_err(db("saving tags"))?;
    }
    let mut index = Sql::new(match engine {
        Engine::Sqlite => "insert into customer_search (rowid, body) values ",
        Engine::Postgres => "insert into customer_search (seq, tenant_id, search) values ",
    });
    for (i, c) in chunk.iter().enumerate() {
        let seq = seq_of(c).ok_or_else(|| {
            Error::internal(
                "an inserted customer has no position",
                anyhow::anyhow!("{}", c.id),
            )
        })?;
        index.int(if i == 0 { "(?" } else { ", (?" }, seq);
        match engine {
            Engine::Sqlite => index.text(", ?)", search::body(c)),
            Engine::Postgres => index
                .text(", ?", c.tenant_id.to_string())
                .text(", to_tsvector('simple', ?))", search::body(c)),
        };
    }
    index
        .query()
        .execute(&mut *tx)
        .await
        .map_err(db("indexing customers"))?;
    Ok(())
}

/// Saves a changed customer over version `expected`.
async fn save(tx: &mut Conn, seq: i64, c: &Customer, expected: i64) -> Result<()> {
    let done = sqlx::query(
        "update customers set customer_type = $2, status = $3, owner_id = $4, email = $5, display_name = $6, \
         sort_name = $7, updated_at = $8, version = $9, doc = $10 where seq = $1 and version = $11",
    )
    .bind(seq)
    .bind(c.customer_type.as_str())
    .bind(c.status.as_str())
    .bind(c.owner_id.map(|o| o.to_string()))
    .bind(c.email.clone())
    .bind(&c.display_name)
    .bind(c.display_name.to_lowercase())
    .bind(c.updated_at)
    .bind(c.version)
    .bind(document(c))
    .bind(expected)
    .execute(&mut *tx)
    .await
    .map_err(db("saving a customer"))?;
    if done.rows_affected() == 0 {
        return Err(Error::etag_mismatch("customer").with_metadata("id", c.id.to_string()));
    }
    write_tags(tx, seq, c).await?;
    search::index(tx, seq, c).await
}

fn document(c: &Customer) -> String {
    serde_json::to_string(c).expect("a customer serialises")
}

async fn write_tags(tx: &mut Conn, seq: i64, c: &Customer) -> Result<()> {
    sqlx::query("delete from customer_tags where customer_seq = $1")
        .bind(seq)
        .execute(&mut *tx)
        .await
        .map_err(db("saving tags"))?;
    for tag in &c.tags {
        sqlx::query("insert into customer_tags (tenant_id, customer_seq, tag) values ($1, $2, $3)")
            .bind(c.tenant_id.to_string())
            .bind(seq)
            .bind(tag)
            .execute(&mut *tx)
            .await
            .map_err(db("saving tags"))?;
    }
    Ok(())
}

async fn append(tx: &mut Conn, events: Vec<OutboxEvent>) -> Result<()> {
    for e in events {
        crm_events::outbox::append(tx, e.aggregate_type, &e.envelope)
            .await
            .map_err(db("writing an event to the outbox"))?;
    }
    Ok(())
}

#[async_trait]
impl CustomerStore for SqlCustomerStore {
    async fn insert(&self, customer: &Customer, events: Vec<OutboxEvent>) -> Result<()> {
        let result = async {
            let mut tx = self.begin(customer.tenant_id).await?;
            insert_many(&mut tx, std::slice::from_ref(customer)).await?;
            append(&mut tx, events).await?;
            tx.commit().await.map_err(db("creating a customer"))
        }
        .await;
        match result {
            Ok(()) => Ok(()),
            Err(e) => Err(self.explain_conflict(e, customer).await),
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
        let events: Vec<(&str, &crm_events::Envelope)> = events
            .iter()
            .map(|e| (e.aggregate_type, &e.envelope))
            .collect();
        crm_events::outbox::append_all(&mut tx, &events)
            .await
            .map_err(db("writing events to the outbox"))?;
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

    async fn update(&self, tenant: TenantId, id: Uuid, change: Change<'_>) -> Result<Customer> {
        self.change(tenant, id, change, false).await
    }

    async fn delete(&self, tenant: TenantId, id: Uuid, change: Change<'_>) -> Result<()> {
        self.change(tenant, id, change, true).await.map(drop)
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
        filtered(&mut sql, tenant, filter);
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
            (_, None) => {}
        }
        sql.push(
            match order {
                Order::Created => " order by c.id",
                Order::CreatedDesc => " order by c.id desc",
                Order::Name => " order by c.sort_name, c.id",
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
        filtered(&mut sql, tenant, filter);
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
        let mut tx = self.begin(tenant).await?;
        let found = search::search(&mut tx, tenant, words, filter, offset, limit).await?;
        tx.commit().await.map_err(db("searching customers"))?;
        Ok(found)
    }
}
