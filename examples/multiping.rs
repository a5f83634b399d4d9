//! `multiping` with icmplib: many hosts at once, like `fping`.
//!
//! ```text
//! cargo run --release --example multiping -- [-c COUNT] [-i SECONDS] [-W SECONDS]
//!     [-C N] [-a|-u] [-q] [-s] [--concurrency N] [--rate PPS] [--sockets N]
//!     [--unprivileged] [-4|-6] [--json] [--summary] [-l [--period SECONDS]]
//!     TARGET... | -f FILE
//! ```
//!
//! A target is an address, a name or a CIDR block (its host addresses, as `fping -g`:
//! without the network and broadcast addresses of IPv4 blocks up to /30, without the
//! all-zeros address of IPv6 blocks up to /126). Blocks are expanded lazily.
//!
//! Output as fping's: without `-c`, `HOST is alive` / `HOST is unreachable` per host in
//! input order (`-a` only the alive names, `-u` only the others); with `-c N`, a line per
//! reply or timeout (`127.0.0.1 : [0], 64 bytes, 0.045 ms (0.045 avg, 0% loss)`, none
//! with `-q`) and at the end, on standard error, each host's
//! `127.0.0.1 : xmt/rcv/%loss = 1/1/0%, min/avg/max = 0.045/0.045/0.045`; `-C N` ends
//! with each probe's time instead (`127.0.0.1 : 0.045 0.050 -`); `-s` adds fping's
//! statistics on standard error. `--json`, a JSON array of hosts in input order;
//! `--summary`, only the final line
//! `summary: hosts=N alive=N down=N sent=N received=N elapsed_s=X.XXX`, computed from the
//! stream as hosts finish (nothing is held per host, so a /12 sweeps in flat memory).
//! Progress shows on standard error when it is a terminal, never in piped output. Exit
//! status: 0 all alive, 1 some down, 2 error (a bad block, a file without targets, no
//! socket). `--help` says where it differs from fping.
//!
//! `-l` / `--loop` is fping's loop mode (`fping -l -p`): every target probed every
//! `--period` seconds (default 1, the targets spread over it), a line per reply or timeout
//! as with `-c` (`--json`: one JSON object per line), until Ctrl-C or, with `-c`, that
//! many rounds; then the statistics, as fping's. Exit status 0 when every target
//! answered at least once.

mod common;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::iter::Peekable;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use icmplib::{
    Error, Family, Host, MultipingOptions, Pinger, WatchEvent, WatchOptions, multiping_stream,
};
use indicatif::{ProgressBar, ProgressStyle};
use ipnet::IpNet;

