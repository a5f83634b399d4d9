//! The metrics as text: Prometheus' classic text format (0.0.4), or OpenMetrics 1.0 when
//! the scraper asks for it, under healthd's names or smokeping_prober's. Every series of
//! every target is there from the start, at 0.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use crate::config::Style;
use crate::metrics::{BUCKETS_NS, Board, Cell, Figures};

/// The content types of the two formats.
pub const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether an `Accept` header asks for OpenMetrics (Prometheus asks for it first, the
/// classic format as a fallback); a `q=0` refuses it.
pub fn wants_openmetrics(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let mut fields = part.split(';').map(str::trim);
        fields.next() == Some("application/openmetrics-text")
            && !fields.any(|field| {
                field
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            })
    })
}

/// The daemon's own state, shown beside the targets'.
pub struct Process {
    pub reload_successful: bool,
    /// Unix time of the last successful (re)load, in milliseconds.
    pub reload_at_ms: u64,
    /// Probes settled, all targets together.
    pub settled: u64,
}

/// How the metrics of a style are named.
struct Names {
    requests: &'static str,
    duration: &'static str,
    ttl: &'static str,
    duplicates: &'static str,
    /// healthd's own, absent in smokeping_prober's set.
    up: Option<&'static str>,
    timeouts: Option<&'static str>,
    send_errors: Option<&'static str>,
    error_replies: Option<&'static str>,
    reload_successful: &'static str,
    reload_at: &'static str,
    settled: Option<&'static str>,
    /// Whether the series carry `source` and the groups' labels.
    all_labels: bool,
}

const NATIVE: Names = Names {
    requests: "icmp_requests",
    duration: "icmp_response_duration_seconds",
    ttl: "icmp_response_ttl",
    duplicates: "icmp_response_duplicates",
    up: Some("icmp_up"),
    timeouts: Some("icmp_timeouts"),
    send_errors: Some("icmp_send_errors"),
    error_replies: Some("icmp_error_replies"),
    reload_successful: "healthd_config_last_reload_successful",
    reload_at: "healthd_config_last_reload_success_timestamp_seconds",
    settled: Some("healthd_probes_settled"),
    all_labels: true,
};

const SMOKEPING: Names = Names {
    requests: "smokeping_requests",
    duration: "smokeping_response_duration_seconds",
    ttl: "smokeping_response_ttl",
    duplicates: "smokeping_response_duplicates",
    up: None,
    timeouts: None,
    send_errors: None,
    error_replies: None,
    reload_successful: "smokeping_prober_config_last_reload_successful",
    reload_at: "smokeping_prober_config_last_reload_success_timestamp_seconds",
    settled: None,
    all_labels: false,
};

/// A target's row: its label pairs and its figures.
struct Row<'a> {
    labels: String,
    figures: Figures,
    cell: &'a Cell,
}

