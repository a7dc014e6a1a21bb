//! Statements built piece by piece (their parameters numbered as added), and the filters of
//! lists, counts and searches.

use crm_core::TenantId;
use crm_core::storage::{Conn, Engine};

use super::Row;
use crate::domain::ports::Filter;
use crate::domain::values::CustomValue;

/// A statement built piece by piece, its parameters numbered as they are added.
pub(super) struct Sql {
    pub(super) text: String,
    pub(super) args: Vec<Arg>,
}

pub(super) enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

impl Sql {
    pub(super) fn new(text: &str) -> Sql {
        Sql {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    /// Appends `text`, in which `?` stands for `arg`'s parameter.
    pub(super) fn push(&mut self, text: &str, arg: Option<Arg>) -> &mut Sql {
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

    pub(super) fn text(&mut self, text: &str, value: impl Into<String>) -> &mut Sql {
        self.push(text, Some(Arg::Text(value.into())))
    }

    pub(super) fn int(&mut self, text: &str, value: i64) -> &mut Sql {
        self.push(text, Some(Arg::Int(value)))
    }

    /// The statement and its parameters.
    pub(super) fn parts(self) -> (sqlx::AssertSqlSafe<String>, sqlx::any::AnyArguments) {
        use sqlx::Arguments as _;
        let mut arguments = sqlx::any::AnyArguments::default();
        for arg in self.args {
            let added = match arg {
                Arg::Text(s) => arguments.add(s),
                Arg::OptText(s) => arguments.add(s),
                Arg::Int(n) => arguments.add(n),
            };
            // Text and integers go into `Any`'s buffer as they are; nothing can refuse them.
            added.expect("a text or integer parameter encodes");
        }
        (sqlx::AssertSqlSafe(self.text), arguments)
    }

    /// The statement with its parameters bound, reading rows as `T`.
    pub(super) fn query_as<T>(
        self,
    ) -> sqlx::query::QueryAs<'static, sqlx::Any, T, sqlx::any::AnyArguments>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        let (text, arguments) = self.parts();
        sqlx::query_as_with(text, arguments)
    }

    /// The statement with its parameters bound, for statements that return no rows.
    pub(super) fn query(self) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        let (text, arguments) = self.parts();
        sqlx::query_with(text, arguments)
    }

    pub(super) async fn rows(self, tx: &mut Conn) -> std::result::Result<Vec<Row>, sqlx::Error> {
        self.query_as::<Row>().fetch_all(tx).await
    }
}

/// The filter every read applies: the tenant, not deleted, and the request's filters.
pub(super) fn filtered(sql: &mut Sql, engine: Engine, tenant: TenantId, filter: &Filter) {
    filter_columns(sql, engine, tenant, filter, "c.");
}

/// [`filtered`], naming the columns `{column}` as `prefix` says: `+c.` on SQLite when the
/// full-text index must drive the query (a unary `+` keeps SQLite from walking the tenant's
/// rows by an index of `customers` and matching each against the full-text query).
pub(super) fn filter_columns(
    sql: &mut Sql,
    engine: Engine,
    tenant: TenantId,
    filter: &Filter,
    prefix: &str,
) {
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
    for (key, value) in &filter.custom_fields {
        custom_field(sql, engine, key, value);
    }
}

/// A custom field's value in the customer's document (`custom_fields.<key>` is
/// `{"type": …, "value": …}`): its type and value both match. The key is one the workspace
/// defined (letters, digits, `_`), and is bound as a parameter all the same.
fn custom_field(sql: &mut Sql, engine: Engine, key: &str, value: &CustomValue) {
    let (kind, text) = match value {
        CustomValue::Text(s) => ("text", s.clone()),
        CustomValue::Date(s) => ("date", s.clone()),
        CustomValue::Number(n) => ("number", n.to_string()),
        CustomValue::Bool(b) => ("bool", b.to_string()),
    };
    match engine {
        Engine::Sqlite => {
            let path = format!("$.custom_fields.{key}");
            sql.text(" and json_extract(c.doc, ?", format!("{path}.type"))
                .text(") = ?", kind)
                .text(" and json_extract(c.doc, ?", format!("{path}.value"));
            match value {
                // SQLite reads a JSON number as a number, true and false as 1 and 0.
                CustomValue::Number(_) => sql.text(") = cast(? as real)", text),
                CustomValue::Bool(b) => sql.int(") = ?", i64::from(*b)),
                _ => sql.text(") = ?", text),
            };
        }
        Engine::Postgres => {
            sql.text(" and (c.doc::jsonb -> 'custom_fields' -> ?", key.to_owned())
                .text(" ->> 'type') = ?", kind);
            match value {
                // A number compared as a number (`12` is `12.0`); the type was checked first,
                // and `case` keeps the cast from ever meeting another type's text.
                CustomValue::Number(_) => sql
                    .text(
                        " and (case when jsonb_typeof(c.doc::jsonb -> 'custom_fields' -> ?",
                        key.to_owned(),
                    )
                    .text(
                        " -> 'value') = 'number' then (c.doc::jsonb -> 'custom_fields' -> ?",
                        key.to_owned(),
                    )
                    .text(" ->> 'value')::numeric end) = cast(? as numeric)", text),
                _ => sql
                    .text(" and (c.doc::jsonb -> 'custom_fields' -> ?", key.to_owned())
                    .text(" ->> 'value') = ?", text),
            };
        }
    }
}
