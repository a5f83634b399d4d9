//! `healthd`: a health-check daemon on icmplib's watch, to run in place of
//! smokeping_prober or blackbox_exporter's ICMP probe. It probes its targets without end
//! and serves their state over HTTP:
//!
//! - `/metrics`: Prometheus metrics (the classic text format, OpenMetrics when asked);
//! - `/status`: each target's state and recent statistics as JSON (times in seconds);
//! - `/probe?target=HOST`: one probe on scrape, as blackbox_exporter answers it;
//! - `/`: the list of these.
//!
//! ```text
//! cargo run --release --example healthd -- [--config FILE] [--listen ADDRESS:PORT]
//!     [--period SECONDS] [--metrics native|smokeping] [--max-connections N]
//!     [--unprivileged] [TARGET...]
//! cargo install --path . --example healthd     # then: healthd --config /etc/healthd.json
//! ```
//!
//! Targets come from the command line (probed with the defaults) and from the config
//! file, a JSON object whose fields are all optional (an unknown one is an error). Groups
//! of targets have their own options and labels (periods and timeouts in seconds, `size`
//! the payload in bytes):
//!
//! ```json
//! {
//!   "listen": "127.0.0.1:9867",
//!   "metrics": "native",
//!   "privileged": true,
//!   "max_connections": 256,
//!   "name_servers": ["192.0.2.53:53"],
//!   "groups": [
//!     { "hosts": ["192.0.2.1", "gateway.example"], "labels": { "site": "par1" } },
//!     { "hosts": ["2001:db8::1"], "period": 0.5, "timeout": 0.4, "size": 56, "tos": 184,
//!       "ttl": 64, "source": "2001:db8::10", "up_after": 1, "down_after": 3, "window": 100 }
//!   ]
//! }
//! ```
//!
//! Checked before anything runs (exit 2 with the reason): a target that is neither an
//! address nor a host name (`300.1.1.1` is neither: a name's last label is never all
//! digits), a period below 10 ms, a label that is not a Prometheus label name or is one
//! of healthd's own. A target given twice (`::1` and `0:0::1` too) is probed once, in its
//! first group. A name that does not resolve is said once, until it answers again.
//!
//! SIGHUP reads the config file again: targets kept keep their counters, groups whose
//! options did not change keep their watch (through its `replace`). A bad file keeps the
//! old config, says why, and sets `healthd_config_last_reload_successful` to 0; `listen`,
//! `metrics`, `privileged`, `max_connections` and `name_servers` (the system's when
//! absent) take effect at the next start. SIGTERM
//! or Ctrl-C stops it within 2 s, whatever its HTTP clients do (exit 0).
//!
//! Metrics (`--metrics native`, the default), each target's series there from the start,
//! at 0, labelled `host` (as given), `ip` (the address probed, "" until a name resolves),
//! `source` (the group's source address, "" when none) and the group's labels:
//! `icmp_requests_total`, `icmp_response_duration_seconds` (a histogram with
//! smokeping_prober's buckets, 50 µs × 2ⁿ up to 26.2 s), `icmp_response_ttl`,
//! `icmp_response_duplicates_total`, `icmp_timeouts_total`, `icmp_send_errors_total`,
//! `icmp_error_replies_total`, `icmp_up`; a request counts once its outcome is known, so
//! that requests = replies + timeouts + send errors + error replies; and, for the daemon,
//! `healthd_probes_settled_total` and `healthd_config_last_reload_successful`. `--metrics smokeping`
//! shows exactly smokeping_prober 0.6's names and labels (`smokeping_requests_total`,
//! `smokeping_response_duration_seconds`, `smokeping_response_ttl`,
//! `smokeping_response_duplicates_total`, labels `host` and `ip`), so that its
//! dashboards and alerts work unchanged.
//!
//! The HTTP server listens on loopback (127.0.0.1:9867) unless told otherwise. A client
//! has 5 s to send a request's head (and the next one, on a kept-alive connection); a
//! response left unread for 10 s is cut; beyond `max_connections` the oldest connection
//! is closed. `examples/healthd/healthd.service` runs it under systemd.

#[path = "../common/mod.rs"]
mod common;

mod app;
mod config;
mod exposition;
mod http;
mod metrics;
mod probe;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Parser;
use futures::StreamExt;
use icmplib::{Pinger, Resolver, Watch, WatchHandle};
use tokio::sync::watch;

use app::App;
use config::{Args, Group, Setup};
use metrics::{Board, Cell, Entry, Labels};
use probe::Prober;

