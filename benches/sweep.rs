//! The sweep benchmark (performance is measured here, never by a timed test): 127.1.0.0/16
//! (65,534 loopback hosts, one request each) inside a private network namespace, at several
//! levels of hosts in flight. Prints, per level, the median elapsed time and CPU time
//! (user + system, from `getrusage`) over several rounds, hosts per second, live hosts
//! reported dead and peak resident memory, next to two references measured in the same
//! run: a plain loop on one raw socket (the kernel's limit) and fping when installed. The
//! ratios to the reference are the medians of the ratios of pairs run back to back.
//!
//! `cargo bench --bench sweep` (as root: it makes a namespace; it skips otherwise).
//! `SWEEP_ROUNDS=N` changes the number of rounds (default 5).

mod common;
#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use icmplib::packet::{EchoKind, emit_echo};
use icmplib::{Family, MultipingOptions, multiping_stream};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use support::Netns;

const FIRST: u32 = 0x7f01_0001; // 127.1.0.1
const HOSTS: u32 = 65_534;
const LEVELS: [usize; 4] = [100, 1_000, 10_000, 65_534];

fn targets(hosts: u32) -> impl Iterator<Item = String> + Send + 'static {
    (FIRST..FIRST + hosts).map(|address| Ipv4Addr::from(address).to_string())
}

/// Whose CPU time [`cpu_seconds`] reads.
#[derive(Clone, Copy)]
enum Whose {
    /// This process's threads.
    Own,
    /// Its children that were waited for.
    Children,
}

/// CPU seconds (user, system), from `/proc/self/stat` (in the kernel's user-visible ticks,
/// `USER_HZ` = 100 on Linux: a 10 ms resolution, which the medians of several rounds
/// smooth).
fn cpu_seconds(whose: Whose) -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which may hold spaces: state is field 3.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    // utime, stime, cutime, cstime are fields 14 to 17: indices 11 to 14 here.
    let at = match whose {
        Whose::Own => 11,
        Whose::Children => 13,
    };
    let ticks = |i: usize| -> f64 { fields.get(i).and_then(|f| f.parse().ok()).unwrap_or(0.0) };
    (ticks(at) / 100.0, ticks(at + 1) / 100.0)
}

/// Peak resident size of the process, in MiB.
fn peak_memory_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// What one run of a sweep came to.
#[derive(Debug, Clone, Copy)]
struct Run {
    seconds: f64,
    /// Live hosts reported dead (replies missing, for the reference loop).
    dead: u64,
    peak_mib: f64,
    /// User + system seconds.
    cpu: f64,
}

/// Hosts of the sweeps beyond one socket: 127.1.0.0/14.
const WIDE_HOSTS: u32 = 262_142;

/// The references: `sockets` sockets (raw, or datagram "ping" sockets) with a 16 MiB
/// receive buffer, each on a thread of its own sending its share of `hosts` (every
/// `sockets`-th address) back to back and draining its replies whenever it has some. One
/// raw socket is the kernel's limit the sweeps are measured against. Every raw
/// socket receives a copy of every reply (it keeps those with its identifier, and with
/// `filtered` the kernel drops the others first, as icmplib's raw sockets have it do); a
/// datagram socket only its own. Returns (seconds, replies).
fn socket_loops(datagram: bool, filtered: bool, sockets: u32, hosts: u32) -> (f64, usize) {
    let started = Instant::now();
    let threads: Vec<_> = (0..sockets)
        .map(|index| {
            std::thread::spawn(move || {
                let kind = if datagram { Type::DGRAM } else { Type::RAW };
                let socket =
                    Socket::new(Domain::IPV4, kind, Some(Protocol::ICMPV4)).expect("socket");
                socket.set_nonblocking(true).unwrap();
                let _ = socket.set_recv_buffer_size(16 << 20);
                let id = 0x5e00 + index as u16;
                if filtered {
                    socket.attach_filter(&id_filter(id)).expect("filter");
                }
                // A raw socket reads the IPv4 header first; a datagram socket does not.
                let offset = if datagram { 0 } else { 20 };
                let (mut message, mut buf, mut replies) = (Vec::with_capacity(64), [0u8; 2048], 0);
                let mut drain = |replies: &mut usize| {
                    while let Ok(len) = (&socket).read(&mut buf) {
                        let echo = len >= offset + 8 && buf[offset] == 0;
                        let ours = datagram || buf[offset + 4..offset + 6] == id.to_be_bytes();
                        *replies += usize::from(echo && ours);
                    }
                };
                let mine: Vec<u32> = (FIRST + index..FIRST + hosts)
                    .step_by(sockets as usize)
                    .collect();
                for (i, address) in mine.iter().enumerate() {
                    message.clear();
                    emit_echo(
                        Family::V4,
                        EchoKind::Request,
                        id,
                        i as u16,
                        &[0x5a; 56],
                        &mut message,
                    );
                    let to = SockAddr::from(SocketAddr::new(Ipv4Addr::from(*address).into(), 0));
                    while socket.send_to(&message, &to).is_err() {
                        drain(&mut replies);
                    }
                    if i % 64 == 0 {
                        drain(&mut replies);
                    }
                }
                let deadline = Instant::now() + Duration::from_secs(1);
                while replies < mine.len() && Instant::now() < deadline {
                    drain(&mut replies);
                }
                replies
            })
        })
        .collect();
    let replies = threads
        .into_iter()
        .map(|thread| thread.join().expect("thread"))
        .sum();
    (started.elapsed().as_secs_f64(), replies)
}

