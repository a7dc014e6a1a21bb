//! The customer context's section of the configuration (`[customer]`, `CRM_CUSTOMER__*`): which
//! store holds the customers.

use crm_core::Config;
use crm_core::config::{ConfigError, Section};
use serde::{Deserialize, Serialize};

/// Which store holds the customers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// SQLite in the data directory (embedded mode: `database.url` unset).
    Sqlite,
    /// PostgreSQL at `database.url`.
    Postgres,
    /// MongoDB at `mongodb.url` (a replica set: the outbox needs transactions).
    Mongodb,
}

/// Customers: where they are stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustomerConfig {
    /// `sqlite`, `postgres` or `mongodb`. Unset: the process's SQL store (SQLite when
    /// `database.url` is unset, PostgreSQL when it is set). With `mongodb`, the customers and
    /// their outbox live in MongoDB, and the context's SQL store keeps only its `request_id`
    /// records.
    pub store: Option<StoreKind>,
    /// The MongoDB database of the customers (with `store = "mongodb"`).
    pub mongodb_database: String,
    /// IAM, asked whether a customer's new owner is an active user of the tenant, e.g.
    /// `http://iam:50051`. Unset: this process, when it runs IAM; otherwise a customer can be
    /// given only to the caller.
    pub iam_endpoint: Option<String>,
}

impl Default for CustomerConfig {
    fn default() -> Self {
        CustomerConfig {
            store: None,
            mongodb_database: "crm_customer".into(),
            iam_endpoint: None,
        }
    }
}

/// The section's key.
pub const NAME: &str = "customer";

/// The section, for the launcher.
pub static SECTION: Section = Section {
    name: NAME,
    defaults: || {
        figment::value::Value::serialize(CustomerConfig::default()).expect("the defaults serialise")
    },
    check: |config| match CustomerConfig::of(config) {
        Ok(customer) => customer.problems(config),
        Err(e) => e.problems,
    },
};

impl CustomerConfig {
    /// The customer section of `config` (defaults for keys not given).
    pub fn of(config: &Config) -> Result<CustomerConfig, ConfigError> {
        config.section(NAME)
    }

    /// Sets the customer section of `config` (tests and tools).
    pub fn set(self, config: &mut Config) {
        config.set_section(NAME, &self);
    }

    /// The store the customers are in.
    pub fn store(&self, config: &Config) -> StoreKind {
        self.store.unwrap_or(if config.database.url.is_some() {
            StoreKind::Postgres
        } else {
            StoreKind::Sqlite
        })
    }

    fn problems(&self, config: &Config) -> Vec<String> {
        let mut problems = self.store_problems(config);
        if let Some(url) = &self.iam_endpoint
            && let Err(e) = crm_core::upstream::Addresses::parse(url)
        {
            problems.push(format!("`customer.iam_endpoint`: {e}"));
        }
        problems
    }

    fn store_problems(&self, config: &Config) -> Vec<String> {
        let sql = config.database.url.is_some();
        match self.store {
            Some(StoreKind::Postgres) if !sql => vec![
                "`customer.store` is `postgres` but `database.url` is unset: set it (DATABASE_URL), or leave `customer.store` unset for SQLite".to_owned(),
            ],
            Some(StoreKind::Sqlite) if sql => vec![
                "`customer.store` is `sqlite` but `database.url` is set, and every context's SQL store is then PostgreSQL: unset one of them".to_owned(),
            ],
            Some(StoreKind::Mongodb) if !cfg!(feature = "mongodb") => vec![
                "`customer.store` is `mongodb`, but this crm was built without MongoDB: build it with `cargo build --release -p crm --features mongodb` (the container image has it), or choose another store".to_owned(),
            ],
            Some(StoreKind::Mongodb) if config.mongodb.url.is_none() => vec![
                "`customer.store` is `mongodb` but `mongodb.url` is unset: set it (MONGODB_URL), e.g. mongodb://127.0.0.1:27017/?replicaSet=rs0".to_owned(),
            ],
            Some(StoreKind::Mongodb) if self.mongodb_database.trim().is_empty() => {
                vec!["`customer.mongodb_database`: must not be empty".to_owned()]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_core::config::Secret;

    fn problems(store: Option<StoreKind>, database: bool, mongodb: bool) -> Vec<String> {
        let mut config = Config::default();
        if database {
            config.database.url = Some(Secret::new("postgres://postgres@127.0.0.1/test"));
        }
        if mongodb {
            config.mongodb.url = Some(Secret::new("mongodb://127.0.0.1:27017/?replicaSet=rs0"));
        }
        CustomerConfig {
            store,
            ..CustomerConfig::default()
        }
        .set(&mut config);
        (SECTION.check)(&config)
    }

    #[test]
    fn the_store_follows_the_sql_engine_unless_named() {
        let mut config = Config::default();
        assert_eq!(
            CustomerConfig::of(&config).unwrap().store(&config),
            StoreKind::Sqlite
        );
        config.database.url = Some(Secret::new("postgres://postgres@127.0.0.1/test"));
        assert_eq!(
            CustomerConfig::of(&config).unwrap().store(&config),
            StoreKind::Postgres
        );
        CustomerConfig {
            store: Some(StoreKind::Mongodb),
            ..CustomerConfig::default()
        }
        .set(&mut config);
        assert_eq!(
            CustomerConfig::of(&config).unwrap().store(&config),
            StoreKind::Mongodb
        );
    }

    #[test]
    fn a_store_without_its_url_is_named_with_what_to_set() {
        assert!(problems(None, false, false).is_empty());
        assert!(problems(Some(StoreKind::Sqlite), false, false).is_empty());
        assert!(problems(Some(StoreKind::Postgres), true, false).is_empty());
        assert!(problems(Some(StoreKind::Postgres), false, false)[0].contains("DATABASE_URL"));
        assert!(
            problems(Some(StoreKind::Sqlite), true, false)[0].contains("`database.url` is set")
        );
        if cfg!(feature = "mongodb") {
            assert!(problems(Some(StoreKind::Mongodb), false, true).is_empty());
            assert!(problems(Some(StoreKind::Mongodb), false, false)[0].contains("MONGODB_URL"));
        } else {
            // A build without the MongoDB store says so, and how to get one.
            assert!(
                problems(Some(StoreKind::Mongodb), false, true)[0].contains("--features mongodb")
            );
        }
    }
}
