//! The sales store on SQLite and PostgreSQL, written once (ids as UUIDv7 text, times as epoch
//! milliseconds, `$n` parameters). On PostgreSQL every transaction runs as `crm_app` with
//! `app.tenant_id` set, so row-level security backs the `tenant_id` filter of every statement.

pub mod analytics;
pub mod conversions;
mod deals;
pub mod deleted_leads;
mod lead_store;
pub mod leads;
pub mod opportunities;
pub mod pipelines;

use crm_core::storage::Conn;
use crm_core::storage::{Database, UniqueConstraint, WriteTx, map_db_error};
use crm_core::{Error, Result, TenantId};

use crate::domain::opportunity::Opportunity;

const UNIQUES: &[UniqueConstraint] = &[
    UniqueConstraint {
        name: "pipelines_one_default",
        sqlite_columns: "pipelines.tenant_id",
        field: "pipeline.default",
        message: "another pipeline became the default at the same time; read again and retry",
    },
    UniqueConstraint {
        name: "opportunities_lead",
        sqlite_columns: "opportunities.tenant_id, opportunities.lead_id",
        field: "id",
        message: "the lead was converted at the same time; read it again",
    },
    UniqueConstraint {
        name: "deals_opportunity",
        sqlite_columns: "deals.tenant_id, deals.opportunity_id",
        field: "id",
        message: "the opportunity was won at the same time; read it again",
    },
];

/// An id as its column holds it.
pub(super) fn text(id: impl ToString) -> String {
    id.to_string()
}

pub(crate) fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| map_db_error(e, UNIQUES, doing)
}

/// `FAILED_PRECONDITION` `STAGE_REMOVED` unless the opportunity's stage is one its pipeline
/// still has, read in the writing transaction (a removal at the same moment is either seen
/// here or sees this opportunity and is refused itself).
async fn live_stage(tx: &mut Conn, o: &Opportunity) -> Result<()> {
    if pipelines::stage_is_live(tx, o.tenant_id, o.pipeline_id, o.stage_id).await? {
        return Ok(());
    }
    Err(Error::new(
        crm_core::ErrorKind::FailedPrecondition,
        "this stage was removed from the pipeline at the same moment: reload the pipeline and choose one of its stages",
    )
    .with_reason("STAGE_REMOVED")
    .with_metadata("stage_id", o.stage_id.to_string()))
}

/// The sales store on either engine.
pub struct SqlSalesStore {
    db: Database,
}

impl SqlSalesStore {
    /// A store on `db` (migrated).
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn begin_write(&self, tenant: TenantId) -> Result<WriteTx> {
        self.db
            .begin_write(tenant)
            .await
            .map_err(db("starting a transaction scoped to its tenant"))
    }
}
