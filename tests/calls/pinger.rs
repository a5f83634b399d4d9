//! `Pinger`, the owner of the sockets, on real packets: sockets belong to the runtime that
//! drives them, one-off sources do not pile up sockets, a socket out of the reactor during
//! a burst wakes its requests again, and the rule for the options' `privileged` and
//! `source`.

use crate::support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use icmplib::{Error, PingOptions, Pinger, async_ping};
use support::{Netns, icmp_sockets};

support::harness::tests![
    Root a_pinger_answers_on_a_second_runtime_while_the_first_is_idle,
    Root one_off_source_addresses_leave_no_sockets_behind,
    Root a_request_after_a_burst_is_woken_by_its_reply,
    Root the_options_privileged_and_source_override_the_pingers_own,
];

fn fast(count: usize) -> PingOptions {
    PingOptions::default()
        .count(count)
        .interval(Duration::ZERO)
        .timeout(Duration::from_secs(1))
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The ICMP datagram ("ping") sockets of this process, IPv4 and IPv6.
fn datagram_sockets() -> usize {
    let inodes: std::collections::HashSet<String> = ["icmp", "icmp6"]
        .iter()
        .flat_map(|table| {
            std::fs::read_to_string(format!("/proc/thread-self/net/{table}"))
                .unwrap_or_default()
                .lines()
                .skip(1)
                .filter_map(|line| line.split_whitespace().nth(9).map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .filter(|target| {
            let target = target.to_string_lossy();
            target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .is_some_and(|inode| inodes.contains(inode))
        })
        .count()
}

/// A pinger whose sockets were opened on runtime A, used on runtime B while A sits idle
/// (alive, never driven again): B must get its replies when they come, not when its
/// requests time out. Before sockets belonged to their runtime, the replies waited for
/// A's receive task, and each request took its whole timeout.
fn a_pinger_answers_on_a_second_runtime_while_the_first_is_idle() {
    if !support::require_root() {
        return;
    }
    Netns::new("pingrb").run(|| {
        let pinger = Pinger::new();
        let idle = current_thread();
        let host = idle.block_on(pinger.ping("127.0.0.1", &fast(1))).unwrap();
        assert!(host.is_alive());
        // Runtime A is kept, idle, for the rest of the test.
        let options = fast(3).timeout(Duration::from_secs(30));
        let started = Instant::now();
        let host = current_thread()
            .block_on(pinger.ping("127.0.0.1", &options))
            .unwrap();
        let took = started.elapsed();
        assert_eq!(host.packets_received(), 3, "{host}");
        assert!(
            took < Duration::from_secs(10),
            "took {took:?}: timeout time"
        );
        drop(idle);
    });
}

/// 1,000 pings, each from a source address of its own: once they have ended, a handful
/// of sockets stay open (the ones used last), not one per source.
fn one_off_source_addresses_leave_no_sockets_behind() {
    if !support::require_root() {
        return;
    }
    Netns::new("pingfd").block_on_multi(|| async {
        assert_eq!(icmp_sockets(), (0, 0));
        for batch in 0..10u8 {
            let tasks: Vec<_> = (1..=100u8)
                .map(|host| {
                    let source = IpAddr::V4(Ipv4Addr::new(127, 9, batch, host));
                    tokio::spawn(
                        async move { async_ping("127.0.0.1", &fast(1).source(source)).await },
                    )
                })
                .collect();
            for task in tasks {
                let host = task.await.unwrap().unwrap();
                assert_eq!(host.packets_received(), 1, "{host}");
            }
        }
        // The reader tasks of the engines nobody uses end on their next turn.
        let mut open = icmp_sockets();
        for _ in 0..100 {
            if open.0 <= 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            open = icmp_sockets();
        }
        assert!(open.0 <= 4 && open.1 == 0, "{open:?} sockets still open");
    });
}

/// While replies keep coming the reader takes the socket out of the reactor and reads on
/// its own; once the burst is over it must register the socket again, or the next
/// request would wait for its timeout (here a minute).
fn a_request_after_a_burst_is_woken_by_its_reply() {
    if !support::require_root() {
        return;
    }
    Netns::new("pingwake").block_on_multi(|| async {
        let pinger = Pinger::new();
        let patient = fast(1).timeout(Duration::from_secs(60));
        for round in 0..3u8 {
            let burst: Vec<_> = (1..=200u8)
                .map(|host| {
                    let (pinger, options) = (pinger.clone(), patient.clone());
                    tokio::spawn(async move {
                        let address = Ipv4Addr::new(127, 3, round, host).to_string();
                        pinger.ping(&address, &options).await
                    })
                })
                .collect();
            for task in burst {
                let host = tokio::time::timeout(Duration::from_secs(10), task)
                    .await
                    .expect("woken by its reply")
                    .unwrap()
                    .unwrap();
                assert!(host.is_alive(), "{host}");
            }
            // Idle: the reader went back to the reactor.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let single =
                tokio::time::timeout(Duration::from_secs(10), pinger.ping("127.0.0.1", &patient))
                    .await
                    .expect("woken by its reply")
                    .unwrap();
            assert!(single.is_alive(), "{single}");
        }
        assert_eq!(pinger.requests_in_flight(), 0);
    });
}

/// A pinger's `privileged` and `source` apply unless the options ask for something else:
/// `privileged: false`, or a source of their own.
fn the_options_privileged_and_source_override_the_pingers_own() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("pingrule");
    netns.allow_unprivileged_ping();
    netns.block_on(|| async {
        // An unprivileged pinger with default options (privileged: true) stays unprivileged.
        let datagram = Pinger::builder().privileged(false).build();
        let host = datagram.ping("127.0.0.1", &fast(1)).await.unwrap();
        assert!(host.is_alive());
        assert_eq!(icmp_sockets(), (0, 0));
        assert_eq!(datagram_sockets(), 1);
        // A raw pinger asked for datagram sockets by the options opens one.
        let raw = Pinger::new();
        let host = raw
            .ping("127.0.0.1", &fast(1).privileged(false))
            .await
            .unwrap();
        assert!(host.is_alive());
        assert_eq!(icmp_sockets(), (0, 0));
        assert_eq!(datagram_sockets(), 2);
        // The pinger's source applies...
        let absent: IpAddr = "192.0.2.1".parse().unwrap();
        let elsewhere = Pinger::builder().source(absent).build();
        let error = elsewhere.ping("127.0.0.1", &fast(1)).await.unwrap_err();
        assert!(matches!(error, Error::SocketAddress { address } if address == absent));
        // ...unless the options name their own.
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let host = elsewhere
            .ping("127.0.0.1", &fast(1).source(local))
            .await
            .unwrap();
        assert!(host.is_alive());
    });
}
