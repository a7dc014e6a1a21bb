//! Invited users' current links (`invitations`).

use crm_core::storage::Conn;
use crm_core::{Result, TenantId, UserId};

use super::{SqlIamStore, db, parse_uuid};
use crate::domain::invitation::Invitation;
use crate::domain::ports::{InvitationStore, InvitationWrite};
use async_trait::async_trait;

const COLUMNS: &str = "user_id, tenant_id, token_hash, invited_by, sent_at, expires_at, send_count";

type Row = (String, String, String, String, i64, i64, i32);

fn from_row(row: Row) -> Result<Invitation> {
    let (user, tenant, token_hash, by, sent_at, expires_at, send_count) = row;
    Ok(Invitation {
        user_id: parse_uuid("invitations.user_id", &user)?.into(),
        tenant_id: parse_uuid("invitations.tenant_id", &tenant)?.into(),
        token_hash,
        invited_by: parse_uuid("invitations.invited_by", &by)?.into(),
        sent_at,
        expires_at,
        send_count,
    })
}

/// Writes what a change does to an invitation, in its transaction.
pub(super) async fn write(tx: &mut Conn, tenant: TenantId, change: &InvitationWrite) -> Result<()> {
    match change {
        InvitationWrite::Put(i) => sqlx::query(
            "insert into invitations (user_id, tenant_id, token_hash, invited_by, sent_at, \
             expires_at, send_count) values ($1, $2, $3, $4, $5, $6, $7) \
             on conflict (user_id) do update set token_hash = excluded.token_hash, \
             invited_by = excluded.invited_by, sent_at = excluded.sent_at, \
             expires_at = excluded.expires_at, send_count = excluded.send_count",
        )
        .bind(i.user_id.to_string())
        .bind(tenant.to_string())
        .bind(&i.token_hash)
        .bind(i.invited_by.to_string())
        .bind(i.sent_at)
        .bind(i.expires_at)
        .bind(i.send_count)
        .execute(&mut *tx)
        .await
        .map_err(db("saving an invitation"))
        .map(drop),
        InvitationWrite::Spend(user, token_hash) => {
            let done = sqlx::query(
                "delete from invitations where tenant_id = $1 and user_id = $2 and token_hash = $3",
            )
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(token_hash)
            .execute(&mut *tx)
            .await
            .map_err(db("accepting an invitation"))?;
            if done.rows_affected() == 0 {
                return Err(crate::domain::invitation::invalid_error());
            }
            Ok(())
        }
        InvitationWrite::End(user) => {
            sqlx::query("delete from invitations where tenant_id = $1 and user_id = $2")
                .bind(tenant.to_string())
                .bind(user.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db("ending an invitation"))
                .map(drop)
        }
    }
}

#[async_trait]
impl InvitationStore for SqlIamStore {
    async fn invitation_by_token(
        &self,
        tenant: TenantId,
        token_hash: &str,
    ) -> Result<Option<Invitation>> {
        self.db
            .in_tenant(tenant, "reading an invitation", async |tx| {
                let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "select {COLUMNS} from invitations where tenant_id = $1 and token_hash = $2"
                )))
                .bind(tenant.to_string())
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading an invitation"))?;
                row.map(from_row).transpose()
            })
            .await
    }

    async fn invitations_of(&self, tenant: TenantId, users: &[UserId]) -> Result<Vec<Invitation>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        self.db
            .in_tenant(tenant, "reading invitations", async |tx| {
                let mut found = Vec::new();
                // A page of users at most (500): one indexed read each.
                for user in users {
                    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "select {COLUMNS} from invitations where tenant_id = $1 and user_id = $2"
                    )))
                    .bind(tenant.to_string())
                    .bind(user.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db("reading invitations"))?;
                    if let Some(row) = row {
                        found.push(from_row(row)?);
                    }
                }
                Ok(found)
            })
            .await
    }
}
