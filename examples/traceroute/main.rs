//! `traceroute` with icmplib, privileged or not, one hop at a time or all at once; flags
//! and lines as `traceroute -I` (`-q -f -m -w -s -n`, `!H !N !P !X`, MPLS labels), and
//! mtr's continuous modes (`--report` with `-c` rounds, `--live`); `--help` says where
//! they differ.
//!
//! ```text
//! cargo run --release --example traceroute -- [-q PROBES] [-f FIRST_HOP] [-m MAX_HOPS]
//!     [-w SECONDS] [-i SECONDS] [-s ADDRESS|INTERFACE] [-n] [--fast] [--parallel] [--mtu]
//!     [--flows N] [--classic] [--report|--live] [-c ROUNDS] [--unprivileged] [-4|-6]
//!     [--json] HOST
//! ```
//!
//! Lines like traceroute's: every distance up to where the trace stopped, `* *` for one
//! where nobody answered, the routers' names (unless `-n`), MPLS labels as mtr shows them;
//! `--json`, a JSON array of the hops that answered. With `--mtu`, the path MTU too, like
//! `tracepath`: `pmtu N` after the router that reported it, and a last line with the path
//! MTU (on standard error with `--json`). `--report`: `-c` rounds (10), then mtr's report
//! table (`--json`: the last round's figures); `--live`: the table after every round,
//! redrawn in place on a terminal, one line per round otherwise (`--json`: a JSON object
//! per round), for `-c` rounds (600). Exit status: 0 when the host was reached, 1 when
//! not, 2 on error.

#[path = "../common/mod.rs"]
mod common;
mod report;

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use futures::StreamExt;
use icmplib::{
    Error, Family, Hop, PathMtu, PathMtuOptions, Pinger, ProbeOptions, RouteEvent, RouteRound,
    RouteWatchOptions, TracerouteOptions, async_resolve,
};

#[derive(Parser)]
#[command(
    about = "Print the route packets take to a host",
    after_help = "Lines as traceroute -I -e prints them, except: probes are always ICMP echo \
requests (traceroute's -I), 2 probes per hop by default rather than 3, MPLS labels are shown \
as mtr shows them ([MPLS: Lbl 100 TC 0 S 1 TTL 1]), -i is the pause between probes \
(traceroute's -z) or between rounds (mtr's -i), not an interface, and probes are flow-stable \
(one path through per-flow load balancers, as traceroute's Paris variant; --classic sends \
varying ones). --report and -c are mtr's -r and -c; --live is mtr's display, for -c rounds. \
--fast, --parallel, --mtu, --flows, --unprivileged and --json are this example's own."
)]
struct Args {
    /// Probes per hop (traceroute's -q).
    #[arg(short = 'q', default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    probes: u64,
    /// Rounds of --report (10) or --live (600) (mtr's -c).
    #[arg(short = 'c', value_parser = clap::value_parser!(u64).range(1..))]
    rounds: Option<u64>,
    /// Report mode (mtr's -r): -c rounds, then a table of each hop's loss and round trips.
    #[arg(short = 'r', long, conflicts_with_all = ["live", "fast", "parallel", "mtu"])]
    report: bool,
    /// Live mode (mtr's display): the table after every round, redrawn in place on a
    /// terminal, one line per round otherwise. -q does not apply (one probe per distance
    /// and flow each round).
    #[arg(short = 'l', long, conflicts_with_all = ["fast", "parallel", "mtu"])]
    live: bool,
    /// Trace this many flows at once and show which flows met each router: every path
    /// through a load balancer.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    flows: u16,
    /// Probes whose checksums vary, as classic traceroute sends them (a load balancer
    /// then mixes its legs at one distance).
    #[arg(long, conflicts_with = "flows")]
    classic: bool,
    /// TTL of the first probes.
    #[arg(short = 'f', default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..))]
    first_hop: u8,
    /// Largest TTL.
    #[arg(short = 'm', default_value_t = 30, value_parser = clap::value_parser!(u8).range(1..))]
    max_hops: u8,
    /// Seconds to wait for each answer (traceroute's -w; -W is kept as another name).
    #[arg(short = 'w', short_alias = 'W', default_value = "2", value_parser = common::positive_seconds)]
    timeout: Duration,
    /// Seconds between probes (traceroute's -z; default 0.05), or between rounds in
    /// --report and --live (mtr's -i; default 1).
    #[arg(short = 'i', value_parser = common::seconds)]
    interval: Option<Duration>,
    /// Source address, or the network interface to send by (traceroute's -s or -i; -I,
    /// ICMP probes for traceroute, is kept as another name: probes are always ICMP here).
    #[arg(short = 's', short_alias = 'I')]
    source: Option<String>,
    /// Print addresses only: do not look up the routers' names.
    #[arg(short = 'n')]
    numeric: bool,
    /// Go to the next hop as soon as one probe was answered.
    #[arg(long)]
    fast: bool,
    /// Probe every hop at once (a trace then takes about one timeout).
    #[arg(long)]
    parallel: bool,
    /// Find the path MTU too (Don't Fragment probes of chosen sizes).
    #[arg(long)]
    mtu: bool,
    /// Use unprivileged datagram sockets (Linux reads the routers' answers from the
    /// socket's error queue).
    #[arg(long)]
    unprivileged: bool,
    /// Resolve names to IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    ipv4: bool,
    /// Resolve names to IPv6 only.
    #[arg(short = '6')]
    ipv6: bool,
    /// Print the hops as a JSON array.
    #[arg(long)]
    json: bool,
    /// The host: an IP address or a name.
    host: String,
}