/// A classic BPF program for a raw IPv4 socket that drops the echo replies whose
/// identifier is not `id` (as icmplib's raw sockets of a sweep over several do):
/// `ldxb 4*([0]&0xf); ldb [x+0]; jeq #0, next, keep; ldh [x+4]; jeq #id, keep, drop`.
fn id_filter(id: u16) -> [socket2::SockFilter; 7] {
    use socket2::SockFilter as F;
    [
        F::new(0xb1, 0, 0, 0),
        F::new(0x50, 0, 0, 0),
        F::new(0x15, 0, 3, 0),
        F::new(0x48, 0, 0, 4),
        F::new(0x15, 1, 0, u32::from(id)),
        F::new(0x06, 0, 0, 0),
        F::new(0x06, 0, 0, u32::MAX),
    ]
}

/// One sweep in a child process (so that its peak memory and CPU time are its own), with
/// the library on a runtime of `flavor` (`current`, `multi`, or `spawned`: multi-thread,
/// the sweep in a spawned task), or the reference loop.
fn library_sweep(netns: &Netns, flavor: &str, hosts: u32, in_flight: usize) -> Run {
    let exe = std::env::current_exe().expect("current_exe");
    let args = [
        "--child",
        flavor,
        &hosts.to_string(),
        &in_flight.to_string(),
    ];
    let output = netns.run_program(&exe, &args, Duration::from_secs(120));
    let figures = common::child_figures(&output, 4);
    Run {
        seconds: figures[0],
        dead: figures[1] as u64,
        peak_mib: figures[2],
        cpu: figures[3],
    }
}

/// Prints what a child reports: seconds, dead hosts, peak MiB and CPU seconds.
fn report(seconds: f64, dead: u64) {
    let (user, system) = cpu_seconds(Whose::Own);
    println!("{seconds} {dead} {} {}", peak_memory_mib(), user + system);
}