#[derive(Parser)]
#[command(
    about = "Ping many hosts at once",
    after_help = "Output as fping's (-a -u -q -s -c -C -l), except: without -c a host gets 2 \
requests, not fping's retries; with -c, -C or -l a request waits at most the period \
(-i, or --period with -l) for its reply, and names are padded only to the longest target \
given; -i is the pause between requests to a host (fping's -p), not between any two; \
blocks are given as CIDR (fping -g); --json, --summary, --concurrency, --rate, --sockets \
and --unprivileged are this example's own; -s counts ICMP errors as 'other ICMP received'."
)]
struct Args {
    /// Requests per host, a line per reply or timeout and fping's per-host statistics at
    /// the end on standard error [default: 2 requests and only `HOST is alive`; with -l,
    /// rounds: until Ctrl-C].
    #[arg(short = 'c', value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// As -c, but at the end each host's times on standard error (`HOST : 0.04 0.05 -`).
    #[arg(short = 'C', conflicts_with_all = ["count", "looping"], value_parser = clap::value_parser!(u64).range(1..))]
    report: Option<u64>,
    /// Show only the hosts that answered.
    #[arg(short = 'a', conflicts_with = "unreachable")]
    alive: bool,
    /// Show only the hosts that did not answer.
    #[arg(short = 'u')]
    unreachable: bool,
    /// Quiet: no line per reply or timeout, only the statistics at the end.
    #[arg(short = 'q')]
    quiet: bool,
    /// Print fping's final statistics on standard error.
    #[arg(short = 's')]
    stats: bool,
    /// Seconds between a reply (or timeout) and the next request to the same host; with
    /// -c or -C, between two requests to a host (fping's -p).
    #[arg(short = 'i', default_value = "0.5", value_parser = common::seconds)]
    interval: Duration,
    /// Seconds to wait for each reply.
    #[arg(short = 'W', default_value = "2", value_parser = common::positive_seconds)]
    timeout: Duration,
    /// Hosts in flight at once.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: u64,
    /// At most this many requests per second.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    rate: Option<u32>,
    /// Sockets per family to spread the sweep over, each with a task of its own (several
    /// cores; raw sockets on Linux only, each filtering the replies to its own identifier).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    sockets: u64,
    /// Use unprivileged datagram sockets.
    #[arg(long)]
    unprivileged: bool,
    /// Resolve names to IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    ipv4: bool,
    /// Resolve names to IPv6 only.
    #[arg(short = '6')]
    ipv6: bool,
    /// Print a JSON array of hosts, in input order.
    #[arg(long, conflicts_with_all = ["summary", "report", "alive", "unreachable", "quiet", "stats"])]
    json: bool,
    /// Print only a summary line.
    #[arg(long, conflicts_with_all = ["report", "alive", "unreachable", "quiet", "stats"])]
    summary: bool,
    /// Loop mode: probe every target every period, a line per reply or timeout.
    #[arg(short = 'l', long = "loop", conflicts_with_all = ["summary", "interval", "concurrency", "rate", "sockets"])]
    looping: bool,
    /// Seconds between two probes of a target in loop mode.
    #[arg(long, default_value = "1", value_parser = common::positive_seconds, requires = "looping")]
    period: Duration,
    /// Read targets from this file, one per line (# starts a comment).
    #[arg(short = 'f', conflicts_with = "targets")]
    file: Option<std::path::PathBuf>,
    /// Addresses, names or CIDR blocks.
    #[arg(required_unless_present = "file")]
    targets: Vec<String>,
}

type Targets = Box<dyn Iterator<Item = String> + Send>;

/// The host addresses of a CIDR block, lazily, as `fping -g` gives them: IPv4 blocks up to
/// /30 without their network and broadcast addresses (ipnet's `hosts`), IPv6 blocks up to
/// /126 without their all-zeros (subnet-router anycast) address.
fn block_hosts(block: &str) -> Result<Targets, String> {
    let net: IpNet = block
        .parse()
        .map_err(|error| format!("'{block}' is not a CIDR block: {error}"))?;
    let skip = matches!(net, IpNet::V6(v6) if v6.prefix_len() <= 126);
    Ok(Box::new(
        net.hosts()
            .skip(usize::from(skip))
            .map(|address| address.to_string()),
    ))
}

/// One target, or the hosts of a block; a bad block is an error.
fn expand(target: String) -> Result<Targets, String> {
    if target.contains('/') {
        block_hosts(&target)
    } else {
        Ok(Box::new(std::iter::once(target)))
    }
}

/// Every target of the command line or the file, lazily; blocks on the command line are
/// checked at once, those of a file as they are reached (a bad one ends the run).
fn targets(args: &Args, bad_block: Arc<Mutex<Option<String>>>) -> Result<Targets, String> {
    let lines: Targets = match &args.file {
        Some(path) => {
            let file = std::fs::File::open(path)
                .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
            Box::new(
                BufReader::new(file)
                    .lines()
                    .map_while(Result::ok)
                    .map(|line| line.split('#').next().unwrap_or("").trim().to_string())
                    .filter(|line| !line.is_empty()),
            )
        }
        None => {
            for target in &args.targets {
                expand(target.clone()).map(drop)?;
            }
            Box::new(args.targets.clone().into_iter())
        }
    };
    Ok(Box::new(
        lines
            .map_while(move |target| match expand(target) {
                Ok(hosts) => Some(hosts),
                Err(error) => {
                    *bad_block.lock().unwrap_or_else(|e| e.into_inner()) = Some(error);
                    None
                }
            })
            .flatten(),
    ))
}

