//! The watch benchmark: loopback targets (127.2.0.1 onwards) probed every second inside a
//! private network namespace, each run in a child process of its own so that its CPU time
//! and peak resident memory are its own.
//!
//! - 5,000 targets for 30 s, next to `fping -l -p 1000` on the same targets in the same
//!   run (the reference: a count fping can run);
//! - the watch alone at 10,000 and at 100,000 targets (fping cannot: its sequence map
//!   holds 65,535 probes in flight over its 10 s expiry).
//!
//! Prints for each: probes settled, replies, CPU time per 1,000 probes, peak resident
//! memory, the spread of the send times (how far each probe left from its ideal time:
//! its first send plus whole periods), the share of the probes due that settled each
//! second, and the targets wrongly reported down.
//!
//! `cargo bench --bench watch` (as root: it makes a namespace; it skips otherwise).
//! `WATCH_SECONDS=N` changes the duration; `WATCH_TARGETS=N` runs the watch at that
//! count only (with fping next to it).

mod common;
#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use icmplib::{Pinger, WatchEvent, WatchOptions};
use support::Netns;

const FIRST: u32 = 0x7f02_0001; // 127.2.0.1
const PERIOD: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_millis(900);

fn setting(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
}

/// CPU time (user + system) of this process, or of its waited-for children, in seconds;
/// and the largest resident size among them, in MiB (see [`peak_of`] for why it is not
/// used for the peaks).
fn usage(who: libc::c_int) -> (f64, f64) {
    // SAFETY: an all-zero rusage is valid; getrusage fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage.
    unsafe { libc::getrusage(who, &mut usage) };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    (
        seconds(usage.ru_utime) + seconds(usage.ru_stime),
        usage.ru_maxrss as f64 / 1024.0,
    )
}

/// Seconds since the Unix epoch.
fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

/// What the child keeps per target, compactly (its own memory counts in the peak): when
/// its first probe left, and how many of its probes settled.
#[derive(Clone, Copy, Default)]
struct Track {
    first: f64,
    settled: u32,
}

/// Send spreads in tenths of a millisecond, up to a second.
struct Spreads {
    buckets: Vec<u64>,
    max: f64,
}

impl Spreads {
    fn new() -> Spreads {
        Spreads {
            buckets: vec![0; 10_001],
            max: 0.0,
        }
    }

    fn add(&mut self, ms: f64) {
        self.max = self.max.max(ms);
        let bucket = ((ms * 10.0) as usize).min(10_000);
        self.buckets[bucket] += 1;
    }

    /// The `p`-th percentile, in milliseconds (to the tenth).
    fn percentile(&self, p: u64) -> f64 {
        let total: u64 = self.buckets.iter().sum();
        let mut seen = 0;
        for (bucket, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen * 100 >= total * p {
                return (bucket + 1) as f64 / 10.0;
            }
        }
        0.0
    }

    fn p99(&self) -> f64 {
        self.percentile(99)
    }
}

