//! The outbox on MongoDB, for contexts whose store is MongoDB (customer documents).
//!
//! A producer appends its event with [`append_mongo`] in the **same multi-document transaction**
//! as its state change (MongoDB transactions need a replica set or a sharded cluster; a
//! standalone `mongod` refuses them, and this outbox with it):
//!
//! ```no_run
//! # async fn example(client: mongodb::Client, event: crm_events::Envelope) -> mongodb::error::Result<()> {
//! use mongodb::bson::doc;
//! let db = client.database("customer");
//! let mut session = client.start_session().await?;
//! session.start_transaction().await?;
//! db.collection("customers")
//!     .insert_one(doc! { "_id": "c-1", "tenant_id": "t-1", "name": "Siti" })
//!     .session(&mut session)
//!     .await?;
//! crm_events::mongo::append_mongo(&mut session, &db, "customer", &event).await?;
//! session.commit_transaction().await?; // both or neither
//! # Ok(()) }
//! ```
//!
//! Each event gets the next `seq` from a counter document that the transaction increments. Two
//! transactions that both append write the same counter document, so MongoDB lets one commit
//! and aborts the other with a `TransientTransactionError` (to retry). Hence `seq` order is
//! commit order, as on SQLite: the relay and the embedded bus can walk the outbox by `seq` without
//! missing a late commit. The cost is that a context's appends commit one at a time.
//!
//! Collections (in the context's database): `outbox` (`_id` = `seq`), `outbox_seq` (the counter)
//! and `event_cursors` (embedded-bus consumer positions). [`ensure_indexes`] creates the indexes
//! the relay reads with.

use futures::TryStreamExt as _;
use mongodb::bson::{self, Bson, Document, doc, spec::BinarySubtype};
use mongodb::options::{IndexOptions, ReturnDocument};
use mongodb::{ClientSession, Collection, Database, IndexModel};
use uuid::Uuid;

use crate::envelope::{Envelope, Millis};
use crate::outbox::{Backlog, ConsumerLag, Logged, OutboxError, OutboxStore};

/// The collection holding the events.
pub const OUTBOX: &str = "outbox";
/// The collection holding the `seq` counter.
pub const OUTBOX_SEQ: &str = "outbox_seq";
/// The collection holding embedded-bus consumer positions.
pub const CURSORS: &str = "event_cursors";

/// Appends `event` inside the caller's transaction on `session` (see the module docs), so the
/// event exists exactly when the change it describes does.
pub async fn append_mongo(
    session: &mut ClientSession,
    db: &Database,
    aggregate_type: &str,
    event: &Envelope,
) -> mongodb::error::Result<()> {
    append_all_mongo(session, db, &[(aggregate_type, event)]).await
}

/// Appends several events (aggregate type, event) inside the caller's transaction, in the
/// order given: one counter increment for all of them and one insert.
pub async fn append_all_mongo(
    session: &mut ClientSession,
    db: &Database,
    events: &[(&str, &Envelope)],
) -> mongodb::error::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let (filter, update) = next_seqs(events.len() as i64);
    let counter = db
        .collection::<Document>(OUTBOX_SEQ)
        .find_one_and_update(filter, update)
        .upsert(true)
        .return_document(ReturnDocument::After)
        .session(&mut *session)
        .await?;
    let last = counter
        .as_ref()
        .and_then(|d| long(d, "value").ok())
        .ok_or_else(|| {
            mongodb::error::Error::custom(format!("the {OUTBOX_SEQ} counter has no value"))
        })?;
    db.collection::<Document>(OUTBOX)
        .insert_many(event_documents(last, events))
        .session(&mut *session)
        .await
        .map(drop)
}

/// A whole number of a stored or computed document, whatever its BSON width. MongoDB keeps a
/// 64-bit value 64-bit (a `$sum` of longs is a long), but a server may hand back a small one
/// as a 32-bit integer (SecantusDB does), and both mean the same number.
fn long(d: &Document, key: &str) -> mongodb::bson::document::ValueAccessResult<i64> {
    match d.get(key) {
        Some(Bson::Int64(n)) => Ok(*n),
        Some(Bson::Int32(n)) => Ok(i64::from(*n)),
        Some(_) => Err(mongodb::bson::document::ValueAccessError::UnexpectedType),
        None => Err(mongodb::bson::document::ValueAccessError::NotPresent),
    }
}

/// The outbox documents of `events`, the last at `last`.
fn event_documents(last: i64, events: &[(&str, &Envelope)]) -> Vec<Document> {
    let first = last - events.len() as i64 + 1;
    events
        .iter()
        .zip(first..)
        .map(|((aggregate_type, event), seq)| event_document(seq, aggregate_type, event))
        .collect()
}

