//! What the event flows read and write: the tenants and users as IAM's events describe them,
//! the templates to render, the notifications they store. Every statement runs on the
//! consumer's connection, inside the transaction that records the event as handled.

use async_trait::async_trait;
use crm_core::storage::{Conn, from_doc, to_doc};
use crm_core::{Result, TenantId, UserId};

use super::{db, update_notification, write_template};
use crate::domain::Millis;
use crate::domain::notification::Notification;
use crate::domain::ports::{FlowStore, KnownUser};
use crate::domain::template::{Channel, Template};

type UserRow = (String, String, String, String, i64, Option<String>);

fn known(row: UserRow) -> Option<KnownUser> {
    let (id, email, display_name, roles, active, locale) = row;
    Some(KnownUser {
        id: UserId::parse(&id).ok()?,
        email,
        display_name,
        roles: roles
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
        active: active != 0,
        locale,
    })
}

/// A tenant's locale until IAM says otherwise (IAM's default for a new tenant).
pub const DEFAULT_LOCALE: &str = "ms-MY";

/// The flows' statements, in the consumer's transaction.
#[async_trait]
impl FlowStore for Conn {
    /// The tenant's templates for one event type and channel, enabled or not.
    async fn templates_for(
        &mut self,
        tenant: TenantId,
        event_type: &str,
        channel: Channel,
    ) -> Result<Vec<Template>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "select doc from templates where tenant_id = $1 and event_type = $2 and channel = $3 \
             order by id",
        )
        .bind(tenant.to_string())
        .bind(event_type)
        .bind(channel.as_str())
        .fetch_all(self)
        .await
        .map_err(db("reading templates"))?;
        rows.iter()
            .map(|(d,)| from_doc("templates.doc", d))
            .collect()
    }

    /// Adds a built-in template unless the tenant has one of that name (the tenant may have made
    /// templates before its `TenantCreated` was handled).
    async fn seed_template(&mut self, t: &Template) -> Result<()> {
        write_template(self, t, " on conflict (tenant_id, name) do nothing").await
    }

    /// Cancels what is held back about `about`: read from the worker's queue (the due ones,
    /// few), each saved only if the worker has not claimed it meanwhile.
    async fn cancel_held(&mut self, tenant: TenantId, about: &str, now: Millis) -> Result<u64> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "select doc from notifications where next_attempt_at > $2 and tenant_id = $1 \
             and status = 'pending'",
        )
        .bind(tenant.to_string())
        .bind(now)
        .fetch_all(&mut *self)
        .await
        .map_err(db("reading held notifications"))?;
        let mut cancelled = 0;
        for (doc,) in rows {
            let mut n: Notification = from_doc("notifications.doc", &doc)?;
            let expected = n.version;
            if n.about == about && n.cancel(now) && update_notification(self, &n, expected).await? {
                cancelled += 1;
            }
        }
        Ok(cancelled)
    }

    /// Adds a notification. False if the event already made it (a redelivery).
    async fn insert_notification(&mut self, n: &Notification) -> Result<bool> {
        let done = sqlx::query(
            "insert into notifications (id, tenant_id, channel, recipient_user_id, \
             recipient_address, status, attempts, next_attempt_at, trigger_event_id, created_at, \
             read_at, doc, version) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             on conflict (tenant_id, trigger_event_id, channel, recipient_address) do nothing",
        )
        .bind(n.id.to_string())
        .bind(n.tenant_id.to_string())
        .bind(n.channel.as_str())
        .bind(n.recipient_user_id.map(|u| u.to_string()))
        .bind(&n.recipient_address)
        .bind(n.status.as_str())
        .bind(i64::from(n.attempts))
        .bind(n.next_attempt_at)
        .bind(n.trigger_event_id.to_string())
        .bind(n.created_at)
        .bind(n.read_at)
        .bind(to_doc(n))
        .bind(n.version)
        .execute(self)
        .await
        .map_err(db("storing a notification"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a user (from `UserCreated` or `UserRoleChanged`); an empty display name keeps the
    /// one known.
    async fn put_user(&mut self, tenant: TenantId, user: &KnownUser, at: Millis) -> Result<()> {
        sqlx::query(
            "insert into notification_users (tenant_id, user_id, email, display_name, roles, active, \
             updated_at) values ($1, $2, $3, $4, $5, $6, $7) \
             on conflict (tenant_id, user_id) do update set email = excluded.email, \
             display_name = case when excluded.display_name = '' \
               then notification_users.display_name else excluded.display_name end, \
             roles = excluded.roles, active = excluded.active, updated_at = excluded.updated_at \
             where notification_users.updated_at <= excluded.updated_at",
        )
        .bind(tenant.to_string())
        .bind(user.id.to_string())
        .bind(&user.email)
        .bind(&user.display_name)
        .bind(user.roles.join(","))
        .bind(i64::from(user.active))
        .bind(at)
        .execute(self)
        .await
        .map_err(db("recording a user"))
        .map(drop)
    }

    async fn put_profile(
        &mut self,
        tenant: TenantId,
        user: UserId,
        (email, display_name): (&str, &str),
        locale: Option<String>,
        at: Millis,
    ) -> Result<()> {
        sqlx::query(
            "insert into notification_users (tenant_id, user_id, email, display_name, roles, active, \
             updated_at, locale) values ($1, $2, $3, $4, '', 1, $5, $6) \
             on conflict (tenant_id, user_id) do update set email = excluded.email, \
             display_name = excluded.display_name, locale = excluded.locale, \
             updated_at = excluded.updated_at \
             where notification_users.updated_at <= excluded.updated_at",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .bind(email)
        .bind(display_name)
        .bind(at)
        .bind(locale)
        .execute(self)
        .await
        .map_err(db("recording a user"))
        .map(drop)
    }

    /// Records whether a known user is active.
    async fn put_active(&mut self, tenant: TenantId, user: UserId, active: bool) -> Result<()> {
        sqlx::query(
            "update notification_users set active = $3 where tenant_id = $1 and user_id = $2",
        )
        .bind(tenant.to_string())
        .bind(user.to_string())
        .bind(i64::from(active))
        .execute(self)
        .await
        .map_err(db("recording a user"))
        .map(drop)
    }

    /// A known user of the tenant.
    async fn user(&mut self, tenant: TenantId, id: UserId) -> Result<Option<KnownUser>> {
        let row: Option<UserRow> = sqlx::query_as(
            "select user_id, email, display_name, roles, active, locale from notification_users \
             where tenant_id = $1 and user_id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(self)
        .await
        .map_err(db("reading a user"))?;
        Ok(row.and_then(known))
    }

    /// The tenant's active users with `role`.
    async fn users_with_role(&mut self, tenant: TenantId, role: &str) -> Result<Vec<KnownUser>> {
        let rows: Vec<UserRow> = sqlx::query_as(
            "select user_id, email, display_name, roles, active, locale from notification_users \
             where tenant_id = $1 and active = 1 and (',' || roles || ',') like $2 order by user_id",
        )
        .bind(tenant.to_string())
        .bind(format!("%,{role},%"))
        .fetch_all(self)
        .await
        .map_err(db("reading users"))?;
        Ok(rows.into_iter().filter_map(known).collect())
    }

    /// Records a tenant's name and locale; `None` keeps what is known.
    async fn put_tenant(
        &mut self,
        tenant: TenantId,
        name: Option<&str>,
        locale: Option<&str>,
        at: Millis,
    ) -> Result<()> {
        sqlx::query(
            "insert into notification_tenants (tenant_id, name, locale, updated_at) \
             values ($1, coalesce($2, ''), coalesce($3, $5), $4) \
             on conflict (tenant_id) do update set \
             name = coalesce($2, notification_tenants.name), \
             locale = coalesce($3, notification_tenants.locale), updated_at = $4",
        )
        .bind(tenant.to_string())
        .bind(name)
        .bind(locale)
        .bind(at)
        .bind(DEFAULT_LOCALE)
        .execute(self)
        .await
        .map_err(db("recording a tenant"))
        .map(drop)
    }

    /// A tenant's name and locale (empty name and the default locale if unknown).
    async fn tenant(&mut self, tenant: TenantId) -> Result<(String, String)> {
        let row: Option<(String, String)> =
            sqlx::query_as("select name, locale from notification_tenants where tenant_id = $1")
                .bind(tenant.to_string())
                .fetch_optional(self)
                .await
                .map_err(db("reading a tenant"))?;
        Ok(row.unwrap_or_else(|| (String::new(), DEFAULT_LOCALE.into())))
    }
}
