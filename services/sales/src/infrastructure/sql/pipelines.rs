//! Pipelines and their stages (`pipelines`, `stages`). The statements take a connection, so the
//! tenant-creation consumer seeds a pipeline in its own transaction with the same code.

use std::collections::BTreeMap;

use crm_core::storage::Conn;
use crm_core::{Result, TenantId};
use uuid::Uuid;

use super::SqlSalesStore;
use super::db;
use crate::domain::pipeline::{Pipeline, Stage};
use crate::domain::ports::{PipelineStore, PipelineUpdate};
use async_trait::async_trait;
use crm_core::Error;
use crm_core::storage::corrupt;

type PipelineRow = (String, String, String, i64, i64, i64, i64);

fn uuid(what: &str, raw: &str) -> Result<Uuid> {
    Uuid::try_parse(raw).map_err(|e| corrupt(what, e))
}

/// Adds a pipeline and its stages; a default one takes the default from the others first.
pub async fn insert(tx: &mut Conn, p: &Pipeline) -> Result<()> {
    if p.is_default {
        clear_default(tx, p.tenant_id, p.id).await?;
    }
    sqlx::query(
        "insert into pipelines (id, tenant_id, name, currency_code, is_default, created_at, \
         updated_at, version) values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(p.id.to_string())
    .bind(p.tenant_id.to_string())
    .bind(&p.name)
    .bind(&p.currency_code)
    .bind(i64::from(p.is_default))
    .bind(p.created_at)
    .bind(p.updated_at)
    .bind(p.version)
    .execute(&mut *tx)
    .await
    .map_err(db("creating a pipeline"))?;
    write_stages(tx, p).await
}

/// Saves a changed pipeline if still at `expected_version`; false when stale.
pub async fn update(tx: &mut Conn, p: &Pipeline, expected_version: i64) -> Result<bool> {
    if p.is_default {
        clear_default(tx, p.tenant_id, p.id).await?;
    }
    let done = sqlx::query(
        "update pipelines set name = $3, currency_code = $4, is_default = $5, updated_at = $6, \
         version = $7 where tenant_id = $1 and id = $2 and version = $8",
    )
    .bind(p.tenant_id.to_string())
    .bind(p.id.to_string())
    .bind(&p.name)
    .bind(&p.currency_code)
    .bind(i64::from(p.is_default))
    .bind(p.updated_at)
    .bind(p.version)
    .bind(expected_version)
    .execute(&mut *tx)
    .await
    .map_err(db("saving a pipeline"))?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    write_stages(tx, p).await?;
    Ok(true)
}

async fn clear_default(tx: &mut Conn, tenant: TenantId, except: Uuid) -> Result<()> {
    sqlx::query(
        "update pipelines set is_default = 0 where tenant_id = $1 and is_default = 1 and id <> $2",
    )
    .bind(tenant.to_string())
    .bind(except.to_string())
    .execute(tx)
    .await
    .map_err(db("moving the default pipeline"))
    .map(drop)
}

/// Marks every stage of the pipeline removed, then writes the current ones in order (upserts:
/// a kept stage keeps its row and id).
async fn write_stages(tx: &mut Conn, p: &Pipeline) -> Result<()> {
    sqlx::query(
        "update stages set removed_at = $3 \
         where tenant_id = $1 and pipeline_id = $2 and removed_at is null",
    )
    .bind(p.tenant_id.to_string())
    .bind(p.id.to_string())
    .bind(p.updated_at)
    .execute(&mut *tx)
    .await
    .map_err(db("saving stages"))?;
    for (position, s) in p.stages.iter().enumerate() {
        sqlx::query(
            "insert into stages (id, tenant_id, pipeline_id, position, name, probability, removed_at) \
             values ($1, $2, $3, $4, $5, $6, null) \
             on conflict (id) do update set position = excluded.position, name = excluded.name, \
             probability = excluded.probability, removed_at = null \
             where stages.tenant_id = excluded.tenant_id and stages.pipeline_id = excluded.pipeline_id",
        )
        .bind(s.id.to_string())
        .bind(p.tenant_id.to_string())
        .bind(p.id.to_string())
        .bind(position as i64)
        .bind(&s.name)
        .bind(i64::from(s.probability))
        .execute(&mut *tx)
        .await
        .map_err(db("saving stages"))?;
    }
    Ok(())
}

/// A pipeline by id, or the tenant's default with `None`.
pub async fn get(tx: &mut Conn, tenant: TenantId, id: Option<Uuid>) -> Result<Option<Pipeline>> {
    let rows: Vec<PipelineRow> = sqlx::query_as(
        "select id, name, currency_code, is_default, created_at, updated_at, version \
         from pipelines where tenant_id = $1 and (($2 = '' and is_default = 1) or id = $2)",
    )
    .bind(tenant.to_string())
    .bind(id.map(|i| i.to_string()).unwrap_or_default())
    .fetch_all(&mut *tx)
    .await
    .map_err(db("reading a pipeline"))?;
    Ok(with_stages(tx, tenant, rows).await?.pop())
}

/// A pipeline by id, its row locked for a change (`FOR UPDATE` on PostgreSQL; SQLite's writer
/// holds the whole store).
async fn get_to_change(tx: &mut Conn, tenant: TenantId, id: Uuid) -> Result<Option<Pipeline>> {
    let lock = crm_core::storage::Engine::of(tx).row_lock();
    let rows: Vec<PipelineRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select id, name, currency_code, is_default, created_at, updated_at, version \
         from pipelines where tenant_id = $1 and id = $2{lock}"
    )))
    .bind(tenant.to_string())
    .bind(id.to_string())
    .fetch_all(&mut *tx)
    .await
    .map_err(db("reading a pipeline"))?;
    Ok(with_stages(tx, tenant, rows).await?.pop())
}

