//! `ping` with icmplib: per-reply lines like the system's ping, then the summary.
//!
//! ```text
//! cargo run --release --example ping -- [-c COUNT] [-i SECONDS] [-W SECONDS] [-s SIZE]
//!     [-t TTL] [-Q TCLASS] [-M want|dont|do|probe] [-I ADDRESS|INTERFACE] [-m MARK]
//!     [-4|-6] [--unprivileged] [--json] HOST
//! ```
//!
//! Exit status: 0 when the host answered, 1 when it did not, 2 on error. With `--json`,
//! standard output holds only the host as JSON; the reply lines go to standard error.

mod common;

use std::io::Write;
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use icmplib::{DontFragment, Family, Host, PingOptions, Pinger, Result, async_resolve};

#[derive(Parser)]
#[command(about = "Send ICMP echo requests to a host")]
struct Args {
    /// Requests to send.
    #[arg(short = 'c', default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,
    /// Seconds between a reply (or timeout) and the next request.
    #[arg(short = 'i', default_value = "1", value_parser = common::seconds)]
    interval: Duration,
    /// Seconds to wait for each reply.
    #[arg(short = 'W', default_value = "2", value_parser = common::positive_seconds)]
    timeout: Duration,
    /// Payload size in bytes.
    #[arg(short = 's', default_value_t = 56)]
    size: usize,
    /// Time to live / hop limit.
    #[arg(short = 't', default_value_t = 64)]
    ttl: u8,
    /// Type of service / traffic class byte, in decimal or hex (0x10).
    #[arg(short = 'Q', default_value = "0", value_parser = common::byte)]
    tclass: u8,
    /// Path MTU discovery, as ping's -M: `do` and `probe` set Don't Fragment (`probe`
    /// ignores the path MTU the system learned), `dont` lets routers fragment, `want` is
    /// the system's default.
    #[arg(short = 'M', default_value = "want", value_parser = common::dont_fragment)]
    pmtudisc: DontFragment,
    /// Source address, or the network interface to send by.
    #[arg(short = 'I')]
    source: Option<String>,
    /// Mark the requests for policy routing (SO_MARK; needs CAP_NET_ADMIN).
    #[arg(short = 'm')]
    mark: Option<u32>,
    /// Resolve names to IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    ipv4: bool,
    /// Resolve names to IPv6 only.
    #[arg(short = '6')]
    ipv6: bool,
    /// Use an unprivileged datagram socket (no root needed where ping_group_range allows).
    #[arg(long)]
    unprivileged: bool,
    /// Print the host as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// The host: an IP address or a name.
    host: String,
}

async fn run(args: &Args) -> Result<Host> {
    // -I takes an address or an interface, as ping does.
    let source: Option<IpAddr> = args.source.as_ref().and_then(|text| text.parse().ok());
    let mut pinger = Pinger::builder();
    if let Some(interface) = args.source.as_ref().filter(|_| source.is_none()) {
        pinger = pinger.interface(interface.clone());
    }
    if let Some(mark) = args.mark {
        pinger = pinger.mark(mark);
    }
    let pinger = pinger.build();
    // A name resolves to the family of the source address, if one is given; an address
    // of the other family is then refused by the library, saying so.
    let bare = args.host.trim_start_matches('[').split(['%', ']']).next();
    let is_name = bare.is_none_or(|bare| bare.parse::<IpAddr>().is_err());
    let family = match (args.ipv4, args.ipv6) {
        (true, _) => Some(Family::V4),
        (_, true) => Some(Family::V6),
        _ => source.as_ref().filter(|_| is_name).map(Family::of),
    };
    let address = async_resolve(&args.host, family).await?[0];
    // A link-local address keeps its zone (`fe80::1%eth0`): it says which link.
    let target = if args.host.contains('%') {
        args.host.clone()
    } else {
        address.to_string()
    };
    let mut out: Box<dyn Write> = if args.json {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let _ = writeln!(
        out,
        "PING {} ({address}) {} data bytes",
        args.host, args.size
    );
    let mut options = PingOptions::default()
        .count(1)
        .timeout(args.timeout)
        .payload_size(args.size)
        .ttl(args.ttl)
        .traffic_class(args.tclass)
        .dont_fragment(args.pmtudisc)
        .privileged(!args.unprivileged);
    options.probe.source = source;
    // One request at a time, so that each reply is printed as it comes.
    let (mut sent, mut rtts, mut error) = (0, Vec::new(), None);
    for sequence in 1..=args.count {
        if sequence > 1 {
            tokio::time::sleep(args.interval).await;
        }
        let reply = pinger.ping(&target, &options).await?;
        sent += reply.packets_sent();
        match (reply.rtts().first(), reply.error()) {
            (Some(rtt), _) => {
                let _ = writeln!(
                    out,
                    "{} bytes from {address}: icmp_seq={sequence} time={rtt:.3} ms",
                    args.size + 8
                );
                rtts.push(*rtt);
            }
            (None, Some(reason)) => {
                let _ = writeln!(out, "icmp_seq={sequence}: {reason}");
                error = Some(reason.clone());
            }
            (None, None) => {
                let _ = writeln!(out, "Request timeout for icmp_seq {sequence}");
            }
        }
    }
    let host = Host::new(target, sent, rtts)
        .with_error(error)
        .with_target(&args.host);
    let _ = writeln!(out, "--- {} ping statistics ---", args.host);
    Ok(host)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(host) => {
            if args.json {
                match serde_json::to_string(&host) {
                    Ok(json) => println!("{json}"),
                    Err(error) => {
                        eprintln!("ping: {error}");
                        return ExitCode::from(2);
                    }
                }
            } else {
                println!("{host}");
            }
            if host.is_alive() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("ping: {error}");
            ExitCode::from(2)
        }
    }
}