/// What a run found: the host's address, the hops, and the path MTU when asked for.
type Found = (IpAddr, Vec<Hop>, Option<Result<PathMtu, Error>>);

/// The host's address, and the target to trace: the address, or, for a link-local one,
/// the host as given, with its zone (`fe80::1%eth0`: it says which link).
async fn target(args: &Args) -> Result<(IpAddr, String), Error> {
    let family = match (args.ipv4, args.ipv6) {
        (true, _) => Some(Family::V4),
        (_, true) => Some(Family::V6),
        _ => None,
    };
    let address = async_resolve(&args.host, family).await?[0];
    let target = if args.host.contains('%') {
        args.host.clone()
    } else {
        address.to_string()
    };
    Ok((address, target))
}

/// The pinger `args` ask for, with the socket kind and source set in `probe`: `-s` takes
/// an address or an interface.
fn pinger(args: &Args, probe: &mut ProbeOptions) -> Pinger {
    common::socket_kind(probe, args.unprivileged);
    let mut pinger = Pinger::builder();
    match args.source.as_ref().map(|text| text.parse::<IpAddr>()) {
        Some(Ok(source)) => probe.source = Some(source),
        Some(Err(_)) => pinger = pinger.interface(args.source.clone().unwrap_or_default()),
        None => {}
    }
    pinger.build()
}

async fn run(args: &Args) -> Result<Found, Error> {
    let (address, target) = target(args).await?;
    let progress = format!(
        "traceroute to {} ({address}), {} hops max, {} byte packets",
        args.host,
        args.max_hops,
        // An ICMP echo request of 56 bytes of data, with its IP header, as traceroute -I.
        if address.is_ipv4() { 84 } else { 104 }
    );
    if args.json {
        eprintln!("{progress}");
    } else {
        println!("{progress}");
    }
    let mut options = TracerouteOptions::default()
        .count(args.probes as usize)
        .first_hop(args.first_hop)
        .max_hops(args.max_hops)
        .timeout(args.timeout)
        .interval(args.interval.unwrap_or(Duration::from_millis(50)))
        .fast(args.fast)
        .parallel(args.parallel)
        .flow_stable(!args.classic)
        .flows(args.flows)
        .names(!args.numeric);
    let pinger = pinger(args, &mut options.probe);
    let hops = pinger.traceroute(&target, &options).await?;
    let path_mtu = if args.mtu {
        let mut mtu_options = PathMtuOptions::default().timeout(args.timeout);
        common::socket_kind(&mut mtu_options.probe, args.unprivileged);
        mtu_options.probe.source = options.probe.source;
        Some(pinger.path_mtu(&target, &mtu_options).await)
    } else {
        None
    };
    Ok((address, hops, path_mtu))
}

/// traceroute's mark after the time of a probe answered by a Destination Unreachable:
/// `!H` host, `!N` network, `!P` protocol, `!X` administratively prohibited, `!F-MTU`
/// fragmentation needed, `!<code>` another; none for a port unreachable (the host itself
/// answered) nor for a Time Exceeded.
fn marker(error: Option<&Error>) -> Option<String> {
    let Some(Error::DestinationUnreachable { code, family, .. }) = error else {
        return None;
    };
    let mark = match (family, code) {
        (Family::V4, 0) | (Family::V6, 0) => "!N".to_string(),
        (Family::V4, 1) | (Family::V6, 3) => "!H".to_string(),
        (Family::V4, 2) => "!P".to_string(),
        (Family::V4, 3) | (Family::V6, 4) => return None,
        (Family::V4, 4) => "!F".to_string(),
        (Family::V4, 9 | 10 | 13) | (Family::V6, 1) => "!X".to_string(),
        (_, code) => format!("!<{code}>"),
    };
    Some(mark)
}

