//! What every context's gRPC layer does to a request before a use case sees it, written once:
//! ids and strings bounded at the edge, page sizes and opaque page tokens, enum filters that
//! refuse unknown values, etags, field masks, timestamps.
//!
//! Error messages here never quote what the client sent beyond a short prefix: a megabyte-long id
//! is refused by its length, not echoed.

use base64::Engine;
use prost_types::{FieldMask, Timestamp};
use uuid::Uuid;

use crate::error::{Error, Result};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// The longest id any request may carry (UUIDs have 36 characters; built-in role names are
/// shorter). Longer ones are refused without being parsed.
pub const MAX_ID_LEN: usize = 64;

/// A UUID from `field`, or `INVALID_ARGUMENT` saying what it should be (`what`, e.g. "a user id").
pub fn uuid(field: &str, raw: &str, what: &str) -> Result<Uuid> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::invalid_field(
            field,
            format!("is required: {what} (UUID)"),
        ));
    }
    if raw.len() > MAX_ID_LEN {
        return Err(Error::invalid_field(
            field,
            format!(
                "must be {what} (UUID, 36 characters); got {} bytes",
                raw.len()
            ),
        ));
    }
    Uuid::try_parse(raw).map_err(|_| Error::invalid_field(field, format!("must be {what} (UUID)")))
}

/// An optional UUID: empty means none.
pub fn optional_uuid(field: &str, raw: &str, what: &str) -> Result<Option<Uuid>> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        uuid(field, raw, what).map(Some)
    }
}

/// An id that is not necessarily a UUID (e.g. a built-in role's name): non-empty, at most
/// [`MAX_ID_LEN`] bytes, printable ASCII.
pub fn id(field: &str, raw: &str) -> Result<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Error::invalid_field(field, "is required"));
    }
    if raw.len() > MAX_ID_LEN || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid_field(
            field,
            format!("must be an id of at most {MAX_ID_LEN} printable ASCII characters"),
        ));
    }
    Ok(raw.to_owned())
}

/// Refuses a string field longer than `max_bytes` before any rule reads it. Use for every free
/// text field a use case parses further (names, descriptions, passwords), so no rule ever runs
/// on, or quotes, an unbounded value.
pub fn bounded<'a>(field: &str, raw: &'a str, max_bytes: usize) -> Result<&'a str> {
    if raw.len() > max_bytes {
        return Err(Error::invalid_field(
            field,
            format!("must be at most {max_bytes} bytes; got {}", raw.len()),
        ));
    }
    Ok(raw)
}

/// Refuses a repeated field with more than `max` items, or an item longer than `max_bytes`.
pub fn bounded_list(field: &str, items: &[String], max: usize, max_bytes: usize) -> Result<()> {
    if items.len() > max {
        return Err(Error::invalid_field(
            field,
            format!("must have at most {max} items; got {}", items.len()),
        ));
    }
    for item in items {
        bounded(field, item, max_bytes)?;
    }
    Ok(())
}

/// The default page size of every List RPC.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The largest page any List RPC returns; larger requests are served this many (AIP-158).
pub const MAX_PAGE_SIZE: u32 = 500;

/// A List request's page: its size and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// How many items at most.
    pub size: u32,
    /// The cursor from the page token: the position after which this page starts.
    pub after: Option<String>,
}

/// Reads `page_size` (0 = default, negative refused, above the maximum clamped) and
/// `page_token` (empty = first page; otherwise a token this server issued for the same `list`).
pub fn page(list: &str, page_size: i32, page_token: &str) -> Result<Page> {
    let size = match page_size {
        0 => DEFAULT_PAGE_SIZE,
        n if n < 0 => {
            return Err(Error::invalid_field(
                "page_size",
                format!("must not be negative; 0 means the default ({DEFAULT_PAGE_SIZE})"),
            ));
        }
        n => (n as u32).min(MAX_PAGE_SIZE),
    };
    Ok(Page {
        size,
        after: decode_page_token(list, page_token)?,
    })
}

/// The token of the page after `cursor` in `list`. Opaque to clients: base64url of a version,
/// the list's name and the cursor, so a token of another list is refused.
pub fn page_token(list: &str, cursor: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1|{list}|{cursor}"))
}

const MAX_PAGE_TOKEN_LEN: usize = 512;

fn decode_page_token(list: &str, token: &str) -> Result<Option<String>> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || {
        Error::invalid_field(
            "page_token",
            "is not a page token of this list; start again with an empty page_token",
        )
        .with_reason("INVALID_PAGE_TOKEN")
    };
    if token.len() > MAX_PAGE_TOKEN_LEN {
        return Err(bad());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(l), Some(cursor)) if l == list && !cursor.is_empty() => {
            Ok(Some(cursor.to_owned()))
        }
        _ => Err(bad()),
    }
}

/// A page's cursor as a UUID (lists ordered by a UUIDv7 id).
pub fn uuid_cursor(page: &Page) -> Result<Option<Uuid>> {
    page.after
        .as_deref()
        .map(|c| {
            Uuid::try_parse(c)
                .map_err(|_| Error::invalid_field("page_token", "is not a page token of this list"))
        })
        .transpose()
}

