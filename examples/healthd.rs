//! `healthd`: a health-check daemon on icmplib's watch. It probes its targets without end
//! and serves their state over HTTP: Prometheus metrics at `/metrics`, JSON at `/status`.
//!
//! ```text
//! cargo run --release --example healthd -- [--config FILE] [--listen ADDRESS:PORT]
//!     [--period SECONDS] [--unprivileged] [TARGET...]
//! ```
//!
//! Targets come from the command line (addresses or names, named after themselves) and
//! from the config file, a JSON object; every field is optional, and unknown fields are an
//! error:
//!
//! ```json
//! {
//!   "listen": "127.0.0.1:9100",
//!   "period_ms": 1000, "timeout_ms": 1000,
//!   "up_after": 1, "down_after": 3, "window": 100,
//!   "privileged": true,
//!   "targets": [{ "name": "gateway", "target": "192.0.2.1" }, { "target": "::1" }]
//! }
//! ```
//!
//! It listens on loopback (127.0.0.1:9100) unless told otherwise. A malformed config
//! file, target or option is an error at start (exit 2), never a half-running daemon.
//! SIGTERM or Ctrl-C stops it cleanly (exit 0).
//!
//! Metrics, per target (labels `name`, `target`): `icmp_up` (1, 0; absent until known),
//! `icmp_probes_sent_total`, `icmp_replies_total`, `icmp_duplicates_total`,
//! `icmp_rtt_seconds` (a histogram), `icmp_reply_ttl`.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use clap::Parser;
use futures::StreamExt;
use icmplib::{Pinger, SocketKind, WatchEvent, WatchHandle, WatchOptions};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde_json::json;

/// Where it listens unless told otherwise: loopback only.
const DEFAULT_LISTEN: &str = "127.0.0.1:9100";

#[derive(Parser)]
#[command(about = "A health-check daemon: ICMP probes, Prometheus metrics, JSON status")]
struct Args {
    /// A JSON config file (see the example's docs).
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// Address and port to serve /metrics and /status on [default: 127.0.0.1:9100].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Seconds between two probes of a target (overrides the config).
    #[arg(long, value_parser = common::positive_seconds)]
    period: Option<Duration>,
    /// Use unprivileged sockets (overrides the config).
    #[arg(long)]
    unprivileged: bool,
    /// Targets: addresses or names.
    targets: Vec<String>,
}

/// The config file.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    listen: Option<SocketAddr>,
    period_ms: Option<u64>,
    timeout_ms: Option<u64>,
    up_after: Option<u32>,
    down_after: Option<u32>,
    window: Option<usize>,
    privileged: Option<bool>,
    #[serde(default)]
    targets: Vec<TargetConfig>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetConfig {
    /// Shown in the metrics; the target itself when absent.
    name: Option<String>,
    target: String,
}

/// True for an IP address or a name that could be one (letters, digits, hyphens and dots,
/// labels of 1 to 63 characters).
fn is_target(text: &str) -> bool {
    if text.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = text.strip_suffix('.').unwrap_or(text);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// What the daemon runs: its options, its targets (name → target) and where it listens.
struct Plan {
    options: WatchOptions,
    targets: BTreeMap<String, String>,
    listen: SocketAddr,
}

fn plan(args: Args) -> Result<Plan, String> {
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            serde_json::from_str::<Config>(&text)
                .map_err(|error| format!("{} is not a valid config: {error}", path.display()))?
        }
        None => Config::default(),
    };
    let mut options = WatchOptions::default();
    if let Some(ms) = config.period_ms {
        options = options.period(Duration::from_millis(ms));
    }
    if let Some(ms) = config.timeout_ms {
        options = options.timeout(Duration::from_millis(ms));
    }
    if let Some(answers) = config.up_after {
        options = options.up_after(answers);
    }
    if let Some(losses) = config.down_after {
        options = options.down_after(losses);
    }
    if let Some(window) = config.window {
        options = options.window(window);
    }
    if let Some(period) = args.period {
        options = options.period(period);
    }
    // Raw sockets where allowed, else datagram ones, unless the config or the flag says.
    let kind = match (args.unprivileged, config.privileged) {
        (true, _) => SocketKind::Datagram,
        (false, Some(privileged)) => SocketKind::from_privileged(privileged),
        (false, None) => SocketKind::Auto,
    };
    options = options.socket_kind(kind);
    let mut targets = BTreeMap::new();
    let mut seen = HashSet::new();
    let configured = config.targets.into_iter().map(|target| {
        (
            target.name.unwrap_or_else(|| target.target.clone()),
            target.target,
        )
    });
    let given = args
        .targets
        .into_iter()
        .map(|target| (target.clone(), target));
    for (name, target) in configured.chain(given) {
        if !is_target(&target) {
            return Err(format!(
                "'{target}' is neither an IP address nor a host name"
            ));
        }
        if !seen.insert(target.clone()) {
            return Err(format!("'{target}' is given twice"));
        }
        if targets.insert(name.clone(), target).is_some() {
            return Err(format!("the name '{name}' is given twice"));
        }
    }
    if targets.is_empty() {
        return Err("no targets: give some on the command line or in --config".into());
    }
    let listen = args
        .listen
        .or(config.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("a valid default"));
    Ok(Plan {
        options,
        targets,
        listen,
    })
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Labels {
    name: String,
    target: String,
}

/// The metrics, fed by the watch's events.
struct Metrics {
    registry: Registry,
    up: Family<Labels, Gauge>,
    sent: Family<Labels, Counter>,
    replies: Family<Labels, Counter>,
    duplicates: Family<Labels, Counter>,
    rtt: Family<Labels, Histogram>,
    ttl: Family<Labels, Gauge>,
}