/// The child: watches `targets` loopback addresses for `seconds` and prints
/// "probes replies cpu_s peak_mib max_spread_ms p99_spread_ms false_downs missing
/// p50_spread_ms p90_spread_ms", where missing counts the probes due that did not settle.
fn child(targets: u32, seconds: u64, flavor: &str, sockets: usize) {
    let runtime = match flavor {
        "current-thread" => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build()
    .expect("runtime");
    let (cpu_before, _) = usage(libc::RUSAGE_SELF);
    let run = async move {
        let options = WatchOptions::default()
            .period(PERIOD)
            .timeout(TIMEOUT)
            .sockets(sockets)
            .privileged(std::env::var("WATCH_DATAGRAM").is_err());
        // Lazily: the list of names is not held beside the watch's own.
        let addresses = (FIRST..FIRST + targets).map(|address| Ipv4Addr::from(address).to_string());
        let (handle, mut events) = Pinger::new().watch(addresses, &options).expect("watch");
        let start = Instant::now();
        let end = start + Duration::from_secs(seconds);
        let end_unix = unix_seconds(SystemTime::now()) + seconds as f64;
        let mut tracks = vec![Track::default(); targets as usize];
        let mut spreads = Spreads::new();
        let (mut probes, mut replies, mut downs) = (0u64, 0u64, 0u64);
        // One timer for the whole run (a timeout around each event would register and
        // cancel a timer per probe, a cost of the bench and not of the watch).
        let deadline = tokio::time::sleep_until(end.into());
        tokio::pin!(deadline);
        loop {
            let event = tokio::select! {
                biased;
                () = &mut deadline => break,
                event = events.next() => match event {
                    Some(event) => event,
                    None => break,
                },
            };
            let (address, sent) = match &event {
                WatchEvent::Reply {
                    address, rtt, at, ..
                } => {
                    replies += 1;
                    (Some(*address), Some(unix_seconds(*at) - rtt / 1e3))
                }
                WatchEvent::Timeout { address, .. } => (Some(*address), None),
                WatchEvent::Error { address, .. } => (*address, None),
                WatchEvent::State { up: false, .. } => {
                    downs += 1;
                    (None, None)
                }
                _ => (None, None),
            };
            let Some(IpAddr::V4(address)) = address else {
                continue;
            };
            probes += 1;
            let Some(track) = u32::from(address)
                .checked_sub(FIRST)
                .and_then(|index| tracks.get_mut(index as usize))
            else {
                continue;
            };
            if let Some(sent) = sent {
                if track.settled == 0 && track.first == 0.0 {
                    track.first = sent;
                }
                let ideal = track.first + PERIOD.as_secs_f64() * f64::from(track.settled);
                spreads.add((sent - ideal).abs() * 1e3);
            }
            track.settled += 1;
        }
        handle.stop();
        // Every probe due at least a second before the end (its timeout and more) must
        // have settled: each target's from its first send, whole periods apart (a target
        // never probed owes every period but the first).
        let period = PERIOD.as_secs_f64();
        let missing: u64 = tracks
            .iter()
            .map(|track| {
                let owed = if track.first == 0.0 {
                    (seconds as f64 - 2.0) / period
                } else {
                    ((end_unix - 1.0 - track.first) / period).floor() + 1.0
                };
                (owed.max(0.0) as u64).saturating_sub(u64::from(track.settled))
            })
            .sum();
        (probes, replies, spreads, downs, missing)
    };
    let (probes, replies, spreads, downs, missing) = match flavor {
        "spawned" => runtime
            .block_on(async { tokio::spawn(run).await })
            .expect("the watch task"),
        _ => runtime.block_on(run),
    };
    let (cpu_after, _) = usage(libc::RUSAGE_SELF);
    let peak = peak_of(std::process::id()).unwrap_or(0.0);
    println!(
        "{probes} {replies} {} {peak} {} {} {downs} {missing} {} {}",
        cpu_after - cpu_before,
        spreads.max,
        spreads.p99(),
        spreads.percentile(50),
        spreads.percentile(90),
    );
}

/// The peak resident memory of process `pid` so far (`VmHWM`), in MiB. Not `getrusage`:
/// a child's `ru_maxrss` also counts what its parent held when it forked, before the
/// program was loaded (measured: the output of an earlier fping run, 2 MiB, showed as the
/// watch's).
fn peak_of(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The lines of `text` that hold `needle`.
fn lines_with(text: &mut dyn std::io::Read, needle: &str) -> u64 {
    let mut reader = std::io::BufReader::new(text);
    let mut line = String::new();
    let mut found = 0;
    while std::io::BufRead::read_line(&mut reader, &mut line).unwrap_or(0) > 0 {
        found += u64::from(line.contains(needle));
        line.clear();
    }
    found
}

/// fping's loop mode on the same targets for `seconds`: (probes, replies, cpu_s, peak MiB),
/// or None without fping.
fn fping(netns: &Netns, targets: u32, seconds: u64) -> Option<(u64, u64, f64, f64)> {
    let last = Ipv4Addr::from(FIRST + targets - 1).to_string();
    let (cpu_before, _) = usage(libc::RUSAGE_CHILDREN);
    // -i 0: no gap between packets (fping's default of 10 ms would send 100 a second);
    // -p 1000: each target every second; -t 900: as the library's timeout. Started in the
    // namespace directly, so that its own peak memory can be read.
    let mut command = Command::new("fping");
    command
        .args([
            "-l",
            "-p",
            "1000",
            "-i",
            "0",
            "-t",
            "900",
            "-g",
            "127.2.0.1",
        ])
        .arg(&last)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = netns.run(move || command.spawn()).ok()?;
    let pid = child.id();
    // Its output is counted as it comes (a pipe left full would stall it).
    let (mut stdout, mut stderr) = (child.stdout.take()?, child.stderr.take()?);
    let replies = std::thread::spawn(move || lines_with(&mut stdout, " bytes, "));
    let timeouts = std::thread::spawn(move || lines_with(&mut stderr, "timed out"));
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut peak = 0.0f64;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
        peak = peak.max(peak_of(pid).unwrap_or(0.0));
    }
    // SAFETY: kill(2) on the child's pid, which it still holds: not yet waited for.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
    child.wait().ok()?;
    let (replies, timeouts) = (replies.join().ok()?, timeouts.join().ok()?);
    let (cpu_after, _) = usage(libc::RUSAGE_CHILDREN);
    if replies == 0 {
        return None;
    }
    Some((replies + timeouts, replies, cpu_after - cpu_before, peak))
}

/// The watch of `targets` for `seconds`, in a child: its figures, printed; returns its CPU
/// per 1,000 probes and its peak in MiB.
fn watch(netns: &Netns, targets: u32, seconds: u64, sockets: usize) -> (f64, f64) {
    let exe = std::env::current_exe().expect("current_exe");
    let output = netns.run_program(
        &exe,
        &[
            "--child",
            &targets.to_string(),
            &seconds.to_string(),
            "block_on",
            &sockets.to_string(),
        ],
        Duration::from_secs(seconds + 120),
    );
    let figures = common::child_figures(&output, 10);
    let (probes, replies, cpu, peak) = (figures[0], figures[1], figures[2], figures[3]);
    let per_thousand = cpu * 1e3 / (probes / 1e3);
    println!(
        "  icmplib watch   {targets:>7} targets {sockets} socket(s) {probes:>9.0} probes \
         {replies:>9.0} replies  {per_thousand:>6.1} ms CPU per 1,000 probes  peak {peak:>6.1} MiB \
         ({:.2} KiB a target)  send spread p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max \
         {:.1} ms  {:.0} probes due not settled  {:.0} false downs",
        peak * 1024.0 / f64::from(targets),
        figures[8],
        figures[9],
        figures[5],
        figures[4],
        figures[7],
        figures[6]
    );
    (per_thousand, peak)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "--child") {
        child(
            args[at + 1].parse().expect("targets"),
            args[at + 2].parse().expect("seconds"),
            args.get(at + 3).map_or("block_on", String::as_str),
            args.get(at + 4).and_then(|n| n.parse().ok()).unwrap_or(1),
        );
        return;
    }
    if !common::root_or_skip("watch") {
        return;
    }
    let seconds = setting("WATCH_SECONDS").unwrap_or(30);
    let netns = Netns::new("watchb");
    let with_fping = setting("WATCH_TARGETS").map_or(5_000, |targets| targets as u32);
    println!(
        "watch of {with_fping} loopback targets, one probe each per second, for {seconds} s, \
         next to fping"
    );
    let fping = fping(&netns, with_fping, seconds);
    let (per_thousand, peak) = watch(&netns, with_fping, seconds, 1);
    match fping {
        Some((probes, replies, cpu, fping_peak)) => {
            let fping_per_thousand = cpu * 1e3 / (probes as f64 / 1e3);
            println!(
                "  fping -l -p1000 {with_fping:>7} targets {probes:>9} probes {replies:>9} replies  \
                 {fping_per_thousand:>6.1} ms CPU per 1,000 probes  peak {fping_peak:>6.1} MiB"
            );
            println!(
                "  against fping: CPU per probe {:.2}x, peak memory {:.2}x",
                per_thousand / fping_per_thousand,
                peak / fping_peak
            );
        }
        None => println!("  fping: not installed (or no reply), skipped"),
    }
    if setting("WATCH_TARGETS").is_some() {
        return;
    }
    println!("the watch alone, beyond what fping can run");
    watch(&netns, 10_000, seconds, 1);
    // One thread's sends keep up with about 60,000 probes a second here: two sockets.
    watch(&netns, 100_000, seconds, 2);
}
