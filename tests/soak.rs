//! A health-check daemon's week in a minute: one pinger sweeps the same lab
//! round after round, with a fault injected between rounds — a slow link, a small
//! receive buffer, the name server dead and back, the file descriptor limit lowered, a
//! runtime shut down mid-sweep. After every round: no live host reported dead except
//! those the active fault touches, nothing in flight; at the end, file descriptors and
//! live heap bytes where they were once warm. (Resident memory is printed but not
//! judged: it grows by whole malloc arenas as threads come and go, ~8 MiB at a time,
//! while the live bytes stay flat.)

mod support;

use std::net::IpAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use icmplib::{Error, Family, Host, LookupFailure, MultipingOptions, Pinger, Resolver};
use support::process::{live_kib, open_files, resident_kib};
use support::{DnsResponder, Lab};

support::harness::tests![
    Root a_daemon_sweeps_through_its_faults,
];

fn main() -> std::process::ExitCode {
    support::harness::run(tests())
}

#[global_allocator]
static ALLOCATOR: support::process::Counting = support::process::Counting;

/// Addresses per family swept each round, and names.
const ADDRESSES: u32 = 150;
const NAMES: u32 = 20;

/// The faults, one per round, in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    SlowLink,
    SmallReceiveBuffer,
    DeadNameServer,
    FewFileDescriptors,
    RuntimeShutDownMidSweep,
}

const FAULTS: [Fault; 12] = [
    Fault::None,
    Fault::SlowLink,
    Fault::None,
    Fault::SmallReceiveBuffer,
    Fault::DeadNameServer,
    Fault::None,
    Fault::FewFileDescriptors,
    Fault::None,
    Fault::RuntimeShutDownMidSweep,
    Fault::SlowLink,
    Fault::DeadNameServer,
    Fault::None,
];

/// Rounds in all: the faults three times over.
const ROUNDS: usize = 3 * FAULTS.len();

fn v4(n: u32) -> IpAddr {
    Lab::host(Family::V4, n)
}

fn v6(n: u32) -> IpAddr {
    Lab::host(Family::V6, n)
}

/// The targets of round `round`: addresses of both families, the names every round
/// asks for (which a resolver may answer from its cache), and names of its own (which
/// only a name server can answer).
fn targets(round: usize) -> Vec<String> {
    let mut targets: Vec<String> = (1..=ADDRESSES)
        .flat_map(|n| [v4(n).to_string(), v6(n).to_string()])
        .collect();
    targets.extend((1..=NAMES).map(|n| format!("h{n}.test")));
    targets.extend((1..=5).map(|n| format!("r{round}-{n}.test")));
    targets
}

/// The names the name server knows, with their addresses.
fn records() -> Vec<(String, Vec<IpAddr>)> {
    let mut records: Vec<(String, Vec<IpAddr>)> = (1..=NAMES)
        .map(|n| (format!("h{n}.test"), vec![v4(n), v6(n)]))
        .collect();
    for round in 0..ROUNDS {
        records.extend((1..=5).map(|n| (format!("r{round}-{n}.test"), vec![v4(n)])));
    }
    records
}

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Lowers this process's soft limit of open files to `limit`; returns the old one.
fn set_open_files_limit(limit: u64) -> u64 {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `current` is a valid rlimit for the kernel to fill in, then to read.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut current), 0);
        let lowered = libc::rlimit {
            rlim_cur: limit,
            rlim_max: current.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lowered), 0);
    }
    current.rlim_cur
}

/// Checks a round's hosts against its fault.
fn check(round: usize, fault: Fault, hosts: &[Host]) {
    for host in hosts {
        let target = host.target();
        let fresh_name = target.starts_with('r') && target.ends_with(".test");
        let cached_name = target.starts_with('h') && target.ends_with(".test");
        let timed_out = matches!(
            host.error(),
            Some(Error::NameLookup {
                failure: LookupFailure::Timeout,
                ..
            })
        );
        let local = matches!(
            host.error(),
            Some(Error::NameLookup {
                failure: LookupFailure::Local,
                ..
            })
        );
        match fault {
            // A name the resolver has cached still resolves; one it has not fails, saying
            // the server did not answer. The addresses do not wait for either.
            Fault::DeadNameServer if cached_name && timed_out => {}
            Fault::DeadNameServer if fresh_name => {
                assert!(timed_out, "round {round} ({fault:?}): {host}");
            }
            // Out of descriptors, a lookup fails saying it was this machine's fault.
            Fault::FewFileDescriptors if (cached_name || fresh_name) && local => {}
            _ => assert!(
                host.is_alive() && host.packets_received() == 2,
                "round {round} ({fault:?}): {host}"
            ),
        }
    }
}

