//! The audit trail (`audit_events`).

use crm_core::storage::Conn;
use crm_core::{Result, TenantId, UserId};
use uuid::Uuid;

use super::{corrupt, db, parse_uuid};
use crate::domain::audit::{AuditEntry, AuditKind, Origin, Outcome};
use crate::domain::ports::AuditFilter;

use super::{SqlIamStore, finish};
use crate::domain::ports::{AuditStore, Changes};
use async_trait::async_trait;

/// An `audit_events` row as stored.
#[derive(sqlx::FromRow)]
struct AuditRow {
    id: String,
    tenant_id: String,
    kind: i32,
    actor_id: Option<String>,
    target_type: String,
    target_id: String,
    outcome: i32,
    client_address: Option<String>,
    user_agent: Option<String>,
    correlation_id: Option<String>,
    details: String,
    created_at: i64,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = crm_core::Error;

    fn try_from(row: AuditRow) -> Result<AuditEntry> {
        Ok(AuditEntry {
            id: parse_uuid("audit_events.id", &row.id)?,
            tenant_id: parse_uuid("audit_events.tenant_id", &row.tenant_id)?.into(),
            kind: AuditKind::from_i32(row.kind)
                .ok_or_else(|| corrupt("audit_events.kind", row.kind))?,
            actor_id: row
                .actor_id
                .map(|a| parse_uuid("audit_events.actor_id", &a))
                .transpose()?
                .map(UserId::from),
            target_type: row.target_type,
            target_id: row.target_id,
            outcome: match row.outcome {
                1 => Outcome::Success,
                2 => Outcome::Failure,
                _ => Outcome::Denied,
            },
            origin: Origin {
                client_address: row.client_address,
                user_agent: row.user_agent,
                correlation_id: row.correlation_id,
                traceparent: None,
            },
            details: serde_json::from_str(&row.details)
                .map_err(|e| corrupt("audit_events.details", e))?,
            created_at: row.created_at,
        })
    }
}

/// Appends one entry.
pub(super) async fn insert(tx: &mut Conn, a: AuditEntry) -> Result<()> {
    let details = serde_json::to_string(&a.details).expect("a string map serialises");
    sqlx::query(
        "insert into audit_events (id, tenant_id, kind, actor_id, target_type, target_id, outcome, \
         client_address, user_agent, correlation_id, details, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(a.id.to_string())
    .bind(a.tenant_id.to_string())
    .bind(a.kind as i32)
    .bind(a.actor_id.map(|u| u.to_string()))
    .bind(a.target_type)
    .bind(a.target_id)
    .bind(a.outcome as i32)
    .bind(a.origin.client_address)
    .bind(a.origin.user_agent)
    .bind(a.origin.correlation_id)
    .bind(details)
    .bind(a.created_at)
    .execute(tx)
    .await
    .map_err(db("writing the audit trail"))
    .map(drop)
}

/// Entries newest first, before `before`, at most `limit`.
pub(super) async fn list(
    tx: &mut Conn,
    tenant: TenantId,
    filter: &AuditFilter,
    before: Option<Uuid>,
    limit: u32,
) -> Result<Vec<AuditEntry>> {
    let kinds_mask: i64 = filter
        .kinds
        .iter()
        .fold(0, |mask, k| mask | (1_i64 << (*k as i32)));
    let rows: Vec<AuditRow> = sqlx::query_as(
        "select id, tenant_id, kind, actor_id, target_type, target_id, outcome, client_address, user_agent, \
         correlation_id, details, created_at from audit_events \
         where tenant_id = $1 \
           and ($2 = 0 or (($2 >> kind) & 1) = 1) \
           and ($3 = 0 or created_at >= $3) \
           and ($4 = 0 or created_at < $4) \
           and ($5 = '' or actor_id = $5) \
           and ($6 = '' or id < $6) \
         order by id desc limit $7",
    )
    .bind(tenant.to_string())
    .bind(kinds_mask)
    .bind(filter.since.unwrap_or(0))
    .bind(filter.until.unwrap_or(0))
    .bind(filter.actor_id.map(|a| a.to_string()).unwrap_or_default())
    .bind(before.map(|b| b.to_string()).unwrap_or_default())
    .bind(i64::from(limit))
    .fetch_all(tx)
    .await
    .map_err(db("reading the audit trail"))?;
    rows.into_iter().map(AuditEntry::try_from).collect()
}

#[async_trait]
impl AuditStore for SqlIamStore {
    async fn append_audit(&self, tenant: TenantId, changes: Changes) -> Result<()> {
        let tx = self.begin(tenant).await?;
        finish(tx, tenant, changes, "writing the audit trail").await
    }

    async fn list_audit(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        self.db
            .in_tenant(tenant, "reading the audit trail", async |tx| {
                list(tx, tenant, filter, before, limit).await
            })
            .await
    }
}
