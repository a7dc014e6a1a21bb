//! `crm customers import` and `export`: a user's tool that calls the served API like any client
//! (ImportCustomers, ExportCustomers), with a progress bar, streaming both ways so memory stays
//! flat. The file format is in [`columns`].

pub mod columns;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use crm_proto::crm::customer::v1 as pb;
use crm_proto::crm::customer::v1::customer_service_client::CustomerServiceClient;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

/// Where the API is and who calls it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// E.g. `http://127.0.0.1:50051`.
    pub server: String,
    /// An access token (AuthService/Login's `accessToken`).
    pub token: String,
}

/// The file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// The format of `path`: JSON Lines for `.jsonl`/`.ndjson`, else CSV.
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "ndjson") => Format::Jsonl,
            _ => Format::Csv,
        }
    }
}

/// How an import runs.
#[derive(Clone, Debug)]
pub struct ImportArgs {
    /// The file.
    pub file: PathBuf,
    /// Skip, update or fail rows whose email another customer has.
    pub duplicates: pb::DuplicatePolicy,
    /// Check and count only.
    pub dry_run: bool,
    /// Makes sending the same import again return the first report.
    pub request_id: String,
    /// Where rejected rows go (default: `<file>.rejected.csv`).
    pub rejects: Option<PathBuf>,
}

async fn client(endpoint: &Endpoint) -> anyhow::Result<CustomerServiceClient<Channel>> {
    let channel = Channel::from_shared(endpoint.server.clone())
        .with_context(|| format!("{:?} is not a server address; use e.g. http://127.0.0.1:50051", endpoint.server))?
        .connect()
        .await
        .with_context(|| {
            format!(
                "cannot reach the CRM at {}; is `crm serve` running there (--server / KILANG_SERVER)?",
                endpoint.server
            )
        })?;
    Ok(CustomerServiceClient::new(channel).max_decoding_message_size(64 << 20))
}

fn authorized<T>(message: T, token: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {token}")
        .parse()
        .context("the token is not a valid header value")?;
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}

