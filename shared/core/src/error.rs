//! The one error kind every service shares, mapped to `tonic::Code` in one place, with rich
//! details (`google.rpc.BadRequest`, `ErrorInfo`, `RetryInfo`, `PreconditionFailure`).
//!
//! Each crate keeps its own `thiserror` enum and converts it into [`Error`], saying which kind
//! it is. The internal cause of an error is logged with its chain when the error becomes a
//! `Status` and is never sent to the client.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every error this system sends.
pub const ERROR_DOMAIN: &str = "crm.kilang";

/// What went wrong, from the client's point of view. Deliberately small.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed; field violations say where.
    InvalidArgument,
    /// No valid credentials.
    Unauthenticated,
    /// Credentials are valid but do not allow this.
    PermissionDenied,
    /// The resource does not exist in the caller's tenant (another tenant's resource too).
    NotFound,
    /// A unique field is taken.
    AlreadyExists,
    /// The resource is not in a state that allows this (e.g. winning a lost opportunity).
    FailedPrecondition,
    /// A concurrent change won (stale etag); read again and retry.
    Aborted,
    /// A limit was hit; retry after the delay given.
    ResourceExhausted,
    /// A dependency is down; retrying may help.
    Unavailable,
    /// The capability is not built yet.
    Unimplemented,
    /// A bug or an unexpected failure; details are in the server's log.
    Internal,
}

impl ErrorKind {
    /// The gRPC status code of this kind. The only place kinds meet codes.
    pub fn code(self) -> Code {
        match self {
            Self::InvalidArgument => Code::InvalidArgument,
            Self::Unauthenticated => Code::Unauthenticated,
            Self::PermissionDenied => Code::PermissionDenied,
            Self::NotFound => Code::NotFound,
            Self::AlreadyExists => Code::AlreadyExists,
            Self::FailedPrecondition => Code::FailedPrecondition,
            Self::Aborted => Code::Aborted,
            Self::ResourceExhausted => Code::ResourceExhausted,
            Self::Unavailable => Code::Unavailable,
            Self::Unimplemented => Code::Unimplemented,
            Self::Internal => Code::Internal,
        }
    }

    /// The `ErrorInfo.reason` sent when the error names no more specific one.
    pub fn default_reason(self) -> &'static str {
        match self {
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::FailedPrecondition => "FAILED_PRECONDITION",
            Self::Aborted => "ABORTED",
            Self::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Self::Unavailable => "UNAVAILABLE",
            Self::Unimplemented => "UNIMPLEMENTED",
            Self::Internal => "INTERNAL",
        }
    }
}

/// An error fit to send to a client, with an optional internal cause that is only logged.
/// Boxed inside so that `Result<T, Error>` stays one pointer wide on the happy path.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    message: String,
    reason: Option<&'static str>,
    metadata: HashMap<String, String>,
    field_violations: Vec<(String, String)>,
    precondition_violations: Vec<(String, String, String)>,
    retry_after: Option<Duration>,
    source: Option<anyhow::Error>,
}