/// At least one target, or an error naming where none came from.
fn not_empty(args: &Args, targets: Targets) -> Result<Peekable<Targets>, String> {
    let mut targets = targets.peekable();
    if targets.peek().is_none() {
        return Err(match &args.file {
            Some(path) => format!("no targets in {}", path.display()),
            None => "no targets".into(),
        });
    }
    Ok(targets)
}

/// Progress on standard error while it is a terminal; nothing otherwise.
struct Progress {
    started: Instant,
    bar: ProgressBar,
    alive: u64,
}

impl Progress {
    fn new() -> Progress {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(200));
            bar.set_message("0 alive");
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} {pos} hosts done, {msg} [{elapsed}]")
            {
                bar.set_style(style);
            }
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress {
            started: Instant::now(),
            bar,
            alive: 0,
        }
    }

    fn host(&mut self, host: &Host) {
        self.alive += u64::from(host.is_alive());
        if !self.bar.is_hidden() {
            self.bar.inc(1);
            self.bar.set_message(format!("{} alive", self.alive));
        }
    }

    /// Runs `print` with the progress line out of the way.
    fn print(&self, print: impl FnOnce()) {
        self.bar.suspend(print);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

async fn run(args: &Args) -> Result<bool, String> {
    let mut options = MultipingOptions::default()
        .count(args.count.unwrap_or(2) as usize)
        .interval(args.interval)
        .timeout(args.timeout)
        .concurrent_tasks(args.concurrency as usize)
        .sockets(args.sockets as usize);
    common::socket_kind(&mut options.probe, args.unprivileged);
    options.rate_limit = args.rate;
    options.probe.family = match (args.ipv4, args.ipv6) {
        (true, _) => Some(Family::V4),
        (_, true) => Some(Family::V6),
        _ => None,
    };
    let bad_block = Arc::default();
    let targets = not_empty(args, targets(args, Arc::clone(&bad_block))?)?;
    let rounds = args.count.or(args.report);
    if args.looping || (rounds.is_some() && !args.json && !args.summary) {
        let targets: Vec<String> = targets.collect();
        if let Some(error) = bad_block.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return Err(error);
        }
        return looping(args, targets, options.probe).await;
    }
    let mut progress = Progress::new();
    let mut failure = None;

    let all_alive = if args.summary {
        let (mut hosts, mut alive, mut sent, mut received) = (0u64, 0u64, 0u64, 0u64);
        let stream = multiping_stream(targets, &options).map_err(|error| error.to_string())?;
        let mut stream = std::pin::pin!(stream);
        while let Some(host) = stream.next().await {
            progress.host(&host);
            note_failure(&host, &mut failure);
            hosts += 1;
            alive += u64::from(host.is_alive());
            sent += host.packets_sent() as u64;
            received += host.packets_received() as u64;
        }
        progress.finish();
        if failure.is_none() {
            println!(
                "summary: hosts={hosts} alive={alive} down={} sent={sent} received={received} elapsed_s={:.3}",
                hosts - alive,
                progress.started.elapsed().as_secs_f64()
            );
        }
        alive == hosts
    } else {
        in_input_order(args, targets, &options, &mut progress, &mut failure).await?
    };
    if let Some(error) = failure {
        return Err(error.to_string());
    }
    if let Some(error) = bad_block.lock().unwrap_or_else(|e| e.into_inner()).take() {
        return Err(error);
    }
    Ok(all_alive)
}