fn call_error(status: tonic::Status) -> anyhow::Error {
    let hint = match status.code() {
        tonic::Code::Unauthenticated => {
            "; get a token with AuthService/Login and pass it with --token or KILANG_TOKEN"
        }
        tonic::Code::PermissionDenied => "; ask an admin for customers.import / customers.export",
        _ => "",
    };
    anyhow::anyhow!("the CRM refused: {}{hint}", status.message())
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// One row of the file: its number (from 1, after the header) and the customer, or why it
/// could not be read.
type FileRow = (u64, Result<pb::Customer, String>);

/// Reads `file` row by row on a thread of its own, advancing `progress` by bytes.
fn read_rows(
    file: PathBuf,
    progress: ProgressBar,
    tx: tokio::sync::mpsc::Sender<FileRow>,
) -> anyhow::Result<()> {
    let reader = BufReader::new(File::open(&file)?);
    match Format::of(&file) {
        Format::Csv => {
            let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
            let headers: Vec<String> = csv
                .headers()?
                .iter()
                .map(columns::canonical)
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let mut record = csv::StringRecord::new();
            let mut n = 0;
            loop {
                n += 1;
                let row = match csv.read_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) if record.len() != headers.len() => Err(format!(
                        "has {} cells; the header has {}",
                        record.len(),
                        headers.len()
                    )),
                    Ok(true) => Ok(columns::customer(&columns::csv_record(&headers, &record))),
                    Err(e) => Err(e.to_string()),
                };
                progress.set_position(csv.position().byte());
                if tx.blocking_send((n, row)).is_err() {
                    break;
                }
            }
        }
        Format::Jsonl => {
            let mut position = 0;
            for (i, line) in reader.lines().enumerate() {
                let line = line?;
                position += line.len() as u64 + 1;
                progress.set_position(position);
                if line.trim().is_empty() {
                    continue;
                }
                let row = match serde_json::from_str::<Value>(&line) {
                    Ok(Value::Object(map)) => {
                        let mut record = Map::new();
                        for (k, v) in map {
                            let k = columns::canonical(&k)
                                .map_err(|e| anyhow::anyhow!("line {}: {e}", i + 1))?;
                            record.insert(k, v);
                        }
                        Ok(columns::customer(&record))
                    }
                    Ok(_) => Err("is not a JSON object".to_owned()),
                    Err(e) => Err(format!("is not JSON: {e}")),
                };
                if tx.blocking_send(((i + 1) as u64, row)).is_err() {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// `crm customers import FILE`: streams the file's rows to ImportCustomers with a progress bar,
/// prints the report, and writes the rejected rows (row number, field, reason, the original row)
/// to a CSV that can be fixed and imported again.
pub async fn import(endpoint: &Endpoint, args: ImportArgs) -> anyhow::Result<()> {
    let len = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .len();
    let mut client = client(endpoint).await?;
    let progress = bar(
        len,
        "{spinner} importing [{bar:30}] {bytes}/{total_bytes} {msg}",
    );
    let (rows_tx, mut rows_rx) = tokio::sync::mpsc::channel::<FileRow>(1024);
    let reader = {
        let (file, progress) = (args.file.clone(), progress.clone());
        tokio::task::spawn_blocking(move || read_rows(file, progress, rows_tx))
    };
    // Rows the file could not give are rejected here; the rest go to the server, whose row
    // numbers count only what it received: `sent` maps them back to the file's.
    let (stream_tx, stream_rx) = tokio::sync::mpsc::channel(1024);
    let options = pb::ImportCustomersRequest {
        item: Some(pb::import_customers_request::Item::Options(
            pb::ImportOptions {
                duplicate_policy: args.duplicates as i32,
                dry_run: args.dry_run,
                request_id: args.request_id.clone(),
            },
        )),
    };
    stream_tx.send(options).await.ok();
    let forward = {
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut sent: Vec<u64> = Vec::new();
            let mut unreadable: Vec<(u64, String)> = Vec::new();
            let started = std::time::Instant::now();
            while let Some((n, row)) = rows_rx.recv().await {
                match row {
                    Ok(customer) => {
                        sent.push(n);
                        let item = pb::import_customers_request::Item::Customer(customer);
                        if stream_tx
                            .send(pb::ImportCustomersRequest { item: Some(item) })
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(reason) => unreadable.push((n, reason)),
                }
                if n % 1000 == 0 {
                    let rate = n as f64 / started.elapsed().as_secs_f64().max(0.001);
                    progress.set_message(format!("{n} rows, {rate:.0} rows/s"));
                }
            }
            (sent, unreadable)
        })
    };
    let response = client
        .import_customers(authorized(ReceiverStream::new(stream_rx), &endpoint.token)?)
        .await;
    let (sent, unreadable) = forward.await?;
    reader.await??;
    progress.finish_and_clear();
    let report = response.map_err(call_error)?.into_inner();
    print_report(&report, unreadable.len(), args.dry_run);
    // Rows imported with a doubtful phone set aside (kept in the customer's notes as written).
    for w in &report.warnings {
        let n = sent.get((w.row - 1) as usize).copied().unwrap_or(0);
        for v in &w.field_violations {
            println!("warning, row {n}: {}: {}", v.field, v.description);
        }
    }
    let mut rejected: BTreeMap<u64, Vec<(String, String)>> = unreadable
        .into_iter()
        .map(|(n, reason)| (n, vec![("row".to_owned(), reason)]))
        .collect();
    for e in &report.errors {
        let n = sent.get((e.row - 1) as usize).copied().unwrap_or(0);
        let reasons = e
            .field_violations
            .iter()
            .map(|v| (v.field.clone(), v.description.clone()));
        rejected.entry(n).or_default().extend(reasons);
    }
    if !rejected.is_empty() {
        let out = args
            .rejects
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.rejected.csv", args.file.display())));
        write_rejects(&args.file, &out, &rejected)?;
        println!(
            "rejected rows: {} (row, field, reason and the original row); fix them and import that file again",
            out.display()
        );
    }
    Ok(())
}

fn print_report(r: &pb::ImportCustomersResponse, unreadable: usize, dry_run: bool) {
    let verb = if dry_run { "would be " } else { "" };
    println!(
        "{} rows: {} {verb}created, {} {verb}updated, {} skipped (duplicates), {} rejected",
        r.received_count + unreadable as i64,
        r.created_count,
        r.updated_count,
        r.skipped_count,
        r.failed_count + unreadable as i64
    );
    if r.failed_count as usize > r.errors.len() {
        println!(
            "(the server lists the first {} rejected rows; the rejects file has those)",
            r.errors.len()
        );
    }
}

/// Copies the rejected rows of `file` into `out`, each with its number and reasons.
fn write_rejects(
    file: &Path,
    out: &Path,
    rejected: &BTreeMap<u64, Vec<(String, String)>>,
) -> anyhow::Result<()> {
    // Flexible: a rejected row may have the wrong number of cells, and is copied as it is.
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(BufWriter::new(
            File::create(out).with_context(|| format!("cannot write {}", out.display()))?,
        ));
    let reasons = |n: u64| {
        let list = &rejected[&n];
        (
            list.iter()
                .map(|(f, _)| f.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            list.iter()
                .map(|(_, r)| r.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        )
    };
    let reader = BufReader::new(File::open(file)?);
    match Format::of(file) {
        Format::Csv => {
            let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
            let mut header = vec!["row".to_owned(), "field".to_owned(), "reason".to_owned()];
            header.extend(csv.headers()?.iter().map(str::to_owned));
            writer.write_record(&header)?;
            for (i, record) in csv.records().enumerate() {
                let n = i as u64 + 1;
                if rejected.contains_key(&n) {
                    let (fields, why) = reasons(n);
                    let mut cells = vec![n.to_string(), fields, why];
                    if let Ok(record) = record {
                        // As exported: a cell a spreadsheet would run is written as text.
                        cells.extend(
                            record
                                .iter()
                                .map(|c| columns::neutralised(columns::restored(c))),
                        );
                    }
                    writer.write_record(&cells)?;
                }
            }
        }
        Format::Jsonl => {
            writer.write_record(["row", "field", "reason", "line"])?;
            for (i, line) in reader.lines().enumerate() {
                let (n, line) = (i as u64 + 1, line?);
                if rejected.contains_key(&n) {
                    let (fields, why) = reasons(n);
                    writer.write_record([n.to_string(), fields, why, line])?;
                }
            }
        }
    }
    writer.flush()?;
    Ok(())
}

/// `crm customers export`: streams ExportCustomers into `out` (or standard output) as CSV or
/// JSON Lines, with a progress bar when writing to a file.
pub async fn export(
    endpoint: &Endpoint,
    format: Format,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let mut client = client(endpoint).await?;
    let mut stream = client
        .export_customers(authorized(
            pb::ExportCustomersRequest::default(),
            &endpoint.token,
        )?)
        .await
        .map_err(call_error)?
        .into_inner();
    let sink: Box<dyn Write> = match &out {
        Some(path) => Box::new(
            File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let sink = BufWriter::new(sink);
    enum Out {
        Csv(Box<csv::Writer<BufWriter<Box<dyn Write>>>>),
        Jsonl(BufWriter<Box<dyn Write>>),
    }
    let mut writer = match format {
        Format::Csv => {
            let mut w = csv::Writer::from_writer(sink);
            w.write_record(columns::COLUMNS.iter().map(|(c, _)| *c))?;
            Out::Csv(Box::new(w))
        }
        Format::Jsonl => Out::Jsonl(sink),
    };
    let progress = out
        .as_ref()
        .map(|_| bar(0, "{spinner} exporting [{bar:30}] {pos}/{len} {per_sec}"));
    let mut written = 0_u64;
    while let Some(item) = stream.message().await.map_err(call_error)? {
        let Some(customer) = item.customer else {
            continue;
        };
        let record = columns::record(&customer);
        match &mut writer {
            Out::Csv(w) => w.write_record(columns::csv_cells(&record))?,
            Out::Jsonl(w) => {
                serde_json::to_writer(&mut *w, &record)?;
                w.write_all(b"\n")?;
            }
        }
        written += 1;
        if let Some(p) = &progress {
            p.set_length(item.total_count.max(0) as u64);
            p.set_position(written);
        }
    }
    match writer {
        Out::Csv(mut w) => w.flush()?,
        Out::Jsonl(mut w) => w.flush()?,
    }
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    if let Some(path) = out {
        println!("exported {written} customers to {}", path.display());
    }
    Ok(())
}