/// A group's watch, running.
struct Running {
    group: Group,
    handle: WatchHandle,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let setup = match config::setup(&args) {
        Ok(setup) => setup,
        Err(message) => {
            eprintln!("healthd: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match common::runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("healthd: {error}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(run(args, setup));
    // Whatever still runs (an encoding of the metrics on a blocking thread) is not waited
    // for long.
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

async fn run(args: Args, setup: Setup) -> ExitCode {
    let resolver = if setup.name_servers.is_empty() {
        Resolver::system()
    } else {
        Resolver::with_name_servers(&setup.name_servers)
    };
    let resolver = match resolver {
        Ok(resolver) => resolver,
        Err(error) => {
            eprintln!("healthd: no resolver: {error}");
            return ExitCode::from(2);
        }
    };
    let pinger = Pinger::builder()
        .socket_kind(setup.kind)
        .resolver(resolver.clone())
        .build();
    let mut running = Vec::new();
    let mut watches = Vec::new();
    for group in &setup.groups {
        match start(&pinger, group) {
            Ok((run, watch)) => {
                running.push(run);
                watches.push(watch);
            }
            Err(error) => {
                eprintln!("healthd: {error}");
                return ExitCode::from(2);
            }
        }
    }
    let listener = match tokio::net::TcpListener::bind(setup.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("healthd: cannot listen on {}: {error}", setup.listen);
            return ExitCode::from(2);
        }
    };
    let app = Arc::new(App::new(
        setup.style,
        board(&running, None),
        Prober::new(pinger.clone(), resolver, setup.kind),
    ));
    for watch in watches {
        tokio::spawn(record(Arc::clone(&app), watch));
    }
    let targets: usize = setup.groups.iter().map(|group| group.hosts.len()).sum();
    eprintln!(
        "healthd: watching {targets} targets, serving http://{}/metrics, /status and /probe",
        setup.listen
    );
    let (stop, stopped) = watch::channel(false);
    let handler: http::Handler = {
        let app = Arc::clone(&app);
        Arc::new(move |request| Box::pin(Arc::clone(&app).handle(request)))
    };
    let server = tokio::spawn(http::serve(
        listener,
        handler,
        setup.max_connections,
        stopped,
    ));
    signals(&args, &setup, &pinger, &app, &mut running).await;
    let _ = stop.send(true);
    let _ = server.await;
    for run in &running {
        run.handle.stop();
    }
    eprintln!("healthd: stopped");
    ExitCode::SUCCESS
}

/// Starts a group's watch; its events are recorded once the board holds its targets.
fn start(pinger: &Pinger, group: &Group) -> icmplib::Result<(Running, Watch)> {
    let (handle, watch) = pinger.watch(group.hosts.iter().map(|host| &**host), &group.options)?;
    Ok((
        Running {
            group: group.clone(),
            handle,
        },
        watch,
    ))
}

/// Feeds a watch's events to the board of the moment.
async fn record(app: Arc<App>, mut events: Watch) {
    let (mut generation, mut board) = app.board();
    while let Some(event) = events.next().await {
        if app.generation() != generation {
            (generation, board) = app.board();
        }
        if board.record(&event) {
            app.settled.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The board of the groups running: the cells of `old` for the targets kept.
fn board(running: &[Running], old: Option<&Board>) -> Board {
    let mut board = Board::default();
    for run in running {
        let labels = Labels {
            source: Arc::clone(&run.group.source),
            extra: Arc::clone(&run.group.labels),
        };
        for host in &run.group.hosts {
            let cell = match old.and_then(|old| old.by_host.get(host)) {
                Some(kept) => {
                    kept.cell.relabel(labels.clone());
                    Arc::clone(&kept.cell)
                }
                None => Arc::new(Cell::new(Arc::clone(host), labels.clone())),
            };
            board.push(Entry {
                cell,
                handle: run.handle.clone(),
            });
        }
    }
    board
}

/// Waits for SIGTERM or Ctrl-C; reloads the config on each SIGHUP meanwhile.
async fn signals(
    args: &Args,
    setup: &Setup,
    pinger: &Pinger,
    app: &Arc<App>,
    running: &mut Vec<Running>,
) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut terminate), Ok(mut hangup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            eprintln!("healthd: cannot watch for signals: stop it with SIGKILL");
            return std::future::pending().await;
        };
        // Made once: a Ctrl-C during a reload is not lost.
        let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
        loop {
            tokio::select! {
                _ = &mut interrupt => return,
                _ = terminate.recv() => return,
                _ = hangup.recv() => reload(args, setup, pinger, app, running),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (args, setup, pinger, app, running);
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Reads the config again and applies it; a bad one changes nothing but the reload gauge.
fn reload(args: &Args, setup: &Setup, pinger: &Pinger, app: &Arc<App>, running: &mut Vec<Running>) {
    let new = match config::setup(args) {
        Ok(new) => new,
        Err(message) => {
            eprintln!("healthd: reload failed, the config in use stays: {message}");
            app.reloaded(None);
            return;
        }
    };
    if new.listen != setup.listen
        || new.style != setup.style
        || new.kind != setup.kind
        || new.max_connections != setup.max_connections
        || new.name_servers != setup.name_servers
    {
        eprintln!(
            "healthd: listen, metrics, privileged, max_connections and name_servers take \
             effect at the next start"
        );
    }
    // Each new group takes the watch of an old one that probes alike, else a watch of
    // its own (a failure to start one keeps the config in use: the watches started for
    // this reload stop with their streams, dropped).
    let mut taken = vec![false; running.len()];
    let mut plan = Vec::new();
    for group in new.groups {
        let same =
            (0..running.len()).find(|&at| !taken[at] && running[at].group.probes_like(&group));
        match same {
            Some(at) => {
                taken[at] = true;
                plan.push((group, Ok(at)));
            }
            None => match start(pinger, &group) {
                Ok(pair) => plan.push((group, Err(pair))),
                Err(error) => {
                    eprintln!("healthd: reload failed, the config in use stays: {error}");
                    app.reloaded(None);
                    return;
                }
            },
        }
    }
    let mut kept = Vec::new();
    let mut started = Vec::new();
    for (group, how) in plan {
        match how {
            Ok(at) => kept.push(Running {
                group,
                handle: running[at].handle.clone(),
            }),
            Err((run, watch)) => {
                kept.push(run);
                started.push(watch);
            }
        }
    }
    let (_, current) = app.board();
    app.reloaded(Some(board(&kept, Some(&current))));
    for run in &kept {
        run.handle
            .replace(run.group.hosts.iter().map(|host| &**host));
    }
    for (run, taken) in running.iter().zip(taken) {
        if !taken {
            run.handle.stop();
        }
    }
    for watch in started {
        tokio::spawn(record(Arc::clone(app), watch));
    }
    let targets: usize = kept.iter().map(|run| run.group.hosts.len()).sum();
    eprintln!("healthd: config reloaded, watching {targets} targets");
    *running = kept;
}