/// Prints every host, or a JSON array of them, in input order: remembers which positions
/// each target was fed at, and prints hosts as soon as all the ones before them are done.
/// True when all were alive.
async fn in_input_order(
    args: &Args,
    targets: Peekable<Targets>,
    options: &MultipingOptions,
    progress: &mut Progress,
    failure: &mut Option<Error>,
) -> Result<bool, String> {
    let positions: Arc<Mutex<HashMap<String, VecDeque<u64>>>> = Arc::default();
    let fed = {
        let positions = Arc::clone(&positions);
        targets.enumerate().map(move |(index, target)| {
            let mut positions = positions.lock().unwrap_or_else(|e| e.into_inner());
            positions
                .entry(target.clone())
                .or_default()
                .push_back(index as u64);
            target
        })
    };
    let stream = multiping_stream(fed, options).map_err(|error| error.to_string())?;
    let mut stream = std::pin::pin!(stream);
    let (mut waiting, mut next) = (BTreeMap::new(), 0u64);
    let mut all_alive = true;
    let mut stats = Stats::default();
    let mut out = std::io::stdout().lock();
    if args.json {
        let _ = write!(out, "[");
    }
    while let Some(host) = stream.next().await {
        progress.host(&host);
        all_alive &= host.is_alive();
        note_failure(&host, failure);
        let index = {
            let mut positions = positions.lock().unwrap_or_else(|e| e.into_inner());
            let queue = positions.get_mut(host.target());
            let index = queue.as_ref().and_then(|queue| queue.front().copied());
            if let Some(queue) = queue {
                queue.pop_front();
                if queue.is_empty() {
                    positions.remove(host.target());
                }
            }
            index
        };
        waiting.insert(index.unwrap_or(next), host);
        while let Some(host) = waiting.remove(&next) {
            let line = if args.json {
                let separator = if next == 0 { "\n" } else { ",\n" };
                let json = serde_json::to_string(&host).map_err(|error| error.to_string())?;
                format!("{separator}{json}")
            } else {
                stats.host(&host);
                // fping's lines: `HOST is alive`, or only the names with -a / -u.
                let alive = host.is_alive();
                let shown = host.target();
                if args.quiet || (args.alive && !alive) || (args.unreachable && alive) {
                    String::new()
                } else if args.alive || args.unreachable {
                    format!("{shown}\n")
                } else if alive {
                    format!("{shown} is alive\n")
                } else {
                    format!("{shown} is unreachable\n")
                }
            };
            progress.print(|| {
                let _ = write!(out, "{line}");
            });
            next += 1;
        }
    }
    if args.json {
        let _ = writeln!(out, "{}]", if next == 0 { "" } else { "\n" });
    }
    progress.finish();
    let _ = out.flush();
    if args.stats {
        stats.print(progress.started.elapsed());
    }
    Ok(all_alive)
}

/// fping's figures for `-s`, on standard error at the end.
#[derive(Default)]
struct Stats {
    targets: u64,
    alive: u64,
    unknown: u64,
    sent: u64,
    received: u64,
    other_icmp: u64,
    min: Option<f64>,
    max: f64,
    sum: f64,
}

impl Stats {
    fn host(&mut self, host: &Host) {
        self.targets += 1;
        self.alive += u64::from(host.is_alive());
        if matches!(host.error(), Some(Error::NameLookup { .. })) {
            self.unknown += 1;
        }
        if is_icmp(host.error()) {
            self.other_icmp += 1;
        }
        self.sent += host.packets_sent() as u64;
        host.rtts().iter().for_each(|rtt| self.rtt(*rtt));
    }

    fn rtt(&mut self, rtt: f64) {
        self.received += 1;
        self.min = Some(self.min.map_or(rtt, |min| min.min(rtt)));
        self.max = self.max.max(rtt);
        self.sum += rtt;
    }

    /// fping's block, as `fping -s` writes it.
    fn print(&self, elapsed: Duration) {
        let avg = if self.received == 0 {
            0.0
        } else {
            self.sum / self.received as f64
        };
        let timeouts = self.sent.saturating_sub(self.received + self.other_icmp);
        let mut text = String::from("\n");
        for (count, what) in [
            (self.targets, "targets"),
            (self.alive, "alive"),
            (self.targets - self.alive, "unreachable"),
            (self.unknown, "unknown addresses"),
        ] {
            text.push_str(&format!(" {count:7} {what}\n"));
        }
        text.push('\n');
        for (count, what) in [
            (timeouts, "timeouts (waiting for response)"),
            (self.sent, "ICMP Echos sent"),
            (self.received, "ICMP Echo Replies received"),
            (self.other_icmp, "other ICMP received"),
        ] {
            text.push_str(&format!(" {count:7} {what}\n"));
        }
        text.push('\n');
        for (time, what) in [
            (self.min.unwrap_or(0.0), "min"),
            (avg, "avg"),
            (self.max, "max"),
        ] {
            text.push_str(&format!(
                " {} ms ({what} round trip time)\n",
                common::fping_ms(time)
            ));
        }
        text.push_str(&format!(
            " {:12.3} sec (elapsed real time)\n\n",
            elapsed.as_secs_f64()
        ));
        eprint!("{text}");
    }
}