/// The child: sweeps `hosts` addresses from 127.1.0.1 with `in_flight` in flight on a
/// runtime of `flavor` and prints "seconds dead peak_mib cpu_seconds".
fn child(flavor: &str, hosts: u32, in_flight: usize) {
    if flavor == "reference" {
        let (seconds, replies) = socket_loops(false, false, 1, hosts);
        report(seconds, (hosts as usize - replies) as u64);
        return;
    }
    // "raw-loops" / "raw-filtered-loops" / "datagram-loops": `in_flight` is the number
    // of sockets.
    if let Some(kind) = flavor.strip_suffix("-loops") {
        let (datagram, filtered) = (kind == "datagram", kind == "raw-filtered");
        let (seconds, replies) = socket_loops(datagram, filtered, in_flight as u32, hosts);
        report(seconds, (hosts as usize - replies) as u64);
        return;
    }
    let runtime = match flavor {
        "current" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
    .expect("runtime");
    // "sockets-raw-N" / "sockets-datagram-N": N sockets, 1,000 in flight, multi-thread.
    let (privileged, sockets, in_flight) = match flavor.strip_prefix("sockets-") {
        Some(rest) => {
            let (kind, sockets) = rest.rsplit_once('-').expect("sockets-KIND-N");
            (kind == "raw", sockets.parse().expect("sockets"), 1_000)
        }
        None => (true, 1, in_flight),
    };
    let options = MultipingOptions::default()
        .count(1)
        .timeout(Duration::from_secs(1))
        .concurrent_tasks(in_flight)
        .sockets(sockets)
        .privileged(privileged);
    let started = Instant::now();
    let sweep = async move {
        let mut stream = std::pin::pin!(multiping_stream(targets(hosts), &options).expect("sweep"));
        let mut dead = 0u64;
        while let Some(host) = stream.next().await {
            dead += u64::from(!host.is_alive());
        }
        dead
    };
    let dead = if flavor == "spawned" {
        // As a service would: in a task of its own on a worker thread.
        runtime.block_on(async { tokio::spawn(sweep).await.expect("sweep task") })
    } else {
        // As a command-line tool would: in `block_on` (`#[tokio::main]`).
        runtime.block_on(sweep)
    };
    let seconds = started.elapsed().as_secs_f64();
    // Measured with the runtime still up: its threads' time is in this process's.
    report(seconds, dead);
    drop(runtime);
}

/// fping on the same hosts, or None without fping.
fn fping(netns: &Netns) -> Option<Run> {
    let before = cpu_seconds(Whose::Children);
    let started = Instant::now();
    let output = Command::new("ip")
        .args([
            "netns",
            "exec",
            netns.name(),
            "fping",
            "-C1",
            "-i0",
            "-q",
            "-g",
            "127.1.0.1",
            "127.1.255.254",
        ])
        .output()
        .ok()?;
    let elapsed = started.elapsed().as_secs_f64();
    let after = cpu_seconds(Whose::Children);
    let report = String::from_utf8_lossy(&output.stderr);
    if !report.contains(" : ") {
        return None;
    }
    let dead = report
        .lines()
        .filter(|line| line.trim_end().ends_with(": -"))
        .count() as u64;
    Some(Run {
        seconds: elapsed,
        dead,
        peak_mib: 0.0,
        cpu: (after.0 - before.0) + (after.1 - before.1),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "--child") {
        let hosts = args[at + 2].parse().expect("hosts");
        let in_flight = args[at + 3].parse().expect("in flight");
        child(&args[at + 1], hosts, in_flight);
        return;
    }
    if !common::root_or_skip("sweep") {
        return;
    }
    let rounds = common::rounds("SWEEP_ROUNDS");
    let netns = Netns::new("sweep");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "sweep of 127.1.0.0/16: {HOSTS} hosts, 1 request each, median of {rounds} rounds; {cores} cores"
    );

    // Every configuration runs once per round, rounds one after the other: the machine's
    // speed drifts over minutes, and this way each median sees the same drift.
    let flavors = [
        ("multi", "a multi-thread tokio runtime, in block_on"),
        ("spawned", "a multi-thread tokio runtime, in a spawned task"),
        ("current", "a current-thread tokio runtime"),
    ];
    // Each library sweep also runs right after a reference loop of its own: the ratio of
    // the pair, taken over a couple of seconds, is what drift affects least.
    let mut reference_runs = Vec::new();
    let mut fping_runs = Vec::new();
    let mut library_runs = vec![vec![Vec::new(); LEVELS.len()]; flavors.len()];
    // Per configuration: (wall, CPU) of the run over its reference's, and its CPU over the
    // round's fping CPU.
    let mut ratios = vec![vec![Vec::new(); LEVELS.len()]; flavors.len()];
    let mut vs_fping = vec![vec![Vec::new(); LEVELS.len()]; flavors.len()];
    for _ in 0..rounds {
        let fping_run = fping(&netns);
        fping_runs.extend(fping_run);
        for (flavor, (name, _)) in flavors.iter().enumerate() {
            for (level, in_flight) in LEVELS.iter().enumerate() {
                let reference = library_sweep(&netns, "reference", HOSTS, 1);
                let run = library_sweep(&netns, name, HOSTS, *in_flight);
                ratios[flavor][level].push((
                    run.seconds / reference.seconds,
                    run.cpu / reference.cpu.max(0.01),
                ));
                if let Some(fping_run) = fping_run {
                    vs_fping[flavor][level].push(run.cpu / fping_run.cpu.max(0.01));
                }
                reference_runs.push(reference);
                library_runs[flavor][level].push(run);
            }
        }
    }

    let median_of =
        |runs: &[Run], field: fn(&Run) -> f64| common::median(runs.iter().map(field).collect());
    let reference = median_of(&reference_runs, |run| run.seconds);
    let reference_cpu = median_of(&reference_runs, |run| run.cpu);
    let lost = reference_runs.iter().map(|run| run.dead).max().unwrap_or(0);
    println!(
        "{:<30} {:>8.3} s {:>7.3} s CPU {:>9.0} hosts/s  {:>6} lost",
        "reference raw-socket loop",
        reference,
        reference_cpu,
        f64::from(HOSTS) / reference,
        lost
    );
    let fping_median = (!fping_runs.is_empty()).then(|| {
        let dead = fping_runs.iter().map(|run| run.dead).max().unwrap_or(0);
        (
            median_of(&fping_runs, |run| run.seconds),
            median_of(&fping_runs, |run| run.cpu),
            dead,
        )
    });
    match fping_median {
        Some((seconds, cpu, dead)) => println!(
            "{:<30} {:>8.3} s {:>7.3} s CPU {:>9.0} hosts/s  {:>6} dead  ({:.2}x the reference's time, {:.2}x its CPU)",
            "fping -C1 -i0",
            seconds,
            cpu,
            f64::from(HOSTS) / seconds,
            dead,
            seconds / reference,
            cpu / reference_cpu,
        ),
        None => println!("fping: not installed, skipped"),
    }
    for (flavor, (_, title)) in flavors.iter().enumerate() {
        println!("icmplib on {title}:");
        for (level, in_flight) in LEVELS.iter().enumerate() {
            let runs = &library_runs[flavor][level];
            let dead = runs.iter().map(|run| run.dead).max().unwrap_or(0);
            let peak = runs.iter().map(|run| run.peak_mib).fold(0.0, f64::max);
            let seconds = median_of(runs, |run| run.seconds);
            let cpu = median_of(runs, |run| run.cpu);
            let pairs = &ratios[flavor][level];
            let wall_ratio = common::median(pairs.iter().map(|pair| pair.0).collect());
            let cpu_ratio = common::median(pairs.iter().map(|pair| pair.1).collect());
            let fping_ratio = if vs_fping[flavor][level].is_empty() {
                String::new()
            } else {
                format!(
                    ", CPU {:.2}x fping's",
                    common::median(vs_fping[flavor][level].clone())
                )
            };
            println!(
                "  {in_flight:>6} in flight              {seconds:>8.3} s {cpu:>7.3} s CPU {:>9.0} hosts/s  {dead:>6} dead  peak {peak:>6.1} MiB  ({wall_ratio:.2}x the reference's time, CPU {cpu_ratio:.2}x its{fping_ratio})",
                f64::from(HOSTS) / seconds,
            );
        }
    }
    // Beyond one socket: what two sockets on two threads give the plain loops.
    netns.allow_unprivileged_ping();
    println!(
        "beyond one socket, 127.1.0.0/14 ({WIDE_HOSTS} hosts; icmplib at 1,000 in flight on a multi-thread runtime), median of {rounds}:"
    );
    for kind in ["raw", "datagram"] {
        // The plain loops with one and two sockets (raw ones also with the identifier
        // filter icmplib's raw sockets have), then icmplib with one and two.
        let mut configurations = vec![
            (format!("{kind}-loops"), 1, "plain loop"),
            (format!("{kind}-loops"), 2, "plain loops"),
        ];
        if kind == "raw" {
            configurations.push(("raw-filtered-loops".into(), 2, "filtered"));
        }
        configurations.push((format!("sockets-{kind}-1"), 1, "icmplib"));
        configurations.push((format!("sockets-{kind}-2"), 2, "icmplib"));
        let mut runs = vec![Vec::new(); configurations.len()];
        for _ in 0..rounds {
            for (slot, (flavor, sockets, _)) in configurations.iter().enumerate() {
                runs[slot].push(library_sweep(&netns, flavor, WIDE_HOSTS, *sockets));
            }
        }
        let one = median_of(&runs[0], |run| run.seconds);
        for (slot, (_, sockets, title)) in configurations.iter().enumerate() {
            let seconds = median_of(&runs[slot], |run| run.seconds);
            let cpu = median_of(&runs[slot], |run| run.cpu);
            let lost = runs[slot].iter().map(|run| run.dead).max().unwrap_or(0);
            println!(
                "  {title:<11} {sockets} {kind:<8} socket(s) {seconds:>8.3} s {cpu:>7.3} s CPU {:>9.0} hosts/s  {lost:>6} dead  ({:.2}x one socket's loop speed)",
                f64::from(WIDE_HOSTS) / seconds,
                one / seconds
            );
        }
    }
    // Memory grows with hosts in flight, not hosts in total: a /20 and a /16 at 1,000.
    let small = library_sweep(&netns, "multi", 4_094, 1_000).peak_mib;
    let large = library_sweep(&netns, "multi", HOSTS, 1_000).peak_mib;
    println!("peak memory at 1,000 in flight: /20 {small:.1} MiB, /16 {large:.1} MiB");
}
