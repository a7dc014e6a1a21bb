//! The timeline in SQL: pages of a record's entries, and the projection's effects applied in
//! the consumer's transaction (every write idempotent: a replayed event changes nothing).

use async_trait::async_trait;
use crm_core::storage::{Conn, from_doc, to_doc};
use crm_core::{Result, TenantId, UserId};

use super::query::Sql;
use super::{SqlStore, db};
use crate::domain::ports::{Cursor, TimelineStore};
use crate::domain::records::{RecordRef, RecordType};
use crate::domain::timeline::{Effect, Entry, EntryKind};

#[async_trait]
impl TimelineStore for SqlStore {
    async fn timeline(
        &self,
        tenant: TenantId,
        record: RecordRef,
        kinds: &[EntryKind],
        before: Option<&Cursor>,
        limit: u32,
    ) -> Result<Vec<Entry>> {
        let mut sql = Sql::new("select doc from timeline_entries");
        sql.text(" where tenant_id = ?", tenant.to_string())
            .text(" and record_type = ?", record.record_type.as_str())
            .text(" and record_id = ?", record.id.to_string());
        if !kinds.is_empty() {
            let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            sql.raw(" and kind").in_list(&kinds);
        }
        if let Some(c) = before {
            sql.int(" and (occurred_at < ?", c.at)
                .int(" or (occurred_at = ?", c.at)
                .text(" and entry_id < ?))", c.id.to_string());
        }
        sql.int(
            " order by occurred_at desc, entry_id desc limit ?",
            i64::from(limit),
        );
        self.database()
            .in_tenant(tenant, "reading a timeline", async |tx| {
                let rows: Vec<(String,)> = sql
                    .query_as()
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db("reading a timeline"))?;
                rows.iter()
                    .map(|(d,)| from_doc("timeline_entries.doc", d))
                    .collect()
            })
            .await
    }

    async fn owner(&self, tenant: TenantId, record: RecordRef) -> Result<Option<Option<UserId>>> {
        self.database()
            .in_tenant(tenant, "reading a record's owner", async |tx| {
                let row: Option<(Option<String>,)> = sqlx::query_as(
                    "select owner_id from timeline_records \
                     where tenant_id = $1 and record_type = $2 and record_id = $3",
                )
                .bind(tenant.to_string())
                .bind(record.record_type.as_str())
                .bind(record.id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading a record's owner"))?;
                Ok(row.map(|(owner,)| owner.and_then(|o| UserId::parse(&o).ok())))
            })
            .await
    }

    async fn user_active(&self, tenant: TenantId, user: UserId) -> Result<Option<bool>> {
        self.database()
            .in_tenant(tenant, "reading a user", async |tx| {
                let row: Option<(i64,)> = sqlx::query_as(
                    "select active from activity_users where tenant_id = $1 and user_id = $2",
                )
                .bind(tenant.to_string())
                .bind(user.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading a user"))?;
                Ok(row.map(|(a,)| a != 0))
            })
            .await
    }
}

/// Applies `effects` for `tenant` in `tx`, in order.
pub async fn apply(tx: &mut Conn, tenant: &str, effects: &[Effect]) -> anyhow::Result<()> {
    for effect in effects {
        match effect {
            Effect::Record {
                record,
                owner,
                name,
            } => put_record(tx, tenant, record, owner.as_ref(), name.as_deref()).await?,
            Effect::Forget { record } => {
                sqlx::query(
                    "delete from timeline_records where tenant_id = $1 and record_type = $2 and record_id = $3",
                )
                .bind(tenant)
                .bind(record.record_type.as_str())
                .bind(record.id.to_string())
                .execute(&mut *tx)
                .await?;
            }
            Effect::Erase { record } => erase(tx, tenant, record).await?,
            Effect::Link { from, to } => link(tx, tenant, from, to).await?,
            Effect::Add(entry) => add(tx, tenant, entry).await?,
            Effect::Replace { source, entries } => {
                sqlx::query(
                    "delete from timeline_entries where tenant_id = $1 and source_key = $2",
                )
                .bind(tenant)
                .bind(source)
                .execute(&mut *tx)
                .await?;
                for entry in entries {
                    insert(tx, tenant, entry, source).await?;
                }
            }
            Effect::Cause { event_id, records } => {
                for r in records {
                    sqlx::query(
                        "insert into timeline_causes (tenant_id, event_id, record_type, record_id) \
                         values ($1, $2, $3, $4) on conflict do nothing",
                    )
                    .bind(tenant)
                    .bind(event_id.to_string())
                    .bind(r.record_type.as_str())
                    .bind(r.id.to_string())
                    .execute(&mut *tx)
                    .await?;
                }
                let pending: Vec<(String,)> = sqlx::query_as(
                    "select doc from timeline_pending where tenant_id = $1 and cause_event_id = $2 \
                     order by entry_id",
                )
                .bind(tenant)
                .bind(event_id.to_string())
                .fetch_all(&mut *tx)
                .await?;
                for (doc,) in pending {
                    let entry: Entry = serde_json::from_str(&doc)?;
                    for r in records {
                        add(
                            tx,
                            tenant,
                            &Entry {
                                subject: *r,
                                ..entry.clone()
                            },
                        )
                        .await?;
                    }
                }
                sqlx::query(
                    "delete from timeline_pending where tenant_id = $1 and cause_event_id = $2",
                )
                .bind(tenant)
                .bind(event_id.to_string())
                .execute(&mut *tx)
                .await?;
            }
            Effect::AddCaused { cause, entry } => {
                let records: Vec<(String, String)> = sqlx::query_as(
                    "select record_type, record_id from timeline_causes \
                     where tenant_id = $1 and event_id = $2 order by record_type, record_id",
                )
                .bind(tenant)
                .bind(cause.to_string())
                .fetch_all(&mut *tx)
                .await?;
                if records.is_empty() {
                    sqlx::query(
                        "insert into timeline_pending (tenant_id, cause_event_id, entry_id, occurred_at, kind, source_key, doc) \
                         values ($1, $2, $3, $4, $5, $6, $7) on conflict do nothing",
                    )
                    .bind(tenant)
                    .bind(cause.to_string())
                    .bind(entry.id.to_string())
                    .bind(entry.occurred_at)
                    .bind(entry.kind.as_str())
                    .bind(source_of(entry))
                    .bind(to_doc(entry))
                    .execute(&mut *tx)
                    .await?;
                }
                for (kind, id) in records {
                    let Some(record_type) = RecordType::parse(&kind) else {
                        continue;
                    };
                    let subject = RecordRef::new(record_type, uuid::Uuid::try_parse(&id)?);
                    add(
                        tx,
                        tenant,
                        &Entry {
                            subject,
                            ..entry.clone()
                        },
                    )
                    .await?;
                }
            }
            Effect::User { id, email, active } => {
                sqlx::query(
                    "insert into activity_users (tenant_id, user_id, email, active) values ($1, $2, $3, $4) \
                     on conflict (tenant_id, user_id) do update set \
                     email = case when $5 = 1 then excluded.email else activity_users.email end, \
                     active = case when $6 = 1 then excluded.active else activity_users.active end",
                )
                .bind(tenant)
                .bind(id.to_string())
                .bind(email.clone().unwrap_or_default())
                .bind(i64::from(active.unwrap_or(true)))
                .bind(i64::from(email.is_some()))
                .bind(i64::from(active.is_some()))
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    Ok(())
}

/// [`Effect::Erase`]: the record's timeline and its contacts', their records, causes and links.
async fn erase(tx: &mut Conn, tenant: &str, record: &RecordRef) -> anyhow::Result<()> {
    let contacts: Vec<(String,)> = sqlx::query_as(
        "select from_id from timeline_links \
         where tenant_id = $1 and from_type = $2 and to_type = $3 and to_id = $4",
    )
    .bind(tenant)
    .bind(RecordType::Contact.as_str())
    .bind(record.record_type.as_str())
    .bind(record.id.to_string())
    .fetch_all(&mut *tx)
    .await?;
    let mut gone = vec![(
        record.record_type.as_str().to_owned(),
        record.id.to_string(),
    )];
    gone.extend(
        contacts
            .into_iter()
            .map(|(id,)| (RecordType::Contact.as_str().to_owned(), id)),
    );
    for (kind, id) in &gone {
        sqlx::query(
            "insert into timeline_erased (tenant_id, record_type, record_id) values ($1, $2, $3) \
             on conflict do nothing",
        )
        .bind(tenant)
        .bind(kind)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        for table in ["timeline_entries", "timeline_records", "timeline_causes"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "delete from {table} where tenant_id = $1 and record_type = $2 and record_id = $3"
            )))
            .bind(tenant)
            .bind(kind)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "delete from timeline_links where tenant_id = $1 \
             and ((from_type = $2 and from_id = $3) or (to_type = $2 and to_id = $3))",
        )
        .bind(tenant)
        .bind(kind)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Whether the record was erased ([`Effect::Erase`]): nothing is added to it again.
async fn erased(tx: &mut Conn, tenant: &str, kind: &str, id: &str) -> anyhow::Result<bool> {
    let found: Option<(i64,)> = sqlx::query_as(
        "select 1 from timeline_erased where tenant_id = $1 and record_type = $2 and record_id = $3",
    )
    .bind(tenant)
    .bind(kind)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(found.is_some())
}

/// An event's entry is its event's own source.
fn source_of(entry: &Entry) -> String {
    format!("event:{}", entry.id)
}

async fn put_record(
    tx: &mut Conn,
    tenant: &str,
    record: &RecordRef,
    owner: Option<&Option<UserId>>,
    name: Option<&str>,
) -> anyhow::Result<()> {
    if erased(
        tx,
        tenant,
        record.record_type.as_str(),
        &record.id.to_string(),
    )
    .await?
    {
        return Ok(());
    }
    let owner_text = owner.and_then(|o| o.map(|u| u.to_string()));
    sqlx::query(
        "insert into timeline_records (tenant_id, record_type, record_id, owner_id, name) \
         values ($1, $2, $3, $4, $5) \
         on conflict (tenant_id, record_type, record_id) do update set \
         owner_id = case when $6 = 1 then excluded.owner_id else timeline_records.owner_id end, \
         name = case when $7 = 1 then excluded.name else timeline_records.name end",
    )
    .bind(tenant)
    .bind(record.record_type.as_str())
    .bind(record.id.to_string())
    .bind(owner_text.clone())
    .bind(name.unwrap_or_default().to_owned())
    .bind(i64::from(owner.is_some()))
    .bind(i64::from(name.is_some()))
    .execute(&mut *tx)
    .await?;
    // A contact is read with its customer: it follows the customer's owner.
    if record.record_type == RecordType::Customer && owner.is_some() {
        sqlx::query(
            "update timeline_records set owner_id = $1 where tenant_id = $2 and record_type = 'contact' \
             and record_id in (select from_id from timeline_links where tenant_id = $2 \
             and from_type = 'contact' and to_type = 'customer' and to_id = $3)",
        )
        .bind(owner_text)
        .bind(tenant)
        .bind(record.id.to_string())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

async fn link(tx: &mut Conn, tenant: &str, from: &RecordRef, to: &RecordRef) -> anyhow::Result<()> {
    for r in [from, to] {
        if erased(tx, tenant, r.record_type.as_str(), &r.id.to_string()).await? {
            return Ok(());
        }
    }
    sqlx::query(
        "insert into timeline_links (tenant_id, from_type, from_id, to_type, to_id) \
         values ($1, $2, $3, $4, $5) on conflict do nothing",
    )
    .bind(tenant)
    .bind(from.record_type.as_str())
    .bind(from.id.to_string())
    .bind(to.record_type.as_str())
    .bind(to.id.to_string())
    .execute(&mut *tx)
    .await?;
    // What `from` has shown so far is shown on `to` too (a converted lead's history).
    sqlx::query(
        "insert into timeline_entries (tenant_id, record_type, record_id, entry_id, occurred_at, kind, source_key, doc) \
         select tenant_id, $1, $2, entry_id, occurred_at, kind, source_key, doc from timeline_entries \
         where tenant_id = $3 and record_type = $4 and record_id = $5 on conflict do nothing",
    )
    .bind(to.record_type.as_str())
    .bind(to.id.to_string())
    .bind(tenant)
    .bind(from.record_type.as_str())
    .bind(from.id.to_string())
    .execute(&mut *tx)
    .await?;
    if from.record_type == RecordType::Contact && to.record_type == RecordType::Customer {
        sqlx::query(
            "update timeline_records set owner_id = (select owner_id from timeline_records c \
             where c.tenant_id = $1 and c.record_type = 'customer' and c.record_id = $2) \
             where tenant_id = $1 and record_type = 'contact' and record_id = $3",
        )
        .bind(tenant)
        .bind(to.id.to_string())
        .bind(from.id.to_string())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Adds an event's entry on its subject's timeline and those it is linked to.
async fn add(tx: &mut Conn, tenant: &str, entry: &Entry) -> anyhow::Result<()> {
    insert(tx, tenant, entry, &source_of(entry)).await
}

async fn insert(tx: &mut Conn, tenant: &str, entry: &Entry, source: &str) -> anyhow::Result<()> {
    let subject = entry.subject;
    let linked: Vec<(String, String)> = sqlx::query_as(
        "select to_type, to_id from timeline_links \
         where tenant_id = $1 and from_type = $2 and from_id = $3",
    )
    .bind(tenant)
    .bind(subject.record_type.as_str())
    .bind(subject.id.to_string())
    .fetch_all(&mut *tx)
    .await?;
    let mut targets = vec![(
        subject.record_type.as_str().to_owned(),
        subject.id.to_string(),
    )];
    targets.extend(linked);
    let doc = to_doc(entry);
    for (kind, id) in targets {
        if erased(tx, tenant, &kind, &id).await? {
            continue;
        }
        sqlx::query(
            "insert into timeline_entries (tenant_id, record_type, record_id, entry_id, occurred_at, kind, source_key, doc) \
             values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict do nothing",
        )
        .bind(tenant)
        .bind(kind)
        .bind(id)
        .bind(entry.id.to_string())
        .bind(entry.occurred_at)
        .bind(entry.kind.as_str())
        .bind(source)
        .bind(&doc)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