/// True for an ICMP error from a router or the host (fping's "other ICMP received").
fn is_icmp(error: Option<&Error>) -> bool {
    matches!(
        error,
        Some(
            Error::DestinationUnreachable { .. }
                | Error::TimeExceeded { .. }
                | Error::PacketTooBig { .. }
                | Error::Icmp { .. }
        )
    )
}

/// One target's probes in loop mode: each one's round trip, `None` when lost.
#[derive(Default)]
struct Tally {
    probes: Vec<Option<f64>>,
}

impl Tally {
    fn replies(&self) -> impl Iterator<Item = f64> + '_ {
        self.probes.iter().flatten().copied()
    }

    fn received(&self) -> u64 {
        self.replies().count() as u64
    }

    /// The average as fping prints it after a probe: `NaN` before any reply.
    fn avg(&self) -> String {
        match self.received() {
            0 => "NaN".into(),
            received => common::fping_ms(self.replies().sum::<f64>() / received as f64),
        }
    }

    fn loss(&self) -> u64 {
        let sent = self.probes.len() as u64;
        (sent - self.received()) * 100 / sent.max(1)
    }

    /// fping -c's line for the target: `xmt/rcv/%loss = 2/2/0%, min/avg/max = ...`.
    fn summary(&self) -> String {
        let (sent, received) = (self.probes.len(), self.received());
        let mut line = format!("xmt/rcv/%loss = {sent}/{received}/{}%", self.loss());
        if received > 0 {
            let min = self.replies().fold(f64::INFINITY, f64::min);
            let max = self.replies().fold(0.0, f64::max);
            line.push_str(&format!(
                ", min/avg/max = {}/{}/{}",
                common::fping_ms(min),
                self.avg(),
                common::fping_ms(max)
            ));
        }
        line
    }

    /// fping -C's line for the target: each probe's time, `-` where lost.
    fn times(&self) -> String {
        let times: Vec<String> = self
            .probes
            .iter()
            .map(|rtt| rtt.map_or_else(|| "-".to_string(), common::fping_ms))
            .collect();
        times.join(" ")
    }
}

