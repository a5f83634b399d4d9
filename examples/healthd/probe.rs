//! `/probe?target=HOST`: one probe when scraped, answered as blackbox_exporter's ICMP
//! prober answers (`probe_success`, `probe_duration_seconds`,
//! `probe_icmp_duration_seconds{phase}`, `probe_icmp_reply_hop_limit`, ...), for those who
//! configure Prometheus that way. The probe's timeout is the scrape's
//! (`X-Prometheus-Scrape-Timeout-Seconds`) less half a second, as blackbox_exporter takes
//! it, 5 s without one; at most [`PROBES_AT_ONCE`] probes run at once.

use std::fmt::Write;
use std::net::IpAddr;
use std::time::Duration;

use futures::StreamExt;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use icmplib::{Pinger, Resolver, SocketKind, WatchEvent, WatchOptions};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::app::{respond, text};
use crate::exposition::{TEXT, decimal_seconds};

/// Probes on scrape at once; more wait their turn.
pub const PROBES_AT_ONCE: usize = 16;

/// Runs the probes asked for by scrapes.
pub struct Prober {
    pinger: Pinger,
    resolver: Resolver,
    kind: SocketKind,
    turns: Semaphore,
}

/// What a probe found.
#[derive(Default)]
struct Outcome {
    resolve: Duration,
    setup: Duration,
    rtt: Option<Duration>,
    hop_limit: Option<u8>,
    address: Option<IpAddr>,
    total: Duration,
}

impl Prober {
    pub fn new(pinger: Pinger, resolver: Resolver, kind: SocketKind) -> Prober {
        Prober {
            pinger,
            resolver,
            kind,
            turns: Semaphore::new(PROBES_AT_ONCE),
        }
    }

    /// Answers `/probe?target=...`.
    pub async fn answer(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let query = request.uri().query().unwrap_or("");
        let Some(target) = parameter(query, "target") else {
            return text(
                StatusCode::BAD_REQUEST,
                "give a target: /probe?target=HOST\n",
            );
        };
        let target = match crate::config::canonical(&target) {
            Ok(target) => target,
            Err(error) => {
                return respond(StatusCode::BAD_REQUEST, TEXT, Bytes::from(error + "\n"));
            }
        };
        let timeout = request
            .headers()
            .get("x-prometheus-scrape-timeout-seconds")
            .and_then(|value| value.to_str().ok()?.parse::<f64>().ok())
            .filter(|scrape| scrape.is_finite())
            .and_then(|scrape| Duration::try_from_secs_f64((scrape - 0.5).clamp(0.1, 60.0)).ok())
            .unwrap_or(Duration::from_secs(5));
        let Ok(_turn) = self.turns.acquire().await else {
            return text(StatusCode::SERVICE_UNAVAILABLE, "stopping\n");
        };
        let outcome = self.probe(&target, timeout).await;
        respond(StatusCode::OK, TEXT, Bytes::from(encode(&outcome)))
    }

    /// One probe of `target`, within `timeout`.
    async fn probe(&self, target: &str, timeout: Duration) -> Outcome {
        let started = Instant::now();
        let mut outcome = Outcome::default();
        let address = match target.parse::<IpAddr>() {
            Ok(address) => Some(address),
            Err(_) => tokio::time::timeout(timeout, self.resolver.lookup(target, None))
                .await
                .ok()
                .and_then(Result::ok)
                .and_then(|addresses| addresses.first().copied()),
        };
        outcome.resolve = started.elapsed();
        outcome.address = address;
        let Some(address) = address else {
            outcome.total = started.elapsed();
            return outcome;
        };
        let options = WatchOptions::default()
            .socket_kind(self.kind)
            .timeout(timeout)
            .period(timeout + Duration::from_secs(1))
            .resolve_every(None);
        let set_up = Instant::now();
        if let Ok((handle, mut events)) = self.pinger.watch([address], &options) {
            outcome.setup = set_up.elapsed();
            let deadline = set_up + timeout + Duration::from_millis(100);
            while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.next()).await {
                match event {
                    WatchEvent::Reply { rtt, ttl, .. } => {
                        outcome.rtt = Some(Duration::from_secs_f64(rtt / 1e3));
                        outcome.hop_limit = ttl;
                        break;
                    }
                    WatchEvent::Timeout { .. } | WatchEvent::Error { .. } => break,
                    _ => {}
                }
            }
            handle.stop();
        }
        outcome.total = started.elapsed();
        outcome
    }
}

/// The value of `name` in a query string, percent-decoded.
fn parameter(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| decode(value))?
    })
}

/// `%XX` and `+` decoded; `None` for a broken escape or bytes that are not UTF-8.
fn decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.bytes();
    while let Some(byte) = rest.next() {
        match byte {
            b'%' => {
                let high = char::from(rest.next()?).to_digit(16)?;
                let low = char::from(rest.next()?).to_digit(16)?;
                bytes.push(u8::try_from(high * 16 + low).ok()?);
            }
            b'+' => bytes.push(b' '),
            byte => bytes.push(byte),
        }
    }
    String::from_utf8(bytes).ok()
}

/// The outcome as blackbox_exporter shows an ICMP probe's.
fn encode(outcome: &Outcome) -> String {
    let mut out = String::new();
    let gauge = |out: &mut String, name: &str, help: &str, samples: &[(&str, String)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let seconds = |duration: Duration| {
        decimal_seconds(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX))
    };
    gauge(
        &mut out,
        "probe_dns_lookup_time_seconds",
        "Time taken to look the target up, in seconds.",
        &[("", seconds(outcome.resolve))],
    );
    gauge(
        &mut out,
        "probe_duration_seconds",
        "How long the probe took, in seconds.",
        &[("", seconds(outcome.total))],
    );
    gauge(
        &mut out,
        "probe_icmp_duration_seconds",
        "Duration of the probe by phase, in seconds.",
        &[
            ("{phase=\"resolve\"}", seconds(outcome.resolve)),
            ("{phase=\"rtt\"}", seconds(outcome.rtt.unwrap_or_default())),
            ("{phase=\"setup\"}", seconds(outcome.setup)),
        ],
    );
    if let Some(hop_limit) = outcome.hop_limit {
        gauge(
            &mut out,
            "probe_icmp_reply_hop_limit",
            "Hop limit (TTL for IPv4) of the reply.",
            &[("", hop_limit.to_string())],
        );
    }
    if let Some(address) = outcome.address {
        gauge(
            &mut out,
            "probe_ip_addr_hash",
            "A hash of the address probed (FNV-1a of its bytes), to see when it changes.",
            &[("", fnv1a(&octets(address)).to_string())],
        );
        let protocol = if address.is_ipv4() { 4 } else { 6 };
        gauge(
            &mut out,
            "probe_ip_protocol",
            "Whether the probe went over IPv4 or IPv6.",
            &[("", protocol.to_string())],
        );
    }
    gauge(
        &mut out,
        "probe_success",
        "1 when the target answered, 0 otherwise.",
        &[("", u8::from(outcome.rtt.is_some()).to_string())],
    );
    out
}

/// The address's bytes: 4 for IPv4, 16 for IPv6.
fn octets(address: IpAddr) -> Vec<u8> {
    match address {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// 32-bit FNV-1a over the address's bytes, as blackbox_exporter hashes it (127.0.0.1 is
/// 3668918509 in both).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}