fn rtt_histogram() -> Histogram {
    // 100 µs to about 6.5 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::default();
        let up = Family::<Labels, Gauge>::default();
        let sent = Family::<Labels, Counter>::default();
        let replies = Family::<Labels, Counter>::default();
        let duplicates = Family::<Labels, Counter>::default();
        let rtt = Family::<Labels, Histogram>::new_with_constructor(rtt_histogram as fn() -> _);
        let ttl = Family::<Labels, Gauge>::default();
        registry.register(
            "icmp_up",
            "1 when the target is up, 0 when down",
            up.clone(),
        );
        registry.register("icmp_probes_sent", "Probes settled", sent.clone());
        registry.register("icmp_replies", "Probes answered", replies.clone());
        registry.register("icmp_duplicates", "Duplicate replies", duplicates.clone());
        registry.register("icmp_rtt_seconds", "Round-trip times", rtt.clone());
        registry.register("icmp_reply_ttl", "TTL of the last reply", ttl.clone());
        Metrics {
            registry,
            up,
            sent,
            replies,
            duplicates,
            rtt,
            ttl,
        }
    }

    fn record(&self, event: &WatchEvent, names: &BTreeMap<String, String>) {
        let labels = |target: &str| Labels {
            name: names
                .iter()
                .find(|(_, t)| t.as_str() == target)
                .map_or_else(|| target.to_owned(), |(name, _)| name.clone()),
            target: target.to_owned(),
        };
        match event {
            WatchEvent::Reply {
                target, rtt, ttl, ..
            } => {
                let labels = labels(target);
                self.sent.get_or_create(&labels).inc();
                self.replies.get_or_create(&labels).inc();
                self.rtt.get_or_create(&labels).observe(rtt / 1e3);
                if let Some(ttl) = ttl {
                    self.ttl.get_or_create(&labels).set(i64::from(*ttl));
                }
            }
            WatchEvent::Timeout { target, .. } | WatchEvent::Error { target, .. } => {
                self.sent.get_or_create(&labels(target)).inc();
            }
            WatchEvent::Duplicate { target, .. } => {
                self.duplicates.get_or_create(&labels(target)).inc();
            }
            WatchEvent::State { target, up, .. } => {
                self.up.get_or_create(&labels(target)).set(i64::from(*up));
            }
            _ => {}
        }
    }
}

/// What the HTTP handlers share.
struct Daemon {
    metrics: Mutex<Metrics>,
    handle: WatchHandle,
    targets: BTreeMap<String, String>,
}

async fn metrics(State(daemon): State<Arc<Daemon>>) -> impl IntoResponse {
    let mut text = String::new();
    let metrics = daemon.metrics.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &metrics.registry) {
        text = format!("# encoding failed: {error}\n");
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

async fn status(State(daemon): State<Arc<Daemon>>) -> Json<serde_json::Value> {
    let targets: Vec<_> = daemon
        .targets
        .iter()
        .map(|(name, target)| {
            let stats = daemon.handle.stats(target);
            json!({
                "name": name,
                "target": target,
                "up": daemon.handle.is_up(target),
                "sent": stats.as_ref().map(|s| s.sent()),
                "received": stats.as_ref().map(|s| s.received()),
                "duplicates": stats.as_ref().map(|s| s.duplicates()),
                "packet_loss": stats.as_ref().map(|s| s.packet_loss()),
                "min_rtt": stats.as_ref().map(|s| s.min_rtt()),
                "avg_rtt": stats.as_ref().map(|s| s.avg_rtt()),
                "max_rtt": stats.as_ref().map(|s| s.max_rtt()),
                "stddev": stats.as_ref().map(|s| s.stddev()),
                "p50": stats.as_ref().map(|s| s.median()),
                "p90": stats.as_ref().map(|s| s.percentile(90.0)),
                "p99": stats.as_ref().map(|s| s.percentile(99.0)),
            })
        })
        .collect();
    Json(json!({ "targets": targets }))
}

/// Resolves when SIGTERM or Ctrl-C arrives.
async fn shutdown() {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let plan = match plan(Args::parse()) {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("healthd: {message}");
            return ExitCode::from(2);
        }
    };
    let pinger = Pinger::builder()
        .socket_kind(plan.options.probe.socket_kind)
        .build();
    let (handle, mut events) = match pinger.watch(plan.targets.values().cloned(), &plan.options) {
        Ok(watch) => watch,
        Err(error) => {
            eprintln!("healthd: {error}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(plan.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("healthd: cannot listen on {}: {error}", plan.listen);
            return ExitCode::from(2);
        }
    };
    let daemon = Arc::new(Daemon {
        metrics: Mutex::new(Metrics::new()),
        handle: handle.clone(),
        targets: plan.targets.clone(),
    });
    eprintln!(
        "healthd: watching {} targets, serving http://{}/metrics and /status",
        plan.targets.len(),
        plan.listen
    );
    let recorder = {
        let daemon = Arc::clone(&daemon);
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                if let WatchEvent::Error { target, error, .. } = &event {
                    eprintln!("healthd: {target}: {error}");
                }
                let metrics = daemon.metrics.lock().unwrap_or_else(|e| e.into_inner());
                metrics.record(&event, &daemon.targets);
            }
        })
    };
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .with_state(daemon);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await;
    handle.stop();
    let _ = recorder.await;
    match served {
        Ok(()) => {
            eprintln!("healthd: stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("healthd: {error}");
            ExitCode::from(2)
        }
    }
}