/// fping's -c, -C and loop mode on a watch: a line per reply or timeout until Ctrl-C or
/// the rounds are done, then each target's statistics on standard error. True when every
/// target answered at least once.
async fn looping(
    args: &Args,
    targets: Vec<String>,
    mut probe: icmplib::ProbeOptions,
) -> Result<bool, String> {
    let period = if args.looping {
        args.period
    } else {
        args.interval.max(Duration::from_millis(1))
    };
    // A request waits at most the period, as fping's timeout stays below its period: each
    // request then ends before the next one to the host, and the lines number them right.
    probe.timeout = probe.timeout.min(period);
    let request_size = probe.payload_size + 8;
    let options = WatchOptions::from(probe).period(period);
    let started = Instant::now();
    let (handle, mut events) = Pinger::new()
        .watch(targets.clone(), &options)
        .map_err(|error| error.to_string())?;
    let mut tallies: HashMap<String, Tally> = targets
        .iter()
        .map(|t| (t.clone(), Tally::default()))
        .collect();
    // fping pads the names to the longest.
    let width = targets.iter().map(String::len).max().unwrap_or(0);
    let rounds = args.count.or(args.report);
    // -q, and -a / -u with -c or -C, leave out the per-probe lines, as fping does.
    let per_probe = !args.quiet && (args.looping || !(args.alive || args.unreachable));
    let mut stats = Stats::default();
    let mut done = 0;
    let mut out = std::io::stdout().lock();
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let event = tokio::select! {
            event = events.next() => event,
            _ = &mut interrupted => {
                handle.stop();
                None
            }
        };
        let Some(event) = event else { break };
        let (target, address, rtt, bytes, ttl, error) = match &event {
            WatchEvent::Reply {
                target,
                address,
                rtt,
                bytes,
                ttl,
                ..
            } => (target, Some(*address), Some(*rtt), *bytes, *ttl, None),
            WatchEvent::Timeout { target, address } => {
                (target, Some(*address), None, 0, None, None)
            }
            WatchEvent::Error {
                target,
                address,
                error,
            } => {
                if error.fails_the_call() {
                    handle.stop();
                    return Err(error.to_string());
                }
                (target, *address, None, 0, None, Some(error.clone()))
            }
            _ => continue,
        };
        let target: &str = target;
        let Some(tally) = tallies.get_mut(target) else {
            continue;
        };
        // A target's rounds are over (a probe still in flight may settle).
        if rounds.is_some_and(|rounds| tally.probes.len() as u64 >= rounds) {
            continue;
        }
        let seq = tally.probes.len();
        tally.probes.push(rtt);
        stats.sent += 1;
        match (rtt, &error) {
            (Some(rtt), _) => stats.rtt(rtt),
            (None, Some(error)) if is_icmp(Some(error)) => stats.other_icmp += 1,
            _ => {}
        }
        if args.json {
            let kind = match (&rtt, &error) {
                (Some(_), _) => "reply",
                (None, Some(_)) => "error",
                _ => "timeout",
            };
            let line = serde_json::json!({
                "target": target, "address": address.map(|a| a.to_string()), "seq": seq,
                "event": kind, "rtt_ms": rtt, "bytes": (bytes > 0).then_some(bytes), "ttl": ttl,
                "error": error.as_ref().map(Error::to_string),
            });
            let _ = writeln!(out, "{line}");
        } else if let Some(error) = &error {
            // fping tells an ICMP error on standard error.
            let to = address.map_or_else(|| target.to_string(), |a| a.to_string());
            match (error.code_message(), error) {
                (
                    Some(message),
                    Error::DestinationUnreachable { source, .. }
                    | Error::TimeExceeded { source, .. },
                ) => eprintln!("ICMP {message} from {source} for ICMP Echo sent to {to}"),
                _ => eprintln!("{target}: {error}"),
            }
        } else if per_probe {
            let what = match (rtt, address) {
                (Some(rtt), Some(address)) => format!(
                    "{} bytes, {} ms",
                    common::icmp_size(address, bytes, request_size),
                    common::fping_ms(rtt)
                ),
                _ => "timed out".into(),
            };
            let _ = writeln!(
                out,
                "{target:width$} : [{seq}], {what} ({} avg, {}% loss)",
                tally.avg(),
                tally.loss()
            );
        }
        if let Some(rounds) = rounds
            && tally.probes.len() as u64 == rounds
        {
            handle.remove(target);
            done += 1;
            if done == tallies.len() {
                handle.stop();
            }
        }
    }
    let _ = out.flush();
    drop(out);
    if !args.json {
        // fping's statistics, on standard error in input order: after a blank line when
        // there were per-probe lines.
        let mut text = String::new();
        if per_probe {
            text.push('\n');
        }
        for target in &targets {
            let Some(tally) = tallies.get(target) else {
                continue;
            };
            let figures = if args.report.is_some() {
                tally.times()
            } else {
                tally.summary()
            };
            text.push_str(&format!("{target:width$} : {figures}\n"));
        }
        eprint!("{text}");
        if args.stats {
            stats.targets = targets.len() as u64;
            stats.alive = tallies
                .values()
                .filter(|tally| tally.received() > 0)
                .count() as u64;
            stats.print(started.elapsed());
        }
    }
    Ok(tallies.values().all(|tally| tally.received() > 0))
}

/// Keeps the first error of `host` that is about this process rather than the host (no
/// socket for its family: permission, file descriptors): the run then fails as a whole.
fn note_failure(host: &icmplib::Host, failure: &mut Option<Error>) {
    if failure.is_none()
        && let Some(error) = host.error().filter(|error| error.fails_the_call())
    {
        *failure = Some(error.clone());
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Built by hand rather than with `#[tokio::main]`, so that a runtime that cannot start
    // (no file descriptor left) is an error message and exit status 2, not a panic.
    let runtime = match common::runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("multiping: cannot start the tokio runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("multiping: {error}");
            ExitCode::from(2)
        }
    }
}
