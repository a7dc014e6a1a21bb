//! Statements built piece by piece, their parameters numbered as they are added (`?` in a
//! piece becomes `$n`).

pub(super) enum Arg {
    Text(String),
    Int(i64),
}

pub(super) struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub(super) fn new(text: &str) -> Sql {
        Sql {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    /// Appends `text` as it is.
    pub(super) fn raw(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    fn arg(&mut self, text: &str, arg: Arg) -> &mut Sql {
        self.args.push(arg);
        let n = format!("${}", self.args.len());
        self.text.push_str(&text.replacen('?', &n, 1));
        self
    }

    /// Appends `text`, its `?` bound to `value`.
    pub(super) fn text(&mut self, text: &str, value: impl Into<String>) -> &mut Sql {
        self.arg(text, Arg::Text(value.into()))
    }

    /// Appends `text`, its `?` bound to `value`.
    pub(super) fn int(&mut self, text: &str, value: i64) -> &mut Sql {
        self.arg(text, Arg::Int(value))
    }

    /// ` in (?, ?, ...)` of `values` (never empty: the caller checks).
    pub(super) fn in_list(&mut self, values: &[&str]) -> &mut Sql {
        self.raw(" in (");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.raw(", ");
            }
            self.text("?", *v);
        }
        self.raw(")")
    }

    fn parts(self) -> (sqlx::AssertSqlSafe<String>, sqlx::any::AnyArguments) {
        use sqlx::Arguments as _;
        let mut arguments = sqlx::any::AnyArguments::default();
        for arg in self.args {
            let added = match arg {
                Arg::Text(s) => arguments.add(s),
                Arg::Int(n) => arguments.add(n),
            };
            // Text and integers go into `Any`'s buffer as they are; nothing can refuse them.
            added.expect("a text or integer parameter encodes");
        }
        (sqlx::AssertSqlSafe(self.text), arguments)
    }

    pub(super) fn query_as<T>(
        self,
    ) -> sqlx::query::QueryAs<'static, sqlx::Any, T, sqlx::any::AnyArguments>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        let (text, arguments) = self.parts();
        sqlx::query_as_with(text, arguments)
    }
}
