//! The low-level sockets by hand: send echo requests with an `IcmpV4Socket` /
//! `IcmpV6Socket` and print each reply (or ICMP error) as it comes.
//!
//! `cargo run --example echo -- [--unprivileged] [-c COUNT] [ADDRESS]` (default 127.0.0.1)

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use icmplib::{IcmpReply, IcmpRequest, IcmpV4Socket, IcmpV6Socket, Result};

#[derive(Parser)]
struct Args {
    /// Use an unprivileged datagram socket instead of a raw one.
    #[arg(long)]
    unprivileged: bool,
    /// Number of requests.
    #[arg(short = 'c', default_value_t = 3)]
    count: u16,
    /// Address to ping (an IP address; names are for the `ping` example).
    #[arg(default_value = "127.0.0.1")]
    address: IpAddr,
}

/// A blocking socket of either family.
enum Socket {
    V4(IcmpV4Socket),
    V6(IcmpV6Socket),
}

impl Socket {
    fn open(address: IpAddr, privileged: bool) -> Result<Socket> {
        Ok(match address {
            IpAddr::V4(_) => Socket::V4(IcmpV4Socket::new(None, privileged)?),
            IpAddr::V6(_) => Socket::V6(IcmpV6Socket::new(None, privileged)?),
        })
    }

    /// Sends `request` and waits for its reply; returns it with the round-trip time.
    fn exchange(&self, request: &IcmpRequest, timeout: Duration) -> Result<(IcmpReply, Duration)> {
        let (sent, reply) = match self {
            Socket::V4(socket) => (
                socket.send(request)?,
                socket.receive(Some(request), timeout)?,
            ),
            Socket::V6(socket) => (
                socket.send(request)?,
                socket.receive(Some(request), timeout)?,
            ),
        };
        let rtt = reply.time().saturating_duration_since(sent);
        Ok((reply, rtt))
    }
}

fn run(args: &Args) -> Result<usize> {
    let socket = Socket::open(args.address, !args.unprivileged)?;
    let mut answered = 0;
    for sequence in 1..=args.count {
        let request = IcmpRequest::new(args.address, std::process::id() as u16, sequence);
        match socket.exchange(&request, Duration::from_secs(2)) {
            Ok((reply, rtt)) => match reply.raise_for_status() {
                Ok(()) => {
                    answered += 1;
                    println!("{reply} time={:.3} ms", rtt.as_secs_f64() * 1000.0);
                }
                Err(error) => println!("seq={sequence}: {error}"),
            },
            Err(error) => println!("seq={sequence}: {error}"),
        }
        if sequence < args.count {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(answered)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(0) => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
