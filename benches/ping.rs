//! The ping benchmark: what a ping costs on top of the kernel's echo round trip, on
//! loopback inside a private network namespace. Two workloads, each next to a reference
//! measured in the same round:
//!
//! - one after the other: `PINGS` calls of `async_ping(.., count 1)` in a row on a
//!   current-thread runtime (a health check's loop), against a raw socket doing the same
//!   round trips in a plain loop (send, wait in `recv` for the reply);
//! - all at once: `PINGS` `async_ping`s spawned together on a multi-thread runtime (a
//!   service checking many hosts), against a raw socket sending them all back to back and
//!   draining the replies.
//!
//! And the round-trip time a ping reports: `RTT_ECHOES` echoes 10 ms apart to 127.0.0.1,
//! the average icmplib reports against iputils `ping -i 0.01`'s in the same round.
//!
//! Each measurement runs in a fresh process; the ratio to the reference is the median of
//! the ratios of pairs run back to back. `cargo bench --bench ping` (as root: it makes a
//! namespace; it skips otherwise). `PING_ROUNDS=N` changes the number of rounds (default 5).

mod common;
#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use icmplib::packet::{EchoKind, emit_echo};
use icmplib::{Family, PingOptions, async_ping};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use support::Netns;

const PINGS: u32 = 20_000;
/// Echoes per RTT measurement, 10 ms apart.
const RTT_ECHOES: usize = 50;
const FIRST: u32 = 0x7f02_0001; // 127.2.0.1

fn raw_socket() -> Socket {
    let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).expect("raw socket");
    let _ = socket.set_recv_buffer_size(16 << 20);
    socket
}

fn request(sequence: u16) -> Vec<u8> {
    let mut message = Vec::with_capacity(64);
    emit_echo(
        Family::V4,
        EchoKind::Request,
        0x5eed,
        sequence,
        &[0x5a; 56],
        &mut message,
    );
    message
}

/// True for the echo reply with `sequence` (after the 20-byte IPv4 header).
fn is_reply(buf: &[u8], len: usize, sequence: u16) -> bool {
    len >= 28 && buf[20] == 0 && u16::from_be_bytes([buf[26], buf[27]]) == sequence
}

/// The reference of "one after the other": echo round trips in a plain loop.
fn reference_in_turn() -> f64 {
    let socket = raw_socket();
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let to = SockAddr::from(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0));
    let mut buf = [0u8; 2048];
    let started = Instant::now();
    for i in 0..PINGS {
        let sequence = i as u16;
        socket.send_to(&request(sequence), &to).expect("send");
        // Our request comes back too on loopback: read until the reply.
        while let Ok(len) = (&socket).read(&mut buf) {
            if is_reply(&buf, len, sequence) {
                break;
            }
        }
    }
    started.elapsed().as_secs_f64()
}

/// The reference of "all at once": every request back to back, then the replies.
fn reference_at_once() -> f64 {
    let socket = raw_socket();
    socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 2048];
    let mut replies = 0;
    let mut drain = |replies: &mut u32| {
        while let Ok(len) = (&socket).read(&mut buf) {
            *replies += u32::from(len > 20 && buf[20] == 0);
        }
    };
    let started = Instant::now();
    for i in 0..PINGS {
        let to = SockAddr::from(SocketAddr::new(Ipv4Addr::from(FIRST + i).into(), 0));
        while socket.send_to(&request(i as u16), &to).is_err() {
            drain(&mut replies);
        }
        if i % 64 == 0 {
            drain(&mut replies);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while replies < PINGS && Instant::now() < deadline {
        drain(&mut replies);
    }
    started.elapsed().as_secs_f64()
}

fn options() -> PingOptions {
    PingOptions::default()
        .count(1)
        .timeout(Duration::from_secs(2))
}

/// `PINGS` pings of 127.0.0.1 one after the other on a current-thread runtime: seconds,
/// and how many were not answered.
fn library_in_turn() -> (f64, u32) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let options = options();
        let started = Instant::now();
        let mut lost = 0;
        for _ in 0..PINGS {
            let host = async_ping("127.0.0.1", &options).await.expect("ping");
            lost += u32::from(!host.is_alive());
        }
        (started.elapsed().as_secs_f64(), lost)
    })
}

