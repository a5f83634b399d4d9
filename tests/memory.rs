//! Memory and the pending table over many pings and sweeps. Alone in its test binary, so
//! that the process's resident memory is this test's own.

mod support;

use std::time::Duration;

use futures::StreamExt;
use icmplib::{Family, MultipingOptions, PingOptions, Pinger};
use support::process::resident_kib;
use support::{Netns, SimulatedNet};

support::harness::tests![
    Root many_pings_and_sweeps_leave_nothing_in_flight_and_memory_flat,
];

fn main() -> std::process::ExitCode {
    support::harness::run(tests())
}

fn many_pings_and_sweeps_leave_nothing_in_flight_and_memory_flat() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("pingmem");
    // A silent host behind a TUN, for the abandoned ping at the end.
    let _net = SimulatedNet::new(&netns);
    netns.block_on_multi(|| async {
        let pinger = Pinger::new();
        let options = PingOptions::default()
            .count(1)
            .interval(Duration::ZERO)
            .timeout(Duration::from_secs(1));
        let run = |pings: usize| {
            let pinger = pinger.clone();
            let options = options.clone();
            async move {
                let workers: Vec<_> = (0..100usize)
                    .map(|worker| {
                        let (pinger, options) = (pinger.clone(), options.clone());
                        tokio::spawn(async move {
                            let address = format!("127.4.{}.{}", worker / 200, worker % 200 + 1);
                            for _ in 0..pings / 100 {
                                let host = pinger.ping(&address, &options).await.unwrap();
                                assert!(host.is_alive(), "{host}");
                            }
                        })
                    })
                    .collect();
                for worker in workers {
                    worker.await.unwrap();
                }
            }
        };
        run(20_000).await;
        let warm = resident_kib();
        run(180_000).await;
        let after = resident_kib();
        assert_eq!(pinger.requests_in_flight(), 0);
        assert!(
            after < warm + 8 * 1024,
            "resident memory grew from {warm} KiB to {after} KiB"
        );

        // A ping whose future is dropped leaves nothing behind either.
        let silent = SimulatedNet::host(Family::V4, 200).to_string();
        let abandoned =
            tokio::time::timeout(Duration::from_millis(100), pinger.ping(&silent, &options)).await;
        assert!(
            abandoned.is_err(),
            "the ping should still have been waiting"
        );
        assert_eq!(pinger.requests_in_flight(), 0);

        // Nor do requests that time out.
        let short = options.clone().count(3).timeout(Duration::from_millis(50));
        let timed_out: Vec<_> = (0..20)
            .map(|_| {
                let (pinger, silent, short) = (pinger.clone(), silent.clone(), short.clone());
                tokio::spawn(async move { pinger.ping(&silent, &short).await.unwrap() })
            })
            .collect();
        for host in timed_out {
            let host = host.await.unwrap();
            assert_eq!(
                (host.packets_sent(), host.packets_received()),
                (3, 0),
                "{host}"
            );
        }
        assert_eq!(pinger.requests_in_flight(), 0);

        // A health-check daemon: the same sweep again and again.
        let targets: Vec<String> = (1..=2_000u32)
            .map(|i| std::net::Ipv4Addr::from(0x7f06_0000 + i).to_string())
            .collect();
        let sweep_options = MultipingOptions::default()
            .count(1)
            .timeout(Duration::from_secs(1))
            .concurrent_tasks(500);
        let sweep = |rounds: usize| {
            let (pinger, targets, sweep_options) =
                (pinger.clone(), targets.clone(), sweep_options.clone());
            async move {
                for _ in 0..rounds {
                    let stream = pinger
                        .multiping_stream(targets.clone(), &sweep_options)
                        .unwrap();
                    let alive = stream.filter(|host| std::future::ready(host.is_alive()));
                    assert_eq!(alive.count().await, targets.len());
                }
            }
        };
        sweep(10).await;
        let warm = resident_kib();
        sweep(100).await;
        let after = resident_kib();
        assert_eq!(pinger.requests_in_flight(), 0);
        assert!(
            after < warm + 4 * 1024,
            "resident memory grew from {warm} KiB to {after} KiB over 200,000 hosts swept"
        );

        // Sockets opened and closed, a source address each (a pinger per source, as a
        // caller with a different source per call makes): once the heap is warm with
        // closed ones, an open socket that read replies costs at most 300 KB resident.
        // Its read batch (64 slots of 64 KiB) was zeroed from reused heap: 3.7 MB each.
        let open = |round: u8| async move {
            let mut pingers = Vec::new();
            for n in 1..=SOCKETS {
                let source = std::net::Ipv4Addr::new(127, 7, round, n);
                let pinger = Pinger::builder().source(source.into()).build();
                let host = pinger
                    .ping(
                        "127.0.0.1",
                        &PingOptions::default().count(2).interval(Duration::ZERO),
                    )
                    .await
                    .unwrap();
                assert!(host.is_alive(), "{host}");
                pingers.push(pinger);
            }
            pingers
        };
        for round in 1..=3 {
            drop(open(round).await);
        }
        let warm = resident_kib();
        let held = open(4).await;
        let after = resident_kib();
        let per_socket = after.saturating_sub(warm) * 1024 / usize::from(SOCKETS);
        println!("{per_socket} bytes resident per open socket ({warm} KiB, then {after} KiB)");
        assert!(
            per_socket <= 300_000,
            "{per_socket} bytes resident per open socket ({warm} KiB, then {after} KiB)"
        );
        drop(held);
    });
}

/// Sockets opened at once by source address in the memory check.
const SOCKETS: u8 = 50;