/// Pipelines in id order after `after`.
pub async fn list(
    tx: &mut Conn,
    tenant: TenantId,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Pipeline>> {
    let rows: Vec<PipelineRow> = sqlx::query_as(
        "select id, name, currency_code, is_default, created_at, updated_at, version \
         from pipelines where tenant_id = $1 and id > $2 order by id limit $3",
    )
    .bind(tenant.to_string())
    .bind(after.map(|a| a.to_string()).unwrap_or_default())
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(db("listing pipelines"))?;
    with_stages(tx, tenant, rows).await
}

/// The pipelines of `rows` with their current stages, read in one statement.
async fn with_stages(
    tx: &mut Conn,
    tenant: TenantId,
    rows: Vec<PipelineRow>,
) -> Result<Vec<Pipeline>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let (lo, hi) = (rows[0].0.clone(), rows[rows.len() - 1].0.clone());
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let stage_rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "select pipeline_id, id, name, probability from stages \
         where tenant_id = $1 and pipeline_id >= $2 and pipeline_id <= $3 and removed_at is null \
         order by pipeline_id, position",
    )
    .bind(tenant.to_string())
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *tx)
    .await
    .map_err(db("reading stages"))?;
    let mut stages: BTreeMap<String, Vec<Stage>> = BTreeMap::new();
    for (pipeline, id, name, probability) in stage_rows {
        stages.entry(pipeline).or_default().push(Stage {
            id: uuid("stages.id", &id)?,
            name,
            probability: probability as i32,
        });
    }
    rows.into_iter()
        .map(
            |(id, name, currency_code, is_default, created_at, updated_at, version)| {
                Ok(Pipeline {
                    stages: stages.remove(&id).unwrap_or_default(),
                    id: uuid("pipelines.id", &id)?,
                    tenant_id: tenant,
                    name,
                    currency_code,
                    is_default: is_default != 0,
                    created_at,
                    updated_at,
                    version,
                })
            },
        )
        .collect()
}

/// Whether `stage` is a stage `pipeline` still has. On PostgreSQL the pipeline's row is read
/// `FOR SHARE` first: a change of the pipeline (which updates that row) at the same moment
/// either waits for this transaction, and then sees what it wrote, or has committed, and then
/// its removal is seen here. On SQLite the caller's write transaction holds the database's
/// write lock already.
pub async fn stage_is_live(
    tx: &mut Conn,
    tenant: TenantId,
    pipeline: Uuid,
    stage: Uuid,
) -> Result<bool> {
    let lock = match crm_core::storage::Engine::of(tx) {
        crm_core::storage::Engine::Postgres => " for share",
        crm_core::storage::Engine::Sqlite => "",
    };
    let found: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select version from pipelines where tenant_id = $1 and id = $2{lock}"
    )))
    .bind(tenant.to_string())
    .bind(pipeline.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db("locking a pipeline"))?;
    if found.is_none() {
        return Ok(false);
    }
    let live: Option<(String,)> = sqlx::query_as(
        "select id from stages where tenant_id = $1 and pipeline_id = $2 and id = $3 \
         and removed_at is null",
    )
    .bind(tenant.to_string())
    .bind(pipeline.to_string())
    .bind(stage.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db("reading a stage"))?;
    Ok(live.is_some())
}

#[async_trait]
impl PipelineStore for SqlSalesStore {
    async fn insert_pipeline(&self, pipeline: &Pipeline) -> Result<()> {
        self.db
            .in_tenant(pipeline.tenant_id, "creating a pipeline", async |tx| {
                insert(tx, pipeline).await
            })
            .await
    }

    async fn get_pipeline(&self, tenant: TenantId, id: Uuid) -> Result<Option<Pipeline>> {
        self.db
            .in_tenant(tenant, "reading a pipeline", async |tx| {
                get(tx, tenant, Some(id)).await
            })
            .await
    }

    async fn default_pipeline(&self, tenant: TenantId) -> Result<Option<Pipeline>> {
        self.db
            .in_tenant(tenant, "reading a pipeline", async |tx| {
                get(tx, tenant, None).await
            })
            .await
    }

    async fn list_pipelines(
        &self,
        tenant: TenantId,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Pipeline>> {
        self.db
            .in_tenant(tenant, "listing pipelines", async |tx| {
                list(tx, tenant, after, limit).await
            })
            .await
    }

    async fn update_pipeline(
        &self,
        tenant: TenantId,
        id: Uuid,
        mut change: PipelineUpdate<'_>,
    ) -> Result<(Pipeline, Vec<(Uuid, i64)>)> {
        let mut tx = self.begin_write(tenant).await?;
        // The pipeline's row is taken first: a move into a removed stage holds it `FOR SHARE`
        // ([`stage_is_live`]), so the count below sees every move that got there before, and
        // every later one sees the removal.
        let mut pipeline = get_to_change(&mut tx, tenant, id)
            .await?
            .ok_or_else(|| Error::not_found("pipeline", id))?;
        let expected = pipeline.version;
        let Some(removed) = change(&mut pipeline)? else {
            return Ok((pipeline, Vec::new()));
        };
        // Read under the write lock: no other writer can have moved it on.
        if !update(&mut tx, &pipeline, expected).await? {
            return Err(Error::etag_mismatch("pipeline").with_metadata("id", id.to_string()));
        }
        if !removed.is_empty() {
            let occupied =
                super::opportunities::open_in_stages(&mut tx, tenant, pipeline.id, &removed)
                    .await?;
            if !occupied.is_empty() {
                // Dropped uncommitted: nothing of the change is saved.
                return Ok((pipeline, occupied));
            }
        }
        tx.commit().await.map_err(db("saving a pipeline"))?;
        Ok((pipeline, Vec::new()))
    }
}
