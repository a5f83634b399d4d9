//! What healthd answers over HTTP: `/` (the endpoints), `/metrics`, `/status`, `/probe`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use tokio::time::Instant;

use crate::config::Style;
use crate::exposition::{self, OPENMETRICS, Process, TEXT};
use crate::metrics::Board;
use crate::probe::Prober;

/// The daemon's state, as the handlers see it.
pub struct App {
    pub style: Style,
    /// The targets watched now; replaced whole on reload.
    board: RwLock<Arc<Board>>,
    /// Bumped with each new board, so that a recorder sees a change with one load.
    generation: AtomicU64,
    /// Probes settled (answered, timed out or failed), all targets together.
    pub settled: AtomicU64,
    process: Mutex<Process>,
    /// The last encoding of each format (classic, OpenMetrics) and when it ended: the
    /// scrapes that waited for an encoding take its result (8 scrapers at once cost
    /// one encoding, not eight).
    encoded: [tokio::sync::Mutex<Option<(Instant, Bytes)>>; 2],
    pub prober: Prober,
}

impl App {
    pub fn new(style: Style, board: Board, prober: Prober) -> App {
        App {
            style,
            board: RwLock::new(Arc::new(board)),
            generation: AtomicU64::new(0),
            settled: AtomicU64::new(0),
            process: Mutex::new(Process {
                reload_successful: true,
                reload_at_ms: unix_ms(),
                settled: 0,
            }),
            encoded: Default::default(),
            prober,
        }
    }

    /// The board now, and its generation.
    pub fn board(&self) -> (u64, Arc<Board>) {
        let board = self.board.read().unwrap_or_else(|e| e.into_inner());
        (self.generation.load(Ordering::Acquire), Arc::clone(&board))
    }

    /// The generation of the board now: a recorder compares it with its own.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A reload's outcome: its board when it succeeded.
    pub fn reloaded(&self, board: Option<Board>) {
        let mut process = self.process.lock().unwrap_or_else(|e| e.into_inner());
        process.reload_successful = board.is_some();
        if let Some(board) = board {
            *self.board.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(board);
            self.generation.fetch_add(1, Ordering::AcqRel);
            process.reload_at_ms = unix_ms();
        }
    }

    /// Answers `request`.
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<Full<Bytes>> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        }
        match request.uri().path() {
            "/" => text(StatusCode::OK, INDEX),
            "/metrics" => {
                let openmetrics = request
                    .headers()
                    .get(ACCEPT)
                    .and_then(|accept| accept.to_str().ok())
                    .is_some_and(exposition::wants_openmetrics);
                let body = self.metrics(openmetrics).await;
                let kind = if openmetrics { OPENMETRICS } else { TEXT };
                respond(StatusCode::OK, kind, body)
            }
            "/status" => {
                let app = Arc::clone(&self);
                match tokio::task::spawn_blocking(move || app.status()).await {
                    Ok(body) => respond(StatusCode::OK, "application/json", body),
                    Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "status failed\n"),
                }
            }
            "/probe" => self.prober.answer(&request).await,
            _ => text(
                StatusCode::NOT_FOUND,
                "not found: see / for the endpoints\n",
            ),
        }
    }

    /// The metrics in a format: encoded on a blocking thread (a large board takes tens
    /// of milliseconds, which the probing's threads must not wait for), or taken from an
    /// encoding that ended while this scrape waited for its turn.
    async fn metrics(&self, openmetrics: bool) -> Bytes {
        let asked = Instant::now();
        let mut encoded = self.encoded[usize::from(openmetrics)].lock().await;
        if let Some((ended, body)) = &*encoded
            && *ended >= asked
        {
            return body.clone();
        }
        let (_, board) = self.board();
        let process = {
            let process = self.process.lock().unwrap_or_else(|e| e.into_inner());
            Process {
                settled: self.settled.load(Ordering::Relaxed),
                ..*process
            }
        };
        let style = self.style;
        let body = tokio::task::spawn_blocking(move || {
            Bytes::from(exposition::encode(&board, &process, style, openmetrics))
        })
        .await
        .unwrap_or_else(|_| Bytes::from_static(b"# encoding failed\n"));
        *encoded = Some((Instant::now(), body.clone()));
        body
    }

    /// The state of each target as JSON, times in seconds as in the metrics.
    fn status(&self) -> Bytes {
        let (_, board) = self.board();
        let seconds = |ms: f64| ms / 1e3;
        let targets: Vec<_> = board
            .order
            .iter()
            .map(|entry| {
                let figures = entry.cell.figures();
                let stats = entry.handle.stats(&*entry.cell.host);
                let labels: serde_json::Map<_, _> = figures
                    .labels
                    .extra
                    .iter()
                    .map(|(name, value)| (name.clone(), json!(value)))
                    .collect();
                json!({
                    "host": &*entry.cell.host,
                    "ip": figures.ip,
                    "source": &*figures.labels.source,
                    "labels": labels,
                    "up": entry.handle.is_up(&*entry.cell.host),
                    "window": {
                        "sent": stats.as_ref().map(|s| s.sent()),
                        "received": stats.as_ref().map(|s| s.received()),
                        "duplicates": stats.as_ref().map(|s| s.duplicates()),
                        "packet_loss": stats.as_ref().map(|s| s.packet_loss()),
                        "rtt_min_seconds": stats.as_ref().and_then(|s| s.min_rtt()).map(seconds),
                        "rtt_avg_seconds": stats.as_ref().and_then(|s| s.avg_rtt()).map(seconds),
                        "rtt_max_seconds": stats.as_ref().and_then(|s| s.max_rtt()).map(seconds),
                        "rtt_stddev_seconds": stats.as_ref().and_then(|s| s.stddev()).map(seconds),
                        "rtt_p50_seconds": stats.as_ref().and_then(|s| s.median()).map(seconds),
                        "rtt_p90_seconds": stats.as_ref().and_then(|s| s.percentile(90.0)).map(seconds),
                        "rtt_p99_seconds": stats.as_ref().and_then(|s| s.percentile(99.0)).map(seconds),
                    },
                })
            })
            .collect();
        Bytes::from(json!({ "targets": targets }).to_string())
    }
}

/// What `/` shows.
const INDEX: &str = "healthd: ICMP health checks\n\n\
    /metrics             the targets' metrics (Prometheus text format; OpenMetrics when asked)\n\
    /status              the targets' state and recent statistics, as JSON\n\
    /probe?target=HOST   one probe now, in blackbox_exporter's style\n";

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// A response of `kind` with `body`.
pub fn respond(status: StatusCode, kind: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    response
}

/// A plain-text response.
pub fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    respond(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(body.as_bytes()),
    )
}
