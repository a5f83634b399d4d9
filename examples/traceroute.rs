//! `traceroute` with icmplib, privileged or not, one hop at a time or all at once; flags
//! and lines as `traceroute -I -n` (`-q -f -m -w -s -n`, `!H !N !P !X`), `--help` says
//! where they differ.
//!
//! ```text
//! cargo run --release --example traceroute -- [-q PROBES] [-f FIRST_HOP] [-m MAX_HOPS]
//!     [-w SECONDS] [-i SECONDS] [-s ADDRESS|INTERFACE] [-n] [--fast] [--parallel] [--mtu]
//!     [--unprivileged] [-4|-6] [--json] HOST
//! ```
//!
//! Lines like traceroute's: every distance up to where the trace stopped, `* *` for one
//! where nobody answered; `--json`, a JSON array of the hops that answered. With `--mtu`,
//! the path MTU too, like `tracepath`: `pmtu N` after the router that reported it, and a
//! last line with the path MTU (on standard error with `--json`). Exit status: 0 when the
//! host was reached, 1 when not, 2 on error.

mod common;

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use icmplib::{
    Error, Family, Hop, PathMtu, PathMtuOptions, Pinger, TracerouteOptions, async_resolve,
};

#[derive(Parser)]
#[command(
    about = "Print the route packets take to a host",
    after_help = "Lines as traceroute -I -n prints them, except: probes are always ICMP echo \
requests (traceroute's -I), 2 probes per hop by default rather than 3, no names are looked \
up, -i is the pause between probes (traceroute's -z), not an interface, and --fast, \
--parallel, --mtu, --unprivileged and --json are this example's own."
)]
struct Args {
    /// Probes per hop (traceroute's -q; -c is kept as another name for it).
    #[arg(short = 'q', short_alias = 'c', default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    probes: u64,
    /// TTL of the first probes.
    #[arg(short = 'f', default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..))]
    first_hop: u8,
    /// Largest TTL.
    #[arg(short = 'm', default_value_t = 30, value_parser = clap::value_parser!(u8).range(1..))]
    max_hops: u8,
    /// Seconds to wait for each answer (traceroute's -w; -W is kept as another name).
    #[arg(short = 'w', short_alias = 'W', default_value = "2", value_parser = common::positive_seconds)]
    timeout: Duration,
    /// Seconds between probes (traceroute's -z).
    #[arg(short = 'i', default_value = "0.05", value_parser = common::seconds)]
    interval: Duration,
    /// Source address, or the network interface to send by (traceroute's -s or -i; -I,
    /// ICMP probes for traceroute, is kept as another name: probes are always ICMP here).
    #[arg(short = 's', short_alias = 'I')]
    source: Option<String>,
    /// Print addresses only: accepted for traceroute's sake, this example never looks up
    /// the names of the routers.
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

async fn run(args: &Args) -> Result<Found, Error> {
    let family = match (args.ipv4, args.ipv6) {
        (true, _) => Some(Family::V4),
        (_, true) => Some(Family::V6),
        _ => None,
    };
    let address = async_resolve(&args.host, family).await?[0];
    // A link-local address keeps its zone (`fe80::1%eth0`): it says which link.
    let target = if args.host.contains('%') {
        args.host.clone()
    } else {
        address.to_string()
    };
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
        .interval(args.interval)
        .fast(args.fast)
        .parallel(args.parallel);
    common::socket_kind(&mut options.probe, args.unprivileged);
    // -s takes an address or an interface.
    let mut pinger = Pinger::builder();
    match args.source.as_ref().map(|text| text.parse::<IpAddr>()) {
        Some(Ok(source)) => options.probe.source = Some(source),
        Some(Err(_)) => pinger = pinger.interface(args.source.clone().unwrap_or_default()),
        None => {}
    }
    let pinger = pinger.build();
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
fn hop_line(hop: &Hop) -> String {
    let mark = marker(hop.error());
    let mut line = format!("{:2}  {}", hop.distance(), hop.address());
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
    line
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
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
                    vec!["*"; args.probes as usize].join(" ")
                );
            }
            for hop in here {
                let line = hop_line(hop);
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
