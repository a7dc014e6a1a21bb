//! Rows that keep an aggregate as a JSON document (`doc` columns), and what a row that cannot
//! be read back means to the client: an internal failure whose cause is logged, not sent.

use uuid::Uuid;

use crate::error::{Error, Result};

/// `INTERNAL` "stored data could not be read", logging `what` (the column) and `detail`.
pub fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::internal(
        "stored data could not be read",
        anyhow::anyhow!("{what}: {detail}"),
    )
}

/// An aggregate as the JSON its `doc` column keeps.
pub fn to_doc<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("aggregates serialise to JSON")
}

/// An aggregate from its `doc` column (`what` names the column for the log).
pub fn from_doc<T: serde::de::DeserializeOwned>(what: &str, raw: &str) -> Result<T> {
    serde_json::from_str(raw).map_err(|e| corrupt(what, e))
}

/// A stored id (`what` names the column for the log).
pub fn parse_uuid(what: &str, s: &str) -> Result<Uuid> {
    Uuid::try_parse(s).map_err(|e| corrupt(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Deal {
        name: String,
        value: i64,
    }

    #[test]
    fn a_document_reads_back_as_written_and_a_damaged_one_is_internal() {
        let deal = Deal {
            name: "Batik sutera".into(),
            value: 15_000,
        };
        let back: Deal = from_doc("deals.doc", &to_doc(&deal)).unwrap();
        assert_eq!(back, deal);
        let err = from_doc::<Deal>("deals.doc", "{\"name\": 3").unwrap_err();
        assert_eq!(err.kind(), crate::error::ErrorKind::Internal);
        assert_eq!(err.message(), "stored data could not be read");
        assert!(
            err.source_error()
                .unwrap()
                .to_string()
                .starts_with("deals.doc: ")
        );
        assert!(parse_uuid("users.id", "not-a-uuid").is_err());
    }
}