fn a_daemon_sweeps_through_its_faults() {
    if !support::require_root() {
        return;
    }
    let Lab {
        client,
        target: _target,
    } = Lab::new("soak");
    let records = records();
    let records: Vec<(&str, &[IpAddr])> = records
        .iter()
        .map(|(name, addresses)| (name.as_str(), addresses.as_slice()))
        .collect();
    let dns = Arc::new(DnsResponder::start(&client, &records));
    let server = dns.address();
    let client_name = client.name().to_string();
    let faults = Arc::clone(&dns);

    client.run(move || {
        let resolver = Resolver::builder()
            .name_servers(&[server])
            .timeout(Duration::from_millis(300))
            .attempts(1)
            .build()
            .unwrap();
        let pinger = Pinger::builder().resolver(resolver.clone()).build();
        let options = MultipingOptions::default()
            .count(2)
            .interval(Duration::ZERO)
            .timeout(Duration::from_secs(2))
            .concurrent_tasks(100);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut warm = None;
        for (round, fault) in FAULTS.into_iter().cycle().take(ROUNDS).enumerate() {
            let targets = targets(round);
            // Inject.
            let mut limit = None;
            let mut round_pinger = pinger.clone();
            match fault {
                Fault::SlowLink => run(
                    "ip",
                    &[
                        "netns", "exec", &client_name, "tc", "qdisc", "add", "dev", "out",
                        "root", "tbf", "rate", "1mbit", "burst", "2kb", "limit", "10kb",
                    ],
                ),
                Fault::SmallReceiveBuffer => {
                    round_pinger = Pinger::builder()
                        .resolver(resolver.clone())
                        .recv_buffer_size(4 << 10)
                        .build();
                }
                Fault::DeadNameServer => faults.set_silent(true),
                Fault::FewFileDescriptors => {
                    // Room for what is open and a few more: name lookups run short.
                    limit = Some(set_open_files_limit(open_files() as u64 + 4));
                }
                Fault::RuntimeShutDownMidSweep => {
                    // Another runtime starts a sweep on the same pinger and is dropped
                    // while it runs: its requests must be forgotten, its sockets closed.
                    let (pinger, targets, options) =
                        (pinger.clone(), targets.clone(), options.clone());
                    std::thread::spawn(move || {
                        let doomed = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .unwrap();
                        let _ = doomed.block_on(async {
                            tokio::time::timeout(
                                Duration::from_millis(20),
                                pinger.multiping(&targets, &options.timeout(Duration::from_secs(5))),
                            )
                            .await
                        });
                        drop(doomed);
                    })
                    .join()
                    .unwrap();
                }
                Fault::None => {}
            }
            let hosts = runtime.block_on(round_pinger.multiping(&targets, &options));
            // Restore.
            match fault {
                Fault::SlowLink => run(
                    "ip",
                    &["netns", "exec", &client_name, "tc", "qdisc", "del", "dev", "out", "root"],
                ),
                Fault::DeadNameServer => faults.set_silent(false),
                _ => {}
            }
            if let Some(limit) = limit {
                set_open_files_limit(limit);
            }
            let hosts = match hosts {
                Ok(hosts) => hosts,
                // With few descriptors, running out is the call's error, named as such.
                Err(Error::TooManyOpenFiles { .. }) if fault == Fault::FewFileDescriptors => {
                    eprintln!("round {round:2} {fault:?}: the call ran out of descriptors");
                    continue;
                }
                Err(error) => panic!("round {round} ({fault:?}): {error}"),
            };
            check(round, fault, &hosts);
            let alive = hosts.iter().filter(|host| host.is_alive()).count();
            eprintln!(
                "round {round:2} {fault:?}: {alive}/{} alive, {} files, {} KiB resident, {} KiB live",
                hosts.len(),
                open_files(),
                resident_kib(),
                live_kib()
            );
            assert_eq!(pinger.requests_in_flight(), 0, "round {round} ({fault:?})");
            assert_eq!(round_pinger.requests_in_flight(), 0, "round {round}");
            drop(round_pinger);
            if round == 2 {
                warm = Some((open_files(), live_kib()));
            }
        }
        // Engines nobody uses any more close when their reader notices.
        runtime.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
        let (files, live) = (open_files(), live_kib());
        let (warm_files, warm_live) = warm.unwrap();
        assert!(
            files <= warm_files + 4,
            "{files} open files at the end, {warm_files} once warm"
        );
        // The resolver caches each round's fresh names, about a kibibyte each (without
        // them the live bytes stay within 10 KiB of warm over all the rounds); an engine
        // left behind would hold megabytes, a request's state a hundred bytes each.
        let fresh_names = 5 * (ROUNDS - 3) as isize;
        assert!(
            live <= warm_live + 2 * fresh_names,
            "{live} KiB live at the end, {warm_live} KiB once warm"
        );
    });
    drop(dns);
}
