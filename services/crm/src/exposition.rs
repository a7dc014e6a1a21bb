//! What `/metrics` answers besides the CRM's own series, and in which format:
//!
//! - the format the scraper asks for (`Accept`): OpenMetrics 1.0 for Prometheus and anything
//!   that asks for `application/openmetrics-text`, else the classic Prometheus text format 0.0.4
//!   (`text/plain; version=0.0.4`), which `promtool check metrics` and the classic client parsers
//!   read. `prometheus-client` writes only OpenMetrics; [`to_prometheus_text`] rewrites it (the
//!   two differ in counter family names, `info` and `unit` metadata and the `# EOF` line);
//! - the process metrics every exporter has (CPU, memory, file descriptors, start time, threads),
//!   read from `/proc` by `metrics-process` at each scrape;
//! - `crm_build_info{version, commit}`.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

/// The content type of an OpenMetrics answer.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of a Prometheus text format 0.0.4 answer.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether a scraper sending `accept` gets OpenMetrics (it asked for it) rather than the classic
/// text format (the default, also for a missing header or `*/*`).
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    // The most preferred of the two formats; an equal preference goes to OpenMetrics, as
    // Prometheus' own header lists it first.
    let mut best: Option<(f32, bool)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let open = match media.as_str() {
            "application/openmetrics-text" => true,
            "text/plain" => false,
            _ => continue,
        };
        if quality > 0.0 && best.is_none_or(|(q, o)| quality > q || (quality == q && open && !o)) {
            best = Some((quality, open));
        }
    }
    best.is_some_and(|(_, open)| open)
}

/// Rewrites `prometheus-client`'s OpenMetrics text into the Prometheus text format 0.0.4: a
/// counter family is named by its samples (`x_total`), an `info` family becomes the gauge
/// `x_info`, and `# UNIT` and `# EOF` lines go. Samples are the same in both formats.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    // Family name -> the name and type it has in the classic format.
    let mut renamed: std::collections::HashMap<&str, (String, &str)> = Default::default();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, kind)) = rest.split_once(' ')
        {
            let classic = match kind {
                "counter" if !name.ends_with("_total") => (format!("{name}_total"), "counter"),
                "info" => (format!("{name}_info"), "gauge"),
                "unknown" => (name.to_owned(), "untyped"),
                _ => (name.to_owned(), kind),
            };
            renamed.insert(name, classic);
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, _)) = rest.split_once(' ')
            && let Some((classic, kind)) = renamed.get(name)
        {
            out.push_str(&format!("# TYPE {classic} {kind}\n"));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ")
            && let Some((name, help)) = rest.split_once(' ')
            && let Some((classic, _)) = renamed.get(name)
        {
            // OpenMetrics escapes `"` in help texts; the classic format does not.
            out.push_str(&format!(
                "# HELP {classic} {}\n",
                help.replace("\\\"", "\"")
            ));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Build {
    version: String,
    commit: String,
}

/// Registers the process metrics and `crm_build_info` in `registry`.
pub fn register(registry: &mut Registry) {
    registry.register(
        "crm_build",
        "The running build: its version and the commit it was built from",
        Info::new(Build {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            commit: env!("KILANG_BUILD_COMMIT").to_owned(),
        }),
    );
    registry.register_collector(Box::new(ProcessCollector));
}

/// Reads the process's figures from the OS at each scrape.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = metrics_process::collector::collect();
        if let Some(seconds) = now.cpu_seconds_total {
            let counter = ConstCounter::new(seconds);
            counter.encode(encoder.encode_descriptor(
                "process_cpu",
                "Total user and system CPU time spent in seconds",
                Some(&Unit::Seconds),
                counter.metric_type(),
            )?)?;
        }
        let gauges = [
            (
                "process_resident_memory",
                "Resident memory size in bytes",
                Some(Unit::Bytes),
                now.resident_memory_bytes,
            ),
            (
                "process_virtual_memory",
                "Virtual memory size in bytes",
                Some(Unit::Bytes),
                now.virtual_memory_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                None,
                now.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                None,
                now.max_fds,
            ),
            (
                "process_start_time",
                "Start time of the process since the Unix epoch in seconds",
                Some(Unit::Seconds),
                now.start_time_seconds,
            ),
            (
                "process_threads",
                "Number of OS threads in the process",
                None,
                now.threads,
            ),
        ];
        for (name, help, unit, value) in gauges {
            let Some(value) = value else { continue };
            let gauge = ConstGauge::new(value as i64);
            gauge.encode(encoder.encode_descriptor(
                name,
                help,
                unit.as_ref(),
                gauge.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_follows_what_the_scraper_asks_for() {
        // Prometheus' own scrape header.
        assert!(wants_openmetrics(Some(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        )));
        assert!(!wants_openmetrics(Some("text/plain")));
        assert!(!wants_openmetrics(Some("text/plain;version=0.0.4")));
        assert!(!wants_openmetrics(None));
        assert!(!wants_openmetrics(Some("*/*")));
        assert!(!wants_openmetrics(Some(
            "application/openmetrics-text;q=0.2,text/plain;q=0.9"
        )));
        assert!(wants_openmetrics(Some("application/openmetrics-text")));
    }

    #[test]
    fn openmetrics_becomes_the_classic_text_format() {
        let mut registry = Registry::default();
        let calls = prometheus_client::metrics::counter::Counter::<u64>::default();
        calls.inc();
        registry.register("crm_calls", "Calls \"answered\"", calls);
        let latency = prometheus_client::metrics::histogram::Histogram::new([0.1, 1.0]);
        latency.observe(0.5);
        registry.register_with_unit("crm_latency", "Latency", Unit::Seconds, latency);
        register(&mut registry);
        let mut open = String::new();
        prometheus_client::encoding::text::encode(&mut open, &registry).unwrap();
        let classic = to_prometheus_text(&open);
        assert!(open.contains("# TYPE crm_calls counter\n"), "{open}");
        assert!(
            classic.contains("# TYPE crm_calls_total counter\n"),
            "{classic}"
        );
        assert!(
            classic.contains("# HELP crm_calls_total Calls \"answered\".\n"),
            "{classic}"
        );
        assert!(classic.contains("crm_calls_total 1\n"), "{classic}");
        assert!(classic.contains("# TYPE crm_latency_seconds histogram\n"));
        assert!(
            classic.contains("crm_latency_seconds_bucket{le=\"1.0\"} 1\n"),
            "{classic}"
        );
        assert!(
            classic.contains("# TYPE crm_build_info gauge\n"),
            "{classic}"
        );
        assert!(classic.contains("crm_build_info{version=\""), "{classic}");
        assert!(
            classic.contains("# TYPE process_cpu_seconds_total counter\n"),
            "{classic}"
        );
        assert!(classic.contains("# TYPE process_resident_memory_bytes gauge\n"));
        assert!(classic.contains("# TYPE process_open_fds gauge\n"));
        assert!(classic.contains("# TYPE process_start_time_seconds gauge\n"));
        assert!(
            !classic.contains("# EOF") && !classic.contains("# UNIT"),
            "{classic}"
        );
    }
}
