//! ImportCustomers (client streaming: options first, then rows) and ExportCustomers (server
//! streaming, page by page, stopping when the client goes away).

use crm_core::api::{self, mask_paths};
use crm_core::{Error, ErrorKind};
use crm_proto::crm::customer::v1 as pb;
use futures::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use super::convert::{customer_input, set_fields};
use crate::application::bulk::{Duplicates, ImportOptions, ImportReport};
use crate::application::{Caller, Customers};
use crate::domain::customer::UPDATABLE;
use crate::domain::messages::customer_pb;
use crate::domain::ports::{Filter, Order};

/// Customers read per page while exporting.
const EXPORT_PAGE: u32 = 500;

fn stream_error(status: Status) -> Error {
    Error::new(
        ErrorKind::Aborted,
        format!(
            "the import stream broke ({}); the batches committed before it are kept: send the rest again (duplicates are skipped by email)",
            status.message()
        ),
    )
}

fn options(
    first: Option<pb::ImportCustomersRequest>,
) -> Result<(ImportOptions, pb::ImportOptions), Error> {
    let Some(pb::ImportCustomersRequest {
        item: Some(pb::import_customers_request::Item::Options(o)),
    }) = first
    else {
        return Err(Error::invalid_field(
            "options",
            "the first message of an import must be its options (then one message per customer)",
        ));
    };
    let duplicates = match api::enum_filter::<pb::DuplicatePolicy>(
        "options.duplicate_policy",
        o.duplicate_policy,
    )? {
        None | Some(pb::DuplicatePolicy::Unspecified | pb::DuplicatePolicy::Skip) => {
            Duplicates::Skip
        }
        Some(pb::DuplicatePolicy::Update) => Duplicates::Update,
        Some(pb::DuplicatePolicy::Fail) => Duplicates::Fail,
    };
    api::bounded("options.request_id", &o.request_id, 256)?;
    Ok((
        ImportOptions {
            duplicates,
            dry_run: o.dry_run,
        },
        o,
    ))
}

fn report_pb(r: ImportReport) -> pb::ImportCustomersResponse {
    pb::ImportCustomersResponse {
        received_count: r.received,
        created_count: r.created,
        updated_count: r.updated,
        skipped_count: r.skipped,
        failed_count: r.failed,
        replayed: false,
        errors: r.errors.into_iter().map(row_error_pb).collect(),
        warnings: r.warnings.into_iter().map(row_error_pb).collect(),
    }
}

fn row_error_pb(e: crate::application::bulk::RowError) -> pb::ImportRowError {
    pb::ImportRowError {
        row: e.row,
        email: e.email,
        field_violations: e
            .violations
            .into_iter()
            .map(
                |(field, description)| crm_proto::google::rpc::bad_request::FieldViolation {
                    field,
                    description,
                    ..Default::default()
                },
            )
            .collect(),
    }
}

/// Runs an import from `stream`. With a `request_id`, sending the same import again returns
/// the first report and writes nothing.
pub async fn import(
    customers: &Customers,
    caller: &Caller,
    mut stream: Streaming<pb::ImportCustomersRequest>,
) -> Result<pb::ImportCustomersResponse, Error> {
    let first = stream.message().await.map_err(stream_error)?;
    let (options, options_pb) = options(first)?;
    let request_id = options_pb.request_id.clone();
    let (mut report, replayed) = customers
        .idempotency()
        .once_telling(
            &caller.principal,
            "customers.import",
            "ImportCustomers",
            &request_id,
            &options_pb,
            || async {
                let mut importer = customers.importer(caller, options)?;
                let mut row = 0_i64;
                loop {
                    let message = match stream.message().await {
                        Ok(Some(message)) => message,
                        Ok(None) => break,
                        Err(status) => {
                            let r = importer.report();
                            tracing::warn!(
                                received = r.received,
                                created = r.created,
                                "an import stream broke; committed batches are kept"
                            );
                            return Err(stream_error(status));
                        }
                    };
                    match message.item {
                        Some(pb::import_customers_request::Item::Customer(c)) => {
                            row += 1;
                            let paths =
                                mask_paths(None, &set_fields(&c), UPDATABLE).unwrap_or_default();
                            importer.row(row, customer_input(&c), paths).await?;
                        }
                        Some(pb::import_customers_request::Item::Options(_)) => {
                            return Err(Error::invalid_field(
                                "options",
                                "options come once, in the first message",
                            ));
                        }
                        None => {
                            row += 1;
                            importer
                                .row(
                                    row,
                                    Err(Error::invalid_field("customer", "the row is empty")),
                                    Vec::new(),
                                )
                                .await?;
                        }
                    }
                }
                Ok(report_pb(importer.finish().await?))
            },
        )
        .await?;
    // The same request_id again answers with the first import's report, and says so: the rows
    // sent this time were not read, whatever they were.
    report.replayed = replayed;
    Ok(report)
}

/// Streams every customer matching `filter` in creation order, page by page; stops reading
/// when the client stops listening.
pub async fn export(
    customers: Customers,
    caller: Caller,
    mut filter: Filter,
) -> Result<impl Stream<Item = Result<pb::ExportCustomersResponse, Status>> + Send, Error> {
    let total = customers.export_count(&caller, &mut filter).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        let mut after = None;
        loop {
            let page = match customers
                .list(&caller, filter.clone(), Order::Created, after, EXPORT_PAGE)
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    let _ = tx.send(Err(Status::from(e))).await;
                    return;
                }
            };
            for c in &page.customers {
                let item = pb::ExportCustomersResponse {
                    customer: Some(customer_pb(c)),
                    total_count: total,
                };
                if tx.send(Ok(item)).await.is_err() {
                    return; // the client went away
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return,
            }
        }
    });
    Ok(ReceiverStream::new(rx))
}