/// The result of a use case.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with a client-visible `message` (lowercase, short, no internals).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self(Box::new(Inner {
            kind,
            message: message.into(),
            reason: None,
            metadata: HashMap::new(),
            field_violations: Vec::new(),
            precondition_violations: Vec::new(),
            retry_after: None,
            source: None,
        }))
    }

    /// One bad field: `INVALID_ARGUMENT` with a `BadRequest` field violation.
    /// Add more with [`Error::with_field_violation`].
    pub fn invalid_field(field: impl Into<String>, description: impl Into<String>) -> Self {
        let (field, description) = (field.into(), description.into());
        Self::new(
            ErrorKind::InvalidArgument,
            format!("invalid {field}: {description}"),
        )
        .with_field_violation(field, description)
    }

    /// Several bad fields: `INVALID_ARGUMENT` with a field violation each, and a message naming
    /// them all, so `grpc-message` alone says what to fix. `problems` must not be empty.
    pub fn invalid_fields<F: Into<String>, D: Into<String>>(
        problems: impl IntoIterator<Item = (F, D)>,
    ) -> Self {
        let problems: Vec<(String, String)> = problems
            .into_iter()
            .map(|(f, d)| (f.into(), d.into()))
            .collect();
        let named: Vec<String> = problems.iter().map(|(f, d)| format!("{f}: {d}")).collect();
        let mut err = Self::new(
            ErrorKind::InvalidArgument,
            format!("invalid {}", named.join("; ")),
        );
        err.0.field_violations = problems;
        err
    }

    /// `NOT_FOUND` for a resource of `resource_type` with `id`; also what another tenant's
    /// resource answers, so its existence never leaks.
    pub fn not_found(resource_type: &str, id: impl fmt::Display) -> Self {
        Self::new(
            ErrorKind::NotFound,
            format!("{resource_type} {id} not found"),
        )
        .with_metadata("resource_type", resource_type)
    }

    /// `ALREADY_EXISTS` naming the unique field that is taken.
    pub fn already_exists(field: impl Into<String>, description: impl Into<String>) -> Self {
        let (field, description) = (field.into(), description.into());
        Self::new(ErrorKind::AlreadyExists, description.clone())
            .with_field_violation(field, description)
    }

    /// `UNAUTHENTICATED` with a message saying what to do.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthenticated, message)
    }

    /// `PERMISSION_DENIED`.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, message)
    }

    /// `PERMISSION_DENIED` because the caller's roles do not grant `permission`
    /// (`MISSING_PERMISSION`, the permission in the metadata).
    pub fn missing_permission(permission: &str) -> Self {
        let message = match crate::permission_words::allows(permission) {
            Some(words) => format!(
                "your roles do not let you {words}: ask an owner or an admin of your workspace"
            ),
            None => format!("your roles do not grant {permission}"),
        };
        Self::permission_denied(message)
            .with_reason("MISSING_PERMISSION")
            .with_metadata("permission", permission)
    }

    /// `RESOURCE_EXHAUSTED` with a `RetryInfo` delay.
    pub fn resource_exhausted(message: impl Into<String>, retry_after: Duration) -> Self {
        let mut err = Self::new(ErrorKind::ResourceExhausted, message);
        err.0.retry_after = Some(retry_after);
        err
    }

    /// `ABORTED` for a stale etag: someone else changed the resource first.
    pub fn etag_mismatch(resource_type: &str) -> Self {
        Self::new(
            ErrorKind::Aborted,
            format!("the {resource_type} was changed by someone else; read it again and retry"),
        )
        .with_reason("ETAG_MISMATCH")
        .with_precondition_violation(
            "ETAG",
            resource_type,
            "etag does not match the current one",
        )
    }

    /// `UNIMPLEMENTED` naming what is missing.
    pub fn unimplemented(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unimplemented, message)
    }

    /// `INTERNAL`: the cause is logged, the client sees only `message`.
    pub fn internal(message: impl Into<String>, cause: impl Into<anyhow::Error>) -> Self {
        Self::new(ErrorKind::Internal, message).with_source(cause)
    }

    /// `UNAVAILABLE`: a dependency is down; the cause is logged, not sent.
    pub fn unavailable(message: impl Into<String>, cause: impl Into<anyhow::Error>) -> Self {
        Self::new(ErrorKind::Unavailable, message).with_source(cause)
    }

    /// Adds a `BadRequest` field violation.
    pub fn with_field_violation(
        mut self,
        field: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.0
            .field_violations
            .push((field.into(), description.into()));
        self
    }

    /// Adds a `PreconditionFailure` violation.
    pub fn with_precondition_violation(
        mut self,
        kind: impl Into<String>,
        subject: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.0
            .precondition_violations
            .push((kind.into(), subject.into(), description.into()));
        self
    }

    /// The machine-readable reason set with [`Error::with_reason`], if any.
    pub fn reason(&self) -> Option<&'static str> {
        self.0.reason
    }

    /// Sets the machine-readable `ErrorInfo.reason`, UPPER_SNAKE_CASE (e.g. `EMAIL_TAKEN`).
    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.0.reason = Some(reason);
        self
    }

    /// Adds an `ErrorInfo.metadata` entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.metadata.insert(key.into(), value.into());
        self
    }

    /// Without the `ErrorInfo.metadata` entry `key` (what this caller may not learn).
    pub fn without_metadata(mut self, key: &str) -> Self {
        self.0.metadata.remove(key);
        self
    }

    /// An `ErrorInfo.metadata` entry.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.0.metadata.get(key).map(String::as_str)
    }

    /// Sets the `RetryInfo` delay.
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.0.retry_after = Some(delay);
        self
    }

    /// Attaches the internal cause (logged, never sent).
    pub fn with_source(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.0.source = Some(cause.into());
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The client-visible message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The `BadRequest` field violations, as (field, description).
    pub fn field_violations(&self) -> &[(String, String)] {
        &self.0.field_violations
    }

    /// The internal cause, if any.
    pub fn source_error(&self) -> Option<&anyhow::Error> {
        self.0.source.as_ref()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind)
            .field("message", &self.0.message);
        if !self.0.field_violations.is_empty() {
            d.field("field_violations", &self.0.field_violations);
        }
        if let Some(source) = &self.0.source {
            d.field("source", &format_args!("{source:#}"));
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)?;
        if let Some(source) = &self.0.source {
            write!(f, ": {source:#}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

/// The most of a client-visible text (message, violation, metadata value) a status carries.
/// Errors may quote what a client sent; a megabyte of it must not come back in `grpc-message`
/// (stock clients refuse headers that large), so longer texts are cut with an ellipsis.
pub const MAX_ECHO: usize = 256;

/// `text` cut to at most [`MAX_ECHO`] bytes on a character boundary, with `…` when cut.
pub fn clip(text: &str) -> String {
    clip_to(text, MAX_ECHO)
}

/// `text` cut to at most `max` bytes on a character boundary, with `…` when cut.
pub fn clip_to(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl From<Error> for Status {
    fn from(err: Error) -> Status {
        if let Some(source) = &err.0.source {
            // The chain goes to the log (with the request's correlation id from the span),
            // never to the client.
            match err.0.kind {
                ErrorKind::Internal => {
                    tracing::error!(error = %format!("{source:#}"), "{}", err.0.message)
                }
                _ => tracing::warn!(error = %format!("{source:#}"), "{}", err.0.message),
            }
        }
        let mut details = ErrorDetails::new();
        let metadata: HashMap<String, String> = err
            .0
            .metadata
            .iter()
            .map(|(k, v)| (clip(k), clip(v)))
            .collect();
        details.set_error_info(
            err.0.reason.unwrap_or(err.0.kind.default_reason()),
            ERROR_DOMAIN,
            metadata,
        );
        for (field, description) in &err.0.field_violations {
            details.add_bad_request_violation(clip(field), clip(description));
        }
        for (kind, subject, description) in &err.0.precondition_violations {
            details.add_precondition_failure_violation(
                clip(kind),
                clip(subject),
                clip(description),
            );
        }
        if let Some(delay) = err.0.retry_after {
            details.set_retry_info(Some(delay));
        }
        Status::with_error_details(
            err.0.kind.code(),
            clip_to(&err.0.message, 2 * MAX_ECHO),
            details,
        )
    }
}

#[cfg(test)]
mod tests;
