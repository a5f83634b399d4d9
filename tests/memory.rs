//! Memory and the pending table over many pings and sweeps. Alone in its test binary, so
//! that the process's resident memory is this test's own.

mod support;

use std::time::Duration;

use futures::StreamExt;
use icmplib::{Family, MultipingOptions, PingOptions, Pinger};
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
    });
}

fn resident_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}
