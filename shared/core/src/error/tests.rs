use super::*;

#[test]
fn a_megabyte_of_client_input_is_never_echoed_back() {
    let huge = "x".repeat(1 << 20);
    let err = Error::not_found("role", &huge)
        .with_field_violation("id", format!("{huge} is not a role"))
        .with_metadata("id", huge.clone());
    let (status, details) = round_trip(err);
    assert!(
        status.message().len() <= 2 * MAX_ECHO + 3,
        "{}",
        status.message().len()
    );
    assert!(status.message().ends_with('…'));
    let violation = &details.bad_request().unwrap().field_violations[0];
    assert!(violation.description.len() <= MAX_ECHO + 3);
    assert!(details.error_info().unwrap().metadata["id"].len() <= MAX_ECHO + 3);
}

#[test]
fn several_bad_fields_are_all_named_in_the_message() {
    let err = Error::invalid_fields([
        ("email", "must be an email address"),
        ("password", "must be at least 12 characters"),
    ]);
    let (status, details) = round_trip(err);
    assert_eq!(details.bad_request().unwrap().field_violations.len(), 2);
    assert_eq!(
        status.message(),
        "invalid email: must be an email address; password: must be at least 12 characters"
    );
}

#[test]
fn clipping_keeps_whole_characters() {
    assert_eq!(clip_to("abc", 3), "abc");
    assert_eq!(clip_to("aé", 2), "a…");
}

fn round_trip(err: Error) -> (Status, ErrorDetails) {
    let status = Status::from(err);
    let details = status.get_error_details();
    (status, details)
}

#[test]
fn every_kind_maps_to_its_own_code_and_reason() {
    let kinds = [
        (ErrorKind::InvalidArgument, Code::InvalidArgument),
        (ErrorKind::Unauthenticated, Code::Unauthenticated),
        (ErrorKind::PermissionDenied, Code::PermissionDenied),
        (ErrorKind::NotFound, Code::NotFound),
        (ErrorKind::AlreadyExists, Code::AlreadyExists),
        (ErrorKind::FailedPrecondition, Code::FailedPrecondition),
        (ErrorKind::Aborted, Code::Aborted),
        (ErrorKind::ResourceExhausted, Code::ResourceExhausted),
        (ErrorKind::Unavailable, Code::Unavailable),
        (ErrorKind::Unimplemented, Code::Unimplemented),
        (ErrorKind::Internal, Code::Internal),
    ];
    for (kind, code) in kinds {
        let (status, details) = round_trip(Error::new(kind, "something"));
        assert_eq!(status.code(), code, "{kind:?}");
        assert_eq!(status.message(), "something");
        let info = details.error_info().expect("every error carries ErrorInfo");
        assert_eq!(info.reason, kind.default_reason());
        assert_eq!(info.domain, ERROR_DOMAIN);
    }
}

#[test]
fn invalid_field_carries_bad_request_field_violations() {
    let err = Error::invalid_field("customer.email", "must be an email address")
        .with_field_violation("customer.display_name", "must not be empty");
    let (status, details) = round_trip(err);
    assert_eq!(status.code(), Code::InvalidArgument);
    let violations = &details.bad_request().expect("BadRequest").field_violations;
    let fields: Vec<_> = violations
        .iter()
        .map(|v| (v.field.as_str(), v.description.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("customer.email", "must be an email address"),
            ("customer.display_name", "must not be empty")
        ]
    );
}

#[test]
fn resource_exhausted_carries_retry_info() {
    let (status, details) = round_trip(Error::resource_exhausted(
        "too many attempts",
        Duration::from_secs(30),
    ));
    assert_eq!(status.code(), Code::ResourceExhausted);
    let retry = details.retry_info().expect("RetryInfo");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(30)));
}

#[test]
fn etag_mismatch_is_aborted_with_reason_and_precondition_failure() {
    let (status, details) = round_trip(Error::etag_mismatch("customer"));
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(details.error_info().unwrap().reason, "ETAG_MISMATCH");
    let violation = &details
        .precondition_failure()
        .expect("PreconditionFailure")
        .violations[0];
    assert_eq!(
        (violation.r#type.as_str(), violation.subject.as_str()),
        ("ETAG", "customer")
    );
}

#[test]
fn not_found_names_the_resource_type_in_metadata() {
    let (status, details) = round_trip(Error::not_found("customer", "0190a1b2"));
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), "customer 0190a1b2 not found");
    assert_eq!(
        details.error_info().unwrap().metadata["resource_type"],
        "customer"
    );
}

#[test]
fn internal_cause_never_reaches_the_client() {
    let cause = anyhow::anyhow!("password authentication failed for user \"crm\"");
    let (status, details) = round_trip(Error::internal("could not read customers", cause));
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.message(), "could not read customers");
    assert!(
        !format!("{details:?}").contains("password"),
        "details leak the cause: {details:?}"
    );
}

#[test]
fn a_described_permission_is_refused_in_words_and_an_unknown_one_by_its_id() {
    crate::permission_words::describe([("words_test.delete", "delete test records")]);
    assert_eq!(
        crate::authz::allows("words_test.delete"),
        Some("delete test records")
    );
    let refused = Error::missing_permission("words_test.delete");
    assert_eq!(
        refused.message(),
        "your roles do not let you delete test records: ask an owner or an admin of your workspace"
    );
    assert_eq!(refused.reason(), Some("MISSING_PERMISSION"));
    assert_eq!(refused.metadata("permission"), Some("words_test.delete"));
    assert_eq!(
        Error::missing_permission("words_test.unknown").message(),
        "your roles do not grant words_test.unknown"
    );
}