/// Creates the indexes the outbox is read with (idempotent; run at startup).
pub async fn ensure_indexes(db: &Database) -> mongodb::error::Result<()> {
    db.collection::<Document>(OUTBOX)
        .create_indexes(indexes())
        .await
        .map(drop)
}

fn indexes() -> Vec<IndexModel> {
    vec![
        // Pending events in order: equality on `published_at` (null), then `_id`.
        IndexModel::builder()
            .keys(doc! { "published_at": 1, "_id": 1 })
            .options(
                IndexOptions::builder()
                    .name("outbox_pending".to_owned())
                    .build(),
            )
            .build(),
        // Replays from a time.
        IndexModel::builder()
            .keys(doc! { "occurred_at": 1 })
            .options(
                IndexOptions::builder()
                    .name("outbox_occurred_at".to_owned())
                    .build(),
            )
            .build(),
    ]
}

/// The counter increment that reserves the next `n` positions (filter, update); the counter
/// then holds the last of them.
fn next_seqs(n: i64) -> (Document, Document) {
    (doc! { "_id": "seq" }, doc! { "$inc": { "value": n } })
}

/// The outbox document of an event at `seq`.
fn event_document(seq: i64, aggregate_type: &str, e: &Envelope) -> Document {
    let optional = |v: &Option<String>| v.as_ref().map_or(Bson::Null, |s| Bson::String(s.clone()));
    doc! {
        "_id": seq,
        "id": e.id.to_string(),
        "tenant_id": &e.tenant_id,
        "aggregate_type": aggregate_type,
        "aggregate_id": &e.subject,
        "event_type": &e.event_type,
        "payload": Bson::Binary(bson::Binary { subtype: BinarySubtype::Generic, bytes: e.payload.clone() }),
        "occurred_at": e.time,
        "correlation_id": optional(&e.correlation_id),
        "source": &e.source,
        "causation_id": optional(&e.causation_id),
        "traceparent": optional(&e.traceparent),
        "published_at": Bson::Null,
    }
}

/// Reads an outbox document back; an error names the field that is missing or malformed.
fn logged_from(d: &Document) -> Result<Logged, OutboxError> {
    let corrupt = |field: &str| OutboxError::Corrupt(format!("outbox document: `{field}`"));
    let text = |field: &str| {
        d.get_str(field)
            .map(str::to_owned)
            .map_err(|_| corrupt(field))
    };
    let optional = |field: &str| match d.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(corrupt(field)),
    };
    let payload = match d.get("payload") {
        Some(Bson::Binary(b)) => b.bytes.clone(),
        _ => return Err(corrupt("payload")),
    };
    Ok(Logged {
        seq: long(d, "_id").map_err(|_| corrupt("_id"))?,
        envelope: Envelope {
            id: Uuid::try_parse(&text("id")?).map_err(|_| corrupt("id"))?,
            source: text("source")?,
            event_type: text("event_type")?,
            time: long(d, "occurred_at").map_err(|_| corrupt("occurred_at"))?,
            subject: text("aggregate_id")?,
            tenant_id: text("tenant_id")?,
            correlation_id: optional("correlation_id")?,
            causation_id: optional("causation_id")?,
            traceparent: optional("traceparent")?,
            payload,
        },
    })
}

fn pending_filter() -> Document {
    doc! { "published_at": Bson::Null }
}

fn after_filter(seq: i64) -> Document {
    doc! { "_id": { "$gt": seq } }
}

/// Marks exactly these events published (filter, update), never one already marked.
fn mark_published(seqs: &[i64], at: Millis) -> (Document, Document) {
    (
        doc! { "_id": { "$in": seqs }, "published_at": Bson::Null },
        doc! { "$set": { "published_at": at } },
    )
}

fn backlog_pipeline() -> Vec<Document> {
    vec![
        doc! { "$match": pending_filter() },
        doc! { "$group": { "_id": Bson::Null, "n": { "$sum": 1_i64 }, "oldest": { "$min": "$occurred_at" } } },
    ]
}

fn cursor_id(consumer: &str, topic: &str) -> Document {
    doc! { "_id": { "consumer": consumer, "topic": topic } }
}

/// Published before `before`, and passed by every consumer with a cursor on `topic` (none: any).
fn prune_filter(before: Millis, passed_by_all: Option<i64>) -> Document {
    let mut filter = doc! { "published_at": { "$ne": Bson::Null, "$lt": before } };
    if let Some(seq) = passed_by_all {
        filter.insert("_id", doc! { "$lte": seq });
    }
    filter
}