/// A hop as traceroute -n prints it: ` 1  192.0.2.1  0.123 ms  0.100 ms  *`, each time
/// with three decimals and the hop's marker after it (`0.123 ms !H`).
fn hop_line(hop: &Hop, flows: bool) -> String {
    let mark = marker(hop.error());
    let mut line = match hop.name() {
        Some(name) => format!("{:2}  {name} ({})", hop.distance(), hop.address()),
        None => format!("{:2}  {}", hop.distance(), hop.address()),
    };
    for label in hop.mpls_labels() {
        line.push_str(&format!(" [MPLS: {label}]"));
    }
    for rtt in hop.rtts() {
        line.push_str(&format!("  {rtt:.3} ms"));
        if let Some(mark) = &mark {
            line.push_str(&format!(" {mark}"));
        }
    }
    let lost = hop.packets_sent().saturating_sub(hop.packets_received());
    if hop.rtts().is_empty()
        && let Some(mark) = &mark
    {
        line.push_str(&format!(" {mark}"));
    }
    for _ in 0..lost {
        line.push_str("  *");
    }
    if flows {
        let list: Vec<String> = hop.flows().iter().map(u16::to_string).collect();
        line.push_str(&format!("  flows {}", list.join(",")));
    }
    line
}

/// `--report` and `--live`: a continuous trace of `args.rounds` rounds; the host's
/// address and the last round's figures.
async fn watch(args: &Args) -> Result<(IpAddr, Option<RouteRound>), Error> {
    let (address, target) = target(args).await?;
    let default_rounds = if args.live { 600 } else { 10 };
    let mut options = RouteWatchOptions::default()
        .rounds(Some(args.rounds.unwrap_or(default_rounds)))
        .first_hop(args.first_hop)
        .max_hops(args.max_hops)
        .timeout(args.timeout)
        .flow_stable(!args.classic)
        .flows(args.flows)
        .names(!args.numeric);
    // mtr's rounds are a second apart; -i, when given, sets it.
    options.probe.interval = args.interval.unwrap_or(Duration::from_secs(1));
    let mut trace = pinger(args, &mut options.probe).watch_route(&target, &options)?;
    let mut last = None;
    while let Some(event) = trace.next().await {
        match event {
            RouteEvent::Round(round) => {
                if args.live {
                    if args.json {
                        println!("{}", serde_json::to_string(&round).unwrap_or_default());
                    } else {
                        report::live(&round, &args.host, args.numeric, args.flows > 1);
                    }
                }
                last = Some(round);
            }
            RouteEvent::Error(error) => return Err(error),
            _ => {}
        }
    }
    Ok((address, last))
}

/// `--report` and `--live` to their end: the exit status.
async fn continuous(args: &Args) -> ExitCode {
    let (address, last) = match watch(args).await {
        Ok(found) => found,
        Err(error) => {
            eprintln!("traceroute: {error}");
            return ExitCode::from(2);
        }
    };
    let Some(round) = last else {
        return ExitCode::from(1);
    };
    if args.report {
        if args.json {
            println!("{}", serde_json::to_string(&round).unwrap_or_default());
        } else {
            print!("{}", report::table(&round, args.numeric, args.flows > 1));
        }
    }
    // Reached: the host answered where the path ended (not a router's unreachable).
    let reached = round.reached().is_some_and(|distance| {
        round.hops().iter().any(|hop| {
            hop.distance() == distance
                && hop
                    .responders()
                    .iter()
                    .any(|responder| responder.address == address)
        })
    });
    if reached {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.report || args.live {
        return continuous(&args).await;
    }
    let (address, hops, path_mtu) = match run(&args).await {
        Ok(result) => result,
        Err(error) => {
            eprintln!("traceroute: {error}");
            return ExitCode::from(2);
        }
    };
    let reached = hops.last().is_some_and(|hop| hop.ip() == Some(address));
    if args.json {
        match serde_json::to_string(&hops) {
            Ok(json) => println!("{json}"),
            Err(error) => {
                eprintln!("traceroute: {error}");
                return ExitCode::from(2);
            }
        }
    } else {
        // Like traceroute: every distance up to where the trace stopped, `* * *` where
        // nobody answered — to the host, to a Destination Unreachable, or to max_hops.
        let stopped_early = reached
            || hops.last().is_some_and(|hop| {
                matches!(hop.error(), Some(Error::DestinationUnreachable { .. }))
            });
        let last = match hops.last() {
            Some(hop) if stopped_early => hop.distance(),
            _ => args.max_hops,
        };
        for distance in args.first_hop..=last {
            let here: Vec<&Hop> = hops
                .iter()
                .filter(|hop| hop.distance() == distance)
                .collect();
            if here.is_empty() {
                println!(
                    "{distance:2}  {}",
                    vec!["*"; args.probes as usize * usize::from(args.flows)].join(" ")
                );
            }
            for hop in here {
                let line = hop_line(hop, args.flows > 1);
                match path_mtu.as_ref().and_then(|found| found.as_ref().ok()) {
                    Some(found) if found.reported_by() == hop.ip() => {
                        println!("{line}  pmtu {}", found.mtu());
                    }
                    _ => println!("{line}"),
                }
            }
        }
    }
    match path_mtu {
        Some(Ok(found)) if args.json => eprintln!("{found}"),
        Some(Ok(found)) => println!("{found}"),
        Some(Err(error)) => eprintln!("traceroute: path MTU: {error}"),
        None => {}
    }
    if reached {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