/// An enum field: `0` (unspecified) is `None`; a value the contract does not define is
/// `INVALID_ARGUMENT` naming the field, never silently ignored.
pub fn enum_filter<E: TryFrom<i32>>(field: &str, raw: i32) -> Result<Option<E>> {
    if raw == 0 {
        return Ok(None);
    }
    E::try_from(raw)
        .map(Some)
        .map_err(|_| Error::invalid_field(field, format!("{raw} is not a value of this enum")))
}

/// Checks an etag against a resource's current one (AIP-154). An etag that is sent must match
/// exactly, else `ABORTED` (`ETAG_MISMATCH`): someone changed the resource since it was read.
/// An empty etag means an unconditional change: the last writer wins.
pub fn check_etag(sent: &str, current: &str, resource_type: &str) -> Result<()> {
    if sent.is_empty() || sent == current {
        Ok(())
    } else {
        Err(Error::etag_mismatch(resource_type))
    }
}

/// The paths of an update: the mask's, or (AIP-134) the fields set in the message when the mask
/// is empty. A path outside `allowed` is `INVALID_ARGUMENT` listing the allowed ones.
pub fn mask_paths(
    mask: Option<FieldMask>,
    set: &[(&'static str, bool)],
    allowed: &[&str],
) -> Result<Vec<String>> {
    let paths: Vec<String> = match mask {
        Some(mask) if !mask.paths.is_empty() => mask.paths,
        _ => set
            .iter()
            .filter(|(_, is_set)| *is_set)
            .map(|(p, _)| (*p).to_owned())
            .collect(),
    };
    for path in &paths {
        if !allowed.contains(&path.as_str()) {
            return Err(Error::invalid_field(
                "update_mask",
                format!(
                    "{path:?} cannot be updated; allowed: {}",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(paths)
}

/// A protobuf timestamp of `millis`.
pub fn timestamp(millis: Millis) -> Timestamp {
    Timestamp {
        seconds: millis.div_euclid(1000),
        nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Milliseconds of a protobuf timestamp.
pub fn millis(t: &Timestamp) -> Millis {
    t.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(t.nanos) / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(err: &Error) -> &str {
        &err.field_violations()[0].0
    }

    #[test]
    fn ids_are_bounded_before_they_are_parsed() {
        let u = Uuid::now_v7();
        assert_eq!(uuid("id", &u.to_string(), "a user id").unwrap(), u);
        let huge = "a".repeat(1 << 20);
        let err = uuid("id", &huge, "a user id").unwrap_err();
        assert_eq!(violation(&err), "id");
        assert!(err.message().len() < 200, "{}", err.message());
        assert!(uuid("id", "", "a user id").is_err());
        assert!(id("role", &huge).unwrap_err().message().len() < 200);
        assert!(id("role", "sales\u{0}rep").is_err());
        assert_eq!(id("role", " viewer ").unwrap(), "viewer");
    }

    #[test]
    fn page_sizes_default_clamp_and_refuse_negatives() {
        assert_eq!(page("users", 0, "").unwrap().size, DEFAULT_PAGE_SIZE);
        assert_eq!(page("users", 10_000, "").unwrap().size, MAX_PAGE_SIZE);
        assert_eq!(violation(&page("users", -1, "").unwrap_err()), "page_size");
    }

    #[test]
    fn page_tokens_round_trip_only_within_their_list() {
        let token = page_token("users", "0190");
        assert_eq!(
            page("users", 0, &token).unwrap().after.as_deref(),
            Some("0190")
        );
        for bad in [token.as_str(), "garbage!", "Zm9v", &"A".repeat(600)] {
            let err = page("roles", 0, bad).unwrap_err();
            assert_eq!(violation(&err), "page_token", "{bad}");
        }
    }

    #[test]
    fn unknown_enum_values_are_refused() {
        #[derive(Debug)]
        struct Two;
        impl TryFrom<i32> for Two {
            type Error = ();
            fn try_from(v: i32) -> std::result::Result<Self, ()> {
                if v == 2 { Ok(Two) } else { Err(()) }
            }
        }
        assert!(enum_filter::<Two>("status", 0).unwrap().is_none());
        assert!(enum_filter::<Two>("status", 2).unwrap().is_some());
        assert_eq!(
            violation(&enum_filter::<Two>("status", 99).unwrap_err()),
            "status"
        );
    }

    #[test]
    fn a_sent_etag_must_match_and_an_empty_one_is_unconditional() {
        assert!(check_etag("", "3", "user").is_ok());
        assert!(check_etag("3", "3", "user").is_ok());
        let err = check_etag("2", "3", "user").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Aborted);
        assert!(check_etag(" 3", "3", "user").is_err());
    }

    #[test]
    fn masks_name_only_allowed_paths() {
        let set = [("name", true), ("team", false)];
        assert_eq!(mask_paths(None, &set, &["name", "team"]).unwrap(), ["name"]);
        let mask = FieldMask {
            paths: vec!["password_hash".into()],
        };
        assert!(mask_paths(Some(mask), &set, &["name"]).is_err());
    }

    #[test]
    fn timestamps_round_trip_milliseconds() {
        for ms in [0, 1, -1, 1_764_000_000_123] {
            assert_eq!(millis(&timestamp(ms)), ms);
        }
    }
}
