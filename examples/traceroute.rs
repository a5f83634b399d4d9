//! `traceroute` with icmplib, privileged or not, one hop at a time or all at once.
//!
//! ```text
//! cargo run --release --example traceroute -- [-c PROBES] [-f FIRST_HOP] [-m MAX_HOPS]
//!     [-W SECONDS] [-i SECONDS] [-I ADDRESS|INTERFACE] [--fast] [--parallel] [--mtu]
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
#[command(about = "Print the route packets take to a host")]
struct Args {
    /// Probes per hop.
    #[arg(short = 'c', default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    probes: u64,
    /// TTL of the first probes.
    #[arg(short = 'f', default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..))]
    first_hop: u8,
    /// Largest TTL.
    #[arg(short = 'm', default_value_t = 30, value_parser = clap::value_parser!(u8).range(1..))]
    max_hops: u8,
    /// Seconds to wait for each answer.
    #[arg(short = 'W', default_value = "2", value_parser = common::positive_seconds)]
    timeout: Duration,
    /// Seconds between probes.
    #[arg(short = 'i', default_value = "0.05", value_parser = common::seconds)]
    interval: Duration,
    /// Source address, or the network interface to send by.
    #[arg(short = 'I')]
    source: Option<String>,
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
        "traceroute to {} ({address}), {} hops max, 56 byte packets",
        args.host, args.max_hops
    );
    if args.json {
        eprintln!("{progress}");
    } else {
        println!("{progress}");
    }
    let options = TracerouteOptions::default()
        .count(args.probes as usize)
        .first_hop(args.first_hop)
        .max_hops(args.max_hops)
        .timeout(args.timeout)
        .interval(args.interval)
        .fast(args.fast)
        .parallel(args.parallel)
        .privileged(!args.unprivileged);
    // -I takes an address or an interface, as traceroute does.
    let mut options = options;
    let mut pinger = Pinger::builder();
    match args.source.as_ref().map(|text| text.parse::<IpAddr>()) {
        Some(Ok(source)) => options.probe.source = Some(source),
        Some(Err(_)) => pinger = pinger.interface(args.source.clone().unwrap_or_default()),
        None => {}
    }
    let pinger = pinger.build();
    let hops = pinger.traceroute(&target, &options).await?;
    let path_mtu = if args.mtu {
        let mut mtu_options = PathMtuOptions::default()
            .timeout(args.timeout)
            .privileged(!args.unprivileged);
        mtu_options.probe.source = options.probe.source;
        Some(pinger.path_mtu(&target, &mtu_options).await)
    } else {
        None
    };
    Ok((address, hops, path_mtu))
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
                match path_mtu.as_ref().and_then(|found| found.as_ref().ok()) {
                    Some(found) if found.reported_by() == hop.ip() => {
                        println!("{hop}  pmtu {}", found.mtu());
                    }
                    _ => println!("{hop}"),
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
