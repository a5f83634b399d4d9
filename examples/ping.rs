//! `ping` with icmplib: the lines of iputils ping (`64 bytes from 127.0.0.1: icmp_seq=1
//! ttl=64 time=0.040 ms`, nothing for a request without an answer, `From ROUTER icmp_seq=N
//! Destination Host Unreachable`), then its statistics (`--- HOST ping statistics ---`,
//! `N packets transmitted, N received, X% packet loss, time Nms`, `rtt min/avg/max/mdev`).
//!
//! ```text
//! cargo run --release --example ping -- [-c COUNT] [-i SECONDS] [-W SECONDS] [-s SIZE]
//!     [-t TTL] [-Q TCLASS] [-M want|dont|do|probe] [-I ADDRESS|INTERFACE] [-m MARK]
//!     [-4|-6] [--unprivileged] [--json] HOST
//! ```
//!
//! Exit status: 0 when the host answered, 1 when it did not, 2 on error. With `--json`,
//! standard output holds only the host as JSON; the other lines go to standard error.
//! Ctrl-C ends the run with the statistics, as ping's. Where it differs from iputils ping,
//! `--help` says so.

mod common;

use std::io::Write;
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use icmplib::{
    DontFragment, Error, Family, Host, PingOptions, Pinger, Result, WatchEvent, WatchOptions,
    async_resolve,
};

#[derive(Parser)]
#[command(
    about = "Send ICMP echo requests to a host",
    after_help = "Output as iputils ping's, except: a reply names its sender by address only \
(ping -n), -c defaults to 4 rather than forever, -W defaults to 2 seconds rather than 10, \
--unprivileged and --json are this example's own, and a request is counted when its wait \
ends, so with -W longer than -i a lost request can take the place of the next reply in \
icmp_seq."
)]
struct Args {
    /// Requests to send.
    #[arg(short = 'c', default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    count: u64,
    /// Seconds between two requests.
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
    /// Use an unprivileged datagram socket (no root needed where ping_group_range
    /// allows); not a flag of ping, which chooses by itself.
    #[arg(long)]
    unprivileged: bool,
    /// Print the host as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// The host: an IP address or a name.
    host: String,
}

/// iputils ping's words for a Destination Unreachable or Time Exceeded, after `From
/// ADDRESS icmp_seq=N`; the library's message for other errors.
fn error_text(error: &Error) -> String {
    match *error {
        Error::DestinationUnreachable {
            code,
            family: Family::V4,
            ..
        } => match code {
            0 => "Destination Net Unreachable".into(),
            1 => "Destination Host Unreachable".into(),
            2 => "Destination Protocol Unreachable".into(),
            3 => "Destination Port Unreachable".into(),
            9 | 10 | 13 => "Packet filtered".into(),
            _ => format!("Dest Unreachable, Bad Code: {code}"),
        },
        Error::DestinationUnreachable {
            code,
            family: Family::V6,
            ..
        } => match code {
            0 => "Destination unreachable: No route".into(),
            1 => "Destination unreachable: Administratively prohibited".into(),
            3 => "Destination unreachable: Address unreachable".into(),
            4 => "Destination unreachable: Port unreachable".into(),
            _ => format!("Destination unreachable: Unknown code {code}"),
        },
        Error::TimeExceeded { code: 0, .. } => "Time to live exceeded".into(),
        Error::TimeExceeded { .. } => "Frag reassembly time exceeded".into(),
        _ => error.to_string(),
    }
}

/// The router or host that sent an ICMP error, if the error is one.
fn error_source(error: &Error) -> Option<IpAddr> {
    match *error {
        Error::DestinationUnreachable { source, .. } | Error::TimeExceeded { source, .. } => {
            Some(source)
        }
        _ => None,
    }
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
    // As iputils ping: the IPv4 header counts in the size of the datagram, IPv6 says
    // only the data.
    let _ = if address.is_ipv4() {
        writeln!(
            out,
            "PING {} ({address}) {}({}) bytes of data.",
            args.host,
            args.size,
            args.size + 28
        )
    } else {
        writeln!(
            out,
            "PING {}({address}) {} data bytes",
            args.host, args.size
        )
    };
    let mut probe = PingOptions::default()
        .timeout(args.timeout)
        .payload_size(args.size)
        .ttl(args.ttl)
        .traffic_class(args.tclass)
        .dont_fragment(args.pmtudisc)
        .probe;
    probe.source = source;
    common::socket_kind(&mut probe, args.unprivileged);
    // A watch of the one host: it reports each reply with the TTL it arrived with. A
    // request goes out every -i seconds (at least every millisecond), as ping sends them.
    let options = WatchOptions::from(probe).period(args.interval.max(Duration::from_millis(1)));
    let started = Instant::now();
    let (handle, mut events) = pinger.watch([target.clone()], &options)?;
    let (mut sent, mut rtts, mut errors, mut error) = (0u64, Vec::new(), 0u64, None);
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    while sent < args.count {
        let event = tokio::select! {
            event = events.next() => event,
            _ = &mut interrupted => None,
        };
        let Some(event) = event else { break };
        // Each request ends in one reply, timeout or error, in the order they were sent
        // (a request's wait ends before the next one's, unless -W is longer than -i).
        let sequence = sent + 1;
        match event {
            WatchEvent::Reply {
                rtt, bytes, ttl, ..
            } => {
                sent += 1;
                let bytes = common::icmp_size(address, bytes, args.size + 8);
                let ttl = ttl.map(|ttl| format!(" ttl={ttl}")).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{bytes} bytes from {address}: icmp_seq={sequence}{ttl} time={} ms",
                    common::ping_ms(rtt)
                );
                rtts.push(rtt);
            }
            WatchEvent::Timeout { .. } => sent += 1,
            WatchEvent::Error { error: reason, .. } => {
                // An option this host cannot use (a source of the other family) is
                // the run's error, as ping's.
                if reason.fails_the_call() || matches!(reason, Error::InvalidOption { .. }) {
                    handle.stop();
                    return Err(reason);
                }
                sent += 1;
                errors += 1;
                match error_source(&reason) {
                    Some(from) => {
                        let _ = writeln!(
                            out,
                            "From {from} icmp_seq={sequence} {}",
                            error_text(&reason)
                        );
                    }
                    None => eprintln!("ping: icmp_seq={sequence}: {reason}"),
                }
                error = Some(reason);
            }
            _ => {}
        }
    }
    handle.stop();
    let elapsed = started.elapsed().as_millis();
    let received = rtts.len() as u64;
    let _ = writeln!(out, "\n--- {} ping statistics ---", args.host);
    let errors = if errors > 0 {
        format!(", +{errors} errors")
    } else {
        String::new()
    };
    let loss = if sent == 0 {
        0.0
    } else {
        (sent - received) as f64 * 100.0 / sent as f64
    };
    let _ = writeln!(
        out,
        "{sent} packets transmitted, {received} received{errors}, {}% packet loss, time {elapsed}ms",
        common::percent_g(loss)
    );
    if rtts.is_empty() {
        let _ = writeln!(out);
    } else {
        let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
        let max = rtts.iter().copied().fold(0.0, f64::max);
        let avg = rtts.iter().sum::<f64>() / rtts.len() as f64;
        let _ = writeln!(
            out,
            "rtt min/avg/max/mdev = {min:.3}/{avg:.3}/{max:.3}/{:.3} ms",
            common::mdev(&rtts)
        );
    }
    Ok(Host::new(target, sent as usize, rtts)
        .with_error(error)
        .with_target(&args.host))
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
