//! Tasks, activities and the timeline in SQL, on SQLite and PostgreSQL alike (statements in the
//! common dialect, `$n` parameters; row-level security on PostgreSQL as a second wall). Each
//! aggregate is a JSON document (`doc`) with the columns reads filter and order by beside it;
//! the records each relates to are rows of their own, and an activity's search words are
//! written in the same transaction (read-your-writes).

mod activities;
mod query;
mod tasks;
pub mod timeline;

use crm_core::Error;
use crm_core::storage::{Database, UniqueConstraint, map_db_error};

use crate::domain::ports::Reach;
use query::Sql;

const UNIQUES: &[UniqueConstraint] = &[];

pub(crate) fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| map_db_error(e, UNIQUES, doing)
}

/// The activity context's store.
#[derive(Clone, Debug)]
pub struct SqlStore {
    db: Database,
}

impl SqlStore {
    /// On a migrated database.
    pub fn new(db: Database) -> SqlStore {
        SqlStore { db }
    }

    /// Its database.
    pub fn database(&self) -> &Database {
        &self.db
    }
}

/// ` and (<who> ...)`: what a caller with an `:own` grant reaches: rows `mine` names them in
/// (as assignee, creator or author), or rows about records they read (`links`: the link table,
/// `key`: its column naming the row).
fn reach(sql: &mut Sql, r: &Reach, mine: &[&str], links: &str, key: &str, row: &str) {
    let me = r.me.to_string();
    sql.raw(" and (");
    for (i, column) in mine.iter().enumerate() {
        if i > 0 {
            sql.raw(" or ");
        }
        sql.text(&format!("{column} = ?"), me.clone());
    }
    if !r.every.is_empty() || !r.own.is_empty() {
        sql.raw(&format!(
            " or exists (select 1 from {links} l left join timeline_records o \
             on o.tenant_id = l.tenant_id and o.record_type = l.record_type and o.record_id = l.record_id \
             where l.tenant_id = {row}.tenant_id and l.{key} = {row}.id and ("
        ));
        let every: Vec<&str> = r.every.iter().map(|t| t.as_str()).collect();
        let own: Vec<&str> = r.own.iter().map(|t| t.as_str()).collect();
        if !every.is_empty() {
            sql.raw("l.record_type").in_list(&every);
        } else {
            sql.raw("1 = 0");
        }
        if !own.is_empty() {
            sql.raw(" or (l.record_type").in_list(&own);
            sql.text(" and o.owner_id = ?)", me);
        }
        sql.raw("))");
    }
    sql.raw(")");
}
