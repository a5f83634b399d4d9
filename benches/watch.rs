//! The watch benchmark: 10,000 loopback targets (127.2.0.1 onwards) probed every second
//! for 30 s inside a private network namespace, next to `fping -l -p 1000` on the same
//! targets in the same run. Prints, for each: probes settled, replies, CPU time per 1,000
//! probes, peak resident memory, and for the library the spread of its send times (how
//! far each probe left from its ideal time, first send + n periods) and the targets it
//! wrongly reported down.
//!
//! `cargo bench --bench watch` (as root: it makes a namespace; it skips otherwise).
//! `WATCH_SECONDS=N` and `WATCH_TARGETS=N` change the duration and the number of targets.

mod common;
#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use icmplib::{Pinger, WatchEvent, WatchOptions};
use support::Netns;

const FIRST: u32 = 0x7f02_0001; // 127.2.0.1
const PERIOD: Duration = Duration::from_secs(1);

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// CPU time (user + system) of this process, or of its waited-for children, in seconds;
/// and the largest resident size among them, in MiB.
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

/// The child: watches `targets` loopback addresses for `seconds` and prints
/// "probes replies cpu_s peak_mib max_spread_ms p99_spread_ms false_downs".
fn child(targets: u32, seconds: u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let addresses: Vec<String> = (FIRST..FIRST + targets)
        .map(|address| Ipv4Addr::from(address).to_string())
        .collect();
    let (cpu_before, _) = usage(libc::RUSAGE_SELF);
    let (probes, replies, spreads, downs) = runtime.block_on(async move {
        let options = WatchOptions::default()
            .period(PERIOD)
            .timeout(Duration::from_millis(900));
        let (handle, mut events) = Pinger::new().watch(addresses, &options).expect("watch");
        let end = Instant::now() + Duration::from_secs(seconds);
        // Per target: its first send time and the probes settled since.
        let mut schedule: HashMap<String, (SystemTime, u32)> = HashMap::new();
        let mut spreads = Vec::new();
        let (mut probes, mut replies, mut downs) = (0u64, 0u64, 0u64);
        while let Ok(Some(event)) = tokio::time::timeout_at(end.into(), events.next()).await {
            match event {
                WatchEvent::Reply {
                    target, rtt, at, ..
                } => {
                    probes += 1;
                    replies += 1;
                    let sent = at - rtt;
                    let (first, settled) = schedule.entry(target).or_insert((sent, 0));
                    let ideal = *first + PERIOD * *settled;
                    let spread = match sent.duration_since(ideal) {
                        Ok(late) => late,
                        Err(early) => early.duration(),
                    };
                    spreads.push(spread.as_secs_f64() * 1e3);
                    *settled += 1;
                }
                WatchEvent::Timeout { target, .. } | WatchEvent::Error { target, .. } => {
                    probes += 1;
                    if let Some((_, settled)) = schedule.get_mut(&target) {
                        *settled += 1;
                    }
                }
                WatchEvent::State { up: false, .. } => downs += 1,
                _ => {}
            }
        }
        handle.stop();
        (probes, replies, spreads, downs)
    });
    let (cpu_after, peak) = usage(libc::RUSAGE_SELF);
    let max = spreads.iter().copied().fold(0.0, f64::max);
    let mut sorted = spreads;
    sorted.sort_by(f64::total_cmp);
    let p99 = sorted
        .get((sorted.len() * 99 / 100).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0);
    println!(
        "{probes} {replies} {} {peak} {max} {p99} {downs}",
        cpu_after - cpu_before
    );
}

/// fping's loop mode on the same targets for `seconds`: (probes, replies, cpu_s, peak MiB),
/// or None without fping.
fn fping(netns: &Netns, targets: u32, seconds: u64) -> Option<(u64, u64, f64, f64)> {
    let last = Ipv4Addr::from(FIRST + targets - 1).to_string();
    let (cpu_before, _) = usage(libc::RUSAGE_CHILDREN);
    // -i 0: no gap between packets (fping's default of 10 ms would send 100 a second);
    // -p 1000: each target every second; -t 900: as the library's timeout.
    let output = Command::new("ip")
        .args(["netns", "exec", netns.name(), "timeout", "-s", "INT"])
        .arg(seconds.to_string())
        .args([
            "fping",
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
        .output()
        .ok()?;
    let (cpu_after, peak) = usage(libc::RUSAGE_CHILDREN);
    let text = String::from_utf8_lossy(&output.stdout);
    let replies = text
        .lines()
        .filter(|line| line.contains(" bytes, "))
        .count() as u64;
    if replies == 0 {
        return None;
    }
    let timeouts = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|line| line.contains("timed out"))
        .count() as u64;
    Some((replies + timeouts, replies, cpu_after - cpu_before, peak))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|arg| arg == "--child") {
        child(
            args[at + 1].parse().expect("targets"),
            args[at + 2].parse().expect("seconds"),
        );
        return;
    }
    if !common::root_or_skip("watch") {
        return;
    }
    let targets = u32::try_from(setting("WATCH_TARGETS", 10_000)).expect("targets");
    let seconds = setting("WATCH_SECONDS", 30);
    let netns = Netns::new("watchb");
    println!("watch of {targets} loopback targets, one probe each per second, for {seconds} s");
    // fping first: the peak resident size of children is the largest of any so far.
    let fping = fping(&netns, targets, seconds);
    let exe = std::env::current_exe().expect("current_exe");
    let output = netns.run_program(
        &exe,
        &["--child", &targets.to_string(), &seconds.to_string()],
        Duration::from_secs(seconds + 60),
    );
    let figures = common::child_figures(&output, 7);
    let (probes, replies, cpu, peak) = (figures[0], figures[1], figures[2], figures[3]);
    let per_thousand = cpu * 1e3 / (probes / 1e3);
    println!(
        "  icmplib watch   {probes:>9.0} probes {replies:>9.0} replies  {per_thousand:>6.1} ms CPU per 1,000 probes  peak {peak:>6.1} MiB  send spread max {:.1} ms, p99 {:.1} ms  {:.0} false downs",
        figures[4], figures[5], figures[6]
    );
    match fping {
        Some((probes, replies, cpu, peak)) => {
            let fping_per_thousand = cpu * 1e3 / (probes as f64 / 1e3);
            println!(
                "  fping -l -p1000 {probes:>9} probes {replies:>9} replies  {fping_per_thousand:>6.1} ms CPU per 1,000 probes  peak {peak:>6.1} MiB"
            );
            println!(
                "  CPU per probe: {:.2}x fping",
                per_thousand / fping_per_thousand
            );
        }
        None => println!("  fping: not installed (or no reply), skipped"),
    }
}