/// `PINGS` pings of as many addresses, all spawned at once on a multi-thread runtime.
fn library_at_once() -> (f64, u32) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let started = Instant::now();
        let tasks: Vec<_> = (0..PINGS)
            .map(|i| {
                tokio::spawn(async move {
                    let address = Ipv4Addr::from(FIRST + i).to_string();
                    async_ping(&address, &options()).await.expect("ping")
                })
            })
            .collect();
        let mut lost = 0;
        for task in tasks {
            lost += u32::from(!task.await.expect("task").is_alive());
        }
        (started.elapsed().as_secs_f64(), lost)
    })
}

/// The average RTT icmplib reports for `RTT_ECHOES` echoes of 127.0.0.1 10 ms apart, in
/// ms, and how many were not answered.
fn library_rtt() -> (f64, u32) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let options = PingOptions::default()
            .count(RTT_ECHOES)
            .interval(Duration::from_millis(10));
        let host = async_ping("127.0.0.1", &options).await.expect("ping");
        (
            host.avg_rtt(),
            (RTT_ECHOES - host.packets_received()) as u32,
        )
    })
}

/// The average RTT iputils ping reports for the same echoes, in ms, if it runs.
fn iputils_rtt(netns: &Netns) -> Option<f64> {
    let echoes = RTT_ECHOES.to_string();
    let output = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            netns.name(),
            "ping",
            "-q",
            "-n",
            "-c",
            &echoes,
        ])
        .args(["-i", "0.01", "127.0.0.1"])
        .output()
        .ok()?;
    // "rtt min/avg/max/mdev = 0.010/0.021/0.045/0.006 ms"
    let text = String::from_utf8_lossy(&output.stdout);
    let figures = text.lines().find(|line| line.contains("min/avg/max"))?;
    let (_, values) = figures.split_once(" = ")?;
    values.split('/').nth(1)?.parse().ok()
}

/// One measurement in a child process inside the namespace: (seconds, lost).
fn measure(netns: &Netns, what: &str) -> (f64, u32) {
    let exe = std::env::current_exe().expect("current_exe");
    let output = netns.run_program(&exe, &["--child", what], Duration::from_secs(120));
    let figures = common::child_figures(&output, 2);
    (figures[0], figures[1] as u32)
}

fn child(what: &str) {
    let (seconds, lost) = match what {
        "reference-in-turn" => (reference_in_turn(), 0),
        "reference-at-once" => (reference_at_once(), 0),
        "in-turn" => library_in_turn(),
        "rtt" => library_rtt(),
        _ => library_at_once(),
    };
    println!("{seconds} {lost}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "--child") {
        child(&args[at + 1]);
        return;
    }
    if !common::root_or_skip("ping") {
        return;
    }
    let rounds = common::rounds("PING_ROUNDS");
    let netns = Netns::new("pingbench");
    println!("{PINGS} pings of 127.0.0.1 (count 1 each), median of {rounds} rounds");
    let workloads = [
        (
            "in-turn",
            "reference-in-turn",
            "one after the other, current-thread",
        ),
        (
            "at-once",
            "reference-at-once",
            "all at once, multi-thread       ",
        ),
    ];
    for (library, reference, title) in workloads {
        let (mut times, mut references, mut ratios, mut lost) = (vec![], vec![], vec![], 0);
        for _ in 0..rounds {
            let base = measure(&netns, reference).0;
            let (seconds, missing) = measure(&netns, library);
            ratios.push(seconds / base);
            references.push(base);
            times.push(seconds);
            lost = lost.max(missing);
        }
        let (seconds, base) = (common::median(times), common::median(references));
        println!(
            "{title}: {seconds:.3} s, {:.1} µs a ping, {lost} lost; reference {base:.3} s; {:.2}x the reference",
            seconds / f64::from(PINGS) * 1e6,
            common::median(ratios)
        );
    }
    // The RTT reported: icmplib's average against iputils ping's, round by round.
    let (mut ours, mut theirs, mut ratios, mut lost) = (vec![], vec![], vec![], 0);
    for _ in 0..rounds {
        let Some(iputils) = iputils_rtt(&netns) else {
            println!("RTT: iputils ping did not run, skipped");
            return;
        };
        let (average, missing) = measure(&netns, "rtt");
        ratios.push(average / iputils);
        ours.push(average);
        theirs.push(iputils);
        lost = lost.max(missing);
    }
    println!(
        "RTT of {RTT_ECHOES} echoes 10 ms apart: icmplib {:.4} ms on average, iputils ping {:.4} ms, {lost} lost; {:.2}x iputils'",
        common::median(ours),
        common::median(theirs),
        common::median(ratios)
    );
}
