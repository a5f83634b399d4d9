//! `multiping` with icmplib: many hosts at once, like `fping`.
//!
//! ```text
//! cargo run --release --example multiping -- [-c COUNT] [-i SECONDS] [-W SECONDS]
//!     [--concurrency N] [--rate PPS] [--unprivileged] [-4|-6] [--json] [--summary]
//!     TARGET... | -f FILE
//! ```
//!
//! A target is an address, a name or a CIDR block (its host addresses, as `fping -g`:
//! without the network and broadcast addresses of IPv4 blocks up to /30, without the
//! all-zeros address of IPv6 blocks up to /126). Blocks are expanded lazily.
//!
//! Output: one line per host in input order; `--json`, a JSON array of hosts in input
//! order; `--summary`, only the final line
//! `summary: hosts=N alive=N down=N sent=N received=N elapsed_s=X.XXX`, computed from the
//! stream as hosts finish (nothing is held per host, so a /12 sweeps in flat memory).
//! Progress goes to standard error. Exit status: 0 all alive, 1 some down, 2 error.

mod common;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use icmplib::{Error, Family, Host, MultipingOptions, multiping_stream};

#[derive(Parser)]
#[command(about = "Ping many hosts at once")]
struct Args {
    /// Requests per host.
    #[arg(short = 'c', default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,
    /// Seconds between a reply (or timeout) and the next request to the same host.
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
    #[arg(long, conflicts_with = "summary")]
    json: bool,
    /// Print only a summary line.
    #[arg(long)]
    summary: bool,
    /// Read targets from this file, one per line (# starts a comment).
    #[arg(short = 'f', conflicts_with = "targets")]
    file: Option<std::path::PathBuf>,
    /// Addresses, names or CIDR blocks.
    #[arg(required_unless_present = "file")]
    targets: Vec<String>,
}

/// The host addresses of a CIDR block, lazily.
fn block_hosts(block: &str) -> Result<Box<dyn Iterator<Item = String> + Send>, String> {
    let (address, prefix) = block.split_once('/').ok_or("not a block")?;
    let address: IpAddr = address
        .parse()
        .map_err(|_| format!("'{block}': bad address"))?;
    let prefix: u32 = prefix
        .parse()
        .map_err(|_| format!("'{block}': bad prefix length"))?;
    let bits = if address.is_ipv4() { 32 } else { 128 };
    if prefix > bits {
        return Err(format!("'{block}': prefix longer than {bits} bits"));
    }
    let value = match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    };
    let host_bits = bits - prefix;
    let size_mask = if host_bits == 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    let network = value & !size_mask;
    let last = network | size_mask;
    // Like fping -g: IPv4 blocks up to /30 lose their network and broadcast addresses,
    // IPv6 blocks up to /126 their all-zeros (subnet-router anycast) address.
    let (first, last) = match (address, host_bits) {
        (IpAddr::V4(_), 2..) => (network + 1, last - 1),
        (IpAddr::V6(_), 2..) => (network + 1, last),
        _ => (network, last),
    };
    let v4 = address.is_ipv4();
    Ok(Box::new((first..=last).map(move |value| {
        if v4 {
            std::net::Ipv4Addr::from(value as u32).to_string()
        } else {
            std::net::Ipv6Addr::from(value).to_string()
        }
    })))
}

/// One target, or the hosts of a block.
fn expand(target: String) -> Box<dyn Iterator<Item = String> + Send> {
    if target.contains('/') {
        match block_hosts(&target) {
            Ok(hosts) => hosts,
            // Not a block: let the library say why it is not a target.
            Err(_) => Box::new(std::iter::once(target)),
        }
    } else {
        Box::new(std::iter::once(target))
    }
}

/// Every target of the command line or the file, lazily.
fn targets(args: &Args) -> std::io::Result<Box<dyn Iterator<Item = String> + Send>> {
    for target in &args.targets {
        if target.contains('/') {
            block_hosts(target)
                .map(drop)
                .map_err(std::io::Error::other)?;
        }
    }
    Ok(match &args.file {
        Some(path) => {
            let lines = BufReader::new(std::fs::File::open(path)?).lines();
            Box::new(
                lines
                    .map_while(Result::ok)
                    .map(|line| line.split('#').next().unwrap_or("").trim().to_string())
                    .filter(|line| !line.is_empty())
                    .flat_map(expand),
            )
        }
        None => Box::new(args.targets.clone().into_iter().flat_map(expand)),
    })
}

/// Progress on standard error, at most once a second.
struct Progress {
    started: Instant,
    shown: Instant,
    done: u64,
    alive: u64,
}

impl Progress {
    fn new() -> Progress {
        let now = Instant::now();
        Progress {
            started: now,
            shown: now,
            done: 0,
            alive: 0,
        }
    }

    fn host(&mut self, host: &Host) {
        self.done += 1;
        self.alive += u64::from(host.is_alive());
        if self.shown.elapsed() >= Duration::from_secs(1) {
            self.shown = Instant::now();
            eprint!(
                "\r{} hosts done, {} alive, {:.0} s",
                self.done,
                self.alive,
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    fn finish(&self) {
        if self.shown != self.started {
            eprintln!();
        }
    }
}

async fn run(args: &Args) -> Result<bool, Error> {
    let mut options = MultipingOptions::default()
        .count(args.count as usize)
        .interval(args.interval)
        .timeout(args.timeout)
        .concurrent_tasks(args.concurrency as usize)
        .privileged(!args.unprivileged);
    options.rate_limit = args.rate;
    options.probe.family = match (args.ipv4, args.ipv6) {
        (true, _) => Some(Family::V4),
        (_, true) => Some(Family::V6),
        _ => None,
    };
    let targets = targets(args)?;
    let mut progress = Progress::new();

    if args.summary {
        let (mut hosts, mut alive, mut sent, mut received) = (0u64, 0u64, 0u64, 0u64);
        let mut stream = std::pin::pin!(multiping_stream(targets, &options)?);
        let mut failure = None;
        while let Some(host) = stream.next().await {
            progress.host(&host);
            note_failure(&host, &mut failure);
            hosts += 1;
            alive += u64::from(host.is_alive());
            sent += host.packets_sent() as u64;
            received += host.packets_received() as u64;
        }
        progress.finish();
        if let Some(error) = failure {
            return Err(error);
        }
        println!(
            "summary: hosts={hosts} alive={alive} down={} sent={sent} received={received} elapsed_s={:.3}",
            hosts - alive,
            progress.started.elapsed().as_secs_f64()
        );
        return Ok(alive == hosts);
    }

    // Input order: remember which positions each target was fed at, and print hosts as
    // soon as all the ones before them are done.
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
    let mut stream = std::pin::pin!(multiping_stream(fed, &options)?);
    let (mut waiting, mut next) = (BTreeMap::new(), 0u64);
    let mut all_alive = true;
    let mut failure = None;
    let mut out = std::io::stdout().lock();
    if args.json {
        let _ = write!(out, "[");
    }
    while let Some(host) = stream.next().await {
        progress.host(&host);
        all_alive &= host.is_alive();
        note_failure(&host, &mut failure);
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
            if args.json {
                let separator = if next == 0 { "\n" } else { ",\n" };
                let _ = write!(out, "{separator}{}", common::host_json(&host));
            } else {
                let _ = writeln!(out, "{host}");
            }
            next += 1;
        }
    }
    if args.json {
        let _ = writeln!(out, "{}]", if next == 0 { "" } else { "\n" });
    }
    progress.finish();
    match failure {
        Some(error) => Err(error),
        None => Ok(all_alive),
    }
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
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