/// The metrics of `board` and `process` in `style`, as OpenMetrics or the classic format.
pub fn encode(board: &Board, process: &Process, style: Style, openmetrics: bool) -> String {
    let names = match style {
        Style::Native => &NATIVE,
        Style::Smokeping => &SMOKEPING,
    };
    let rows: Vec<Row<'_>> = board
        .order
        .iter()
        .map(|entry| {
            let figures = entry.cell.figures();
            Row {
                labels: labels(&entry.cell.host, &figures, names.all_labels),
                figures,
                cell: &entry.cell,
            }
        })
        .collect();
    // Room for it all at once (a 50,000-target scrape is 140 MB: growing by doubling once
    // more would double the daemon's peak): each target's ~31 lines of ~50 bytes besides
    // its labels.
    let room: usize = rows.iter().map(|row| 31 * (56 + row.labels.len())).sum();
    let mut out = String::with_capacity(4_096 + room);
    let out = &mut out;
    let counter = |out: &mut String, name: &str, help: &str, value: &dyn Fn(&Row<'_>) -> u64| {
        header(out, name, "counter", help, openmetrics);
        for row in &rows {
            let _ = writeln!(out, "{name}_total{{{}}} {}", row.labels, value(row));
        }
    };
    counter(
        out,
        names.requests,
        "ICMP echo requests whose outcome is known: answered, timed out, or failed.",
        &|row| row.cell.requests.load(Relaxed),
    );
    let name = names.duration;
    header(
        out,
        name,
        "histogram",
        "Round-trip times of the replies, in seconds.",
        openmetrics,
    );
    for Row {
        labels, figures, ..
    } in &rows
    {
        let comma = if labels.is_empty() { "" } else { "," };
        for (bound, count) in BUCKETS_NS.iter().zip(&figures.cumulative) {
            let le = go_seconds(*bound);
            let _ = writeln!(out, "{name}_bucket{{{labels}{comma}le=\"{le}\"}} {count}");
        }
        let replies = figures.cumulative[BUCKETS_NS.len()];
        let _ = writeln!(out, "{name}_bucket{{{labels}{comma}le=\"+Inf\"}} {replies}");
        let sum = decimal_seconds(figures.sum_ns);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {replies}");
    }
    let gauge = |out: &mut String, name: &str, help: &str, value: &dyn Fn(&Row<'_>) -> u64| {
        header(out, name, "gauge", help, openmetrics);
        for row in &rows {
            let _ = writeln!(out, "{name}{{{}}} {}", row.labels, value(row));
        }
    };
    gauge(
        out,
        names.ttl,
        "TTL (IPv4) or hop limit (IPv6) of the last reply; 0 before the first.",
        &|row| u64::from(row.cell.ttl.load(Relaxed)),
    );
    counter(
        out,
        names.duplicates,
        "Replies received again for a request already answered.",
        &|row| row.cell.duplicates.load(Relaxed),
    );
    if let Some(name) = names.timeouts {
        counter(
            out,
            name,
            "Requests that got no reply within the timeout.",
            &|row| row.cell.timeouts.load(Relaxed),
        );
    }
    if let Some(name) = names.send_errors {
        counter(
            out,
            name,
            "Requests that could not be sent: the name did not resolve, the socket refused.",
            &|row| row.cell.send_errors.load(Relaxed),
        );
    }
    if let Some(name) = names.error_replies {
        counter(
            out,
            name,
            "Requests answered by an ICMP error (destination unreachable, time exceeded).",
            &|row| row.cell.error_replies.load(Relaxed),
        );
    }
    if let Some(name) = names.up {
        gauge(
            out,
            name,
            "1 when the target is up, 0 when it is down or not known yet.",
            &|row| u64::from(row.figures.up),
        );
    }
    let name = names.reload_successful;
    header(
        out,
        name,
        "gauge",
        "1 when the last configuration (re)load succeeded, 0 when it failed.",
        openmetrics,
    );
    let _ = writeln!(out, "{name} {}", u8::from(process.reload_successful));
    let name = names.reload_at;
    header(
        out,
        name,
        "gauge",
        "Unix time of the last successful configuration (re)load, in seconds.",
        openmetrics,
    );
    let at = decimal_seconds(process.reload_at_ms * 1_000_000);
    let _ = writeln!(out, "{name} {at}");
    if let Some(name) = names.settled {
        header(
            out,
            name,
            "counter",
            "Probes settled (answered, timed out or failed), all targets together.",
            openmetrics,
        );
        let _ = writeln!(out, "{name}_total {}", process.settled);
    }
    if openmetrics {
        out.push_str("# EOF\n");
    }
    std::mem::take(out)
}

/// The HELP and TYPE lines of a family. OpenMetrics names a counter's family without its
/// `_total`; the classic format names it as its samples.
fn header(out: &mut String, name: &str, kind: &str, help: &str, openmetrics: bool) {
    let total = if kind == "counter" && !openmetrics {
        "_total"
    } else {
        ""
    };
    let _ = writeln!(out, "# HELP {name}{total} {help}");
    let _ = writeln!(out, "# TYPE {name}{total} {kind}");
}

/// The label pairs of a target, without braces: `host` as given, `ip` the address probed
/// ("" until known), and, with `all`, `source` and the group's labels.
fn labels(host: &str, figures: &Figures, all: bool) -> String {
    let mut text = String::new();
    let ip = figures.ip.map(|ip| ip.to_string()).unwrap_or_default();
    let _ = write!(text, "host=\"{}\",ip=\"{ip}\"", escape(host));
    if all {
        let _ = write!(text, ",source=\"{}\"", escape(&figures.labels.source));
        for (name, value) in figures.labels.extra.iter() {
            let _ = write!(text, ",{name}=\"{}\"", escape(value));
        }
    }
    text
}

/// A label value escaped as both formats ask: backslash, double quote, newline.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .into()
}

/// Nanoseconds as seconds the way Go's Prometheus client writes a bucket's bound
/// (`strconv.FormatFloat(v, 'g', -1, 64)`): in decimal, but with an exponent below
/// 0.0001 (`5e-05`). An `le` label is a label: written otherwise, the same bound is
/// another series, and smokeping_prober's dashboards and queries would miss ours.
fn go_seconds(ns: u64) -> String {
    if ns == 0 || ns >= 100_000 {
        return decimal_seconds(ns);
    }
    // ns = digits × 10^zeros; seconds = digits × 10^(zeros − 9).
    let zeros = trailing_zeros(ns);
    let digits = (ns / 10u64.pow(zeros)).to_string();
    let exponent = i64::from(zeros) - 9 + digits.len() as i64 - 1;
    let (first, rest) = digits.split_at(1);
    let mantissa = if rest.is_empty() {
        first.to_owned()
    } else {
        format!("{first}.{rest}")
    };
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

/// The count of `n`'s trailing decimal zeros.
fn trailing_zeros(mut n: u64) -> u32 {
    let mut zeros = 0;
    while n != 0 && n.is_multiple_of(10) {
        n /= 10;
        zeros += 1;
    }
    zeros
}

/// Nanoseconds as seconds in decimal, exactly (`407312` is `0.000407312`), without the
/// noise of a float sum.
pub fn decimal_seconds(ns: u64) -> String {
    let whole = ns / 1_000_000_000;
    let fraction = ns % 1_000_000_000;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:09}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}