/// The read side of one context's outbox on MongoDB (used through [`crate::OutboxLog::mongo`]).
#[derive(Clone, Debug)]
pub(crate) struct MongoOutbox {
    db: Database,
}

impl crate::OutboxLog {
    /// The outbox in a MongoDB database (see [`crate::mongo`]), whose events go to `topic`.
    pub fn mongo(db: Database, topic: &str) -> crate::OutboxLog {
        crate::OutboxLog::on(std::sync::Arc::new(MongoOutbox { db }), topic)
    }
}

impl MongoOutbox {
    fn outbox(&self) -> Collection<Document> {
        self.db.collection(OUTBOX)
    }

    fn cursors(&self) -> Collection<Document> {
        self.db.collection(CURSORS)
    }

    async fn find(&self, filter: Document, limit: i64) -> Result<Vec<Logged>, OutboxError> {
        let docs: Vec<Document> = self
            .outbox()
            .find(filter)
            .sort(doc! { "_id": 1 })
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        docs.iter().map(logged_from).collect()
    }
}

#[async_trait::async_trait]
impl OutboxStore for MongoOutbox {
    async fn read_after(&self, seq: i64, limit: i64) -> Result<Vec<Logged>, OutboxError> {
        self.find(after_filter(seq), limit).await
    }

    async fn pending(&self, limit: i64) -> Result<Vec<Logged>, OutboxError> {
        self.find(pending_filter(), limit).await
    }

    async fn mark_published(&self, seqs: &[i64], at: Millis) -> Result<(), OutboxError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let (filter, update) = mark_published(seqs, at);
        self.outbox().update_many(filter, update).await?;
        Ok(())
    }

    async fn backlog(&self) -> Result<Backlog, OutboxError> {
        let groups: Vec<Document> = self
            .outbox()
            .aggregate(backlog_pipeline())
            .await?
            .try_collect()
            .await?;
        Ok(match groups.first() {
            None => Backlog::default(),
            Some(g) => Backlog {
                pending: long(g, "n").unwrap_or(0),
                oldest: long(g, "oldest").ok(),
            },
        })
    }

    async fn cursor(&self, consumer: &str, topic: &str) -> Result<i64, OutboxError> {
        let found = self.cursors().find_one(cursor_id(consumer, topic)).await?;
        Ok(found.and_then(|d| long(&d, "seq").ok()).unwrap_or(0))
    }

    async fn set_cursor(&self, consumer: &str, topic: &str, seq: i64) -> Result<(), OutboxError> {
        let now = chrono::Utc::now().timestamp_millis();
        self.cursors()
            .update_one(
                cursor_id(consumer, topic),
                doc! { "$set": { "seq": seq, "topic": topic, "updated_at": now } },
            )
            .upsert(true)
            .await?;
        Ok(())
    }

    async fn consumer_lag(&self, topic: &str) -> Result<Vec<ConsumerLag>, OutboxError> {
        let cursors: Vec<Document> = self
            .cursors()
            .find(doc! { "topic": topic })
            .sort(doc! { "_id.consumer": 1 })
            .await?
            .try_collect()
            .await?;
        let mut out = Vec::with_capacity(cursors.len());
        for cursor in cursors {
            let consumer = cursor
                .get_document("_id")
                .and_then(|id| id.get_str("consumer"))
                .map_err(|_| OutboxError::Corrupt(format!("{CURSORS} document: `_id.consumer`")))?
                .to_owned();
            let position = long(&cursor, "seq").unwrap_or(0);
            let behind = self
                .outbox()
                .count_documents(after_filter(position))
                .await?;
            out.push(ConsumerLag {
                consumer,
                position,
                behind: behind as i64,
            });
        }
        Ok(out)
    }

    async fn seq_before(&self, time: Millis) -> Result<i64, OutboxError> {
        let first = self
            .outbox()
            .find_one(doc! { "occurred_at": { "$gte": time } })
            .sort(doc! { "_id": 1 })
            .await?;
        if let Some(first) = first {
            return Ok(logged_from(&first)?.seq - 1);
        }
        let last = self
            .outbox()
            .find_one(doc! {})
            .sort(doc! { "_id": -1 })
            .await?;
        Ok(last.and_then(|d| long(&d, "_id").ok()).unwrap_or(0))
    }

    async fn prune(&self, topic: &str, before: Millis) -> Result<u64, OutboxError> {
        let slowest = self
            .cursors()
            .find_one(doc! { "topic": topic })
            .sort(doc! { "seq": 1 })
            .await?
            .and_then(|d| long(&d, "seq").ok());
        let done = self
            .outbox()
            .delete_many(prune_filter(before, slowest))
            .await?;
        Ok(done.deleted_count)
    }
}

#[cfg(test)]
mod tests;
