//! `multiping`, `async_multiping` and `multiping_stream` on real packets: loopback sweeps
//! at several concurrency levels, a mix of live, unreachable, silent and unresolvable
//! targets in the router chain, lazy targets, the rate limit, unprivileged sweeps.

use crate::support;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use icmplib::{
    Error, Family, MultipingOptions, Pinger, Resolver, SocketKind, async_multiping, multiping,
    multiping_stream,
};
use support::{Chain, Craft, DnsResponder, Netns, Reject, Reply, SimulatedNet};

support::harness::tests![
    Root a_slash_20_is_all_alive_in_input_order_at_every_concurrency,
    Root blocking_multiping_works_from_a_plain_thread,
    Root each_target_gets_its_own_result_in_the_router_chain,
    Root the_stream_pulls_targets_only_as_room_frees_up,
    Root a_sweep_leaves_turns_to_the_other_tasks_of_its_runtime,
    Root a_sweep_forgets_requests_that_timed_out_or_were_abandoned,
    Root a_sweep_waits_for_room_when_the_send_buffer_is_full,
    Root a_sweep_of_names_alone_finishes,
    Root a_huge_interval_waits_instead_of_panicking,
    Root the_rate_limit_spaces_requests,
    Root whole_call_failures_are_errors,
    Root no_round_trip_is_zero,
    Root more_than_65_536_requests_to_one_address_all_leave,
    Root a_sweep_over_several_sockets_finds_every_host_once,
];

/// The `hosts` first host addresses of 127.1.0.0/16.
fn loopback_block(hosts: u32) -> Vec<String> {
    (1..=hosts)
        .map(|i| Ipv4Addr::from(0x7f01_0000 + i).to_string())
        .collect()
}

fn sweep_options(in_flight: usize) -> MultipingOptions {
    MultipingOptions::default()
        .count(1)
        .timeout(Duration::from_secs(1))
        .concurrent_tasks(in_flight)
}

fn a_slash_20_is_all_alive_in_input_order_at_every_concurrency() {
    if !support::require_root() {
        return;
    }
    Netns::new("mp20").block_on_multi(|| async {
        let targets = loopback_block(4094);
        for in_flight in [100, 1000, 4094] {
            let hosts = async_multiping(&targets, &sweep_options(in_flight))
                .await
                .unwrap();
            assert_eq!(hosts.len(), targets.len());
            for (host, target) in hosts.iter().zip(&targets) {
                assert_eq!(host.address(), target, "input order");
                assert!(host.is_alive(), "{host} at {in_flight} in flight");
                assert_eq!((host.packets_sent(), host.packets_received()), (1, 1));
            }
        }
        // The stream finds the same, as hosts finish.
        let mut stream =
            std::pin::pin!(multiping_stream(loopback_block(4094), &sweep_options(1000)).unwrap());
        let (mut seen, mut alive) = (0, 0);
        while let Some(host) = stream.next().await {
            seen += 1;
            alive += usize::from(host.is_alive());
        }
        assert_eq!((seen, alive), (4094, 4094));
    });
}

fn blocking_multiping_works_from_a_plain_thread() {
    if !support::require_root() {
        return;
    }
    Netns::new("mpbl").run(|| {
        let hosts = multiping(["127.0.0.1", "::1", "127.0.0.2"], &sweep_options(10)).unwrap();
        let addresses: Vec<&str> = hosts.iter().map(|host| host.address()).collect();
        assert_eq!(addresses, ["127.0.0.1", "::1", "127.0.0.2"]);
        assert!(hosts.iter().all(|host| host.is_alive()));
    });
}

fn each_target_gets_its_own_result_in_the_router_chain() {
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(2);
    chain.warm_up();
    let dns = DnsResponder::start(
        chain.client(),
        &[("target.test", &[chain.target(Family::V6)])],
    );
    let server = dns.address();
    let last4 = chain.last_router_address(Family::V4);
    let last6 = chain.last_router_address(Family::V6);
    let targets: Vec<String> = [
        chain.target(Family::V4).to_string(),
        chain
            .rejected(Reject::HostUnreachable, Family::V4)
            .to_string(),
        chain.silent(Family::V4).to_string(),
        "missing.test".to_string(),
        "target.test".to_string(),
        chain.rejected(Reject::NoRoute, Family::V6).to_string(),
        chain.silent(Family::V6).to_string(),
    ]
    .into();
    let expected_target6 = chain.target(Family::V6);
    let hosts = chain.client().block_on(move || async move {
        let pinger = Pinger::builder()
            .resolver(Resolver::with_name_servers(&[server]).unwrap())
            .build();
        let options = MultipingOptions::default()
            .count(2)
            .interval(Duration::from_millis(10))
            .timeout(Duration::from_millis(500));
        pinger.multiping(&targets, &options).await.unwrap()
    });
    let summary: Vec<String> = hosts.iter().map(ToString::to_string).collect();
    let [live, unreachable, silent, missing, named, no_route, silent6] = &hosts[..] else {
        panic!("{summary:#?}")
    };
    assert!(live.is_alive() && live.error().is_none(), "{live}");
    assert!(!unreachable.is_alive(), "{unreachable}");
    assert!(
        matches!(unreachable.error(), Some(Error::DestinationUnreachable { source, code: 1, family: Family::V4 }) if *source == last4),
        "{unreachable}"
    );
    assert_eq!(unreachable.packets_sent(), 2);
    assert!(!silent.is_alive() && silent.error().is_none(), "{silent}");
    assert_eq!(silent.packets_sent(), 2);
    assert_eq!(missing.address(), "missing.test");
    assert!(
        matches!(missing.error(), Some(Error::NameLookup { .. })),
        "{missing}"
    );
    assert_eq!(missing.packets_sent(), 0);
    assert_eq!(named.ip(), Some(expected_target6));
    assert_eq!(named.target(), "target.test");
    assert!(named.is_alive(), "{named}");
    assert!(
        matches!(no_route.error(), Some(Error::DestinationUnreachable { source, code: 0, family: Family::V6 }) if *source == last6),
        "{no_route}"
    );
    assert!(
        !silent6.is_alive() && silent6.error().is_none(),
        "{silent6}"
    );
}

fn the_stream_pulls_targets_only_as_room_frees_up() {
    if !support::require_root() {
        return;
    }
    Netns::new("mplazy").block_on(|| async {
        let pulled = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&pulled);
        // A million targets, produced lazily: only those in flight are ever held.
        let targets = (0u32..1_000_000).map(move |i| {
            counter.fetch_add(1, Ordering::Relaxed);
            IpAddr::from(Ipv4Addr::from(0x7f05_0001 + i)).to_string()
        });
        let in_flight = 20;
        let mut stream =
            std::pin::pin!(multiping_stream(targets, &sweep_options(in_flight)).unwrap());
        for done in 1..=500 {
            let host = stream.next().await.unwrap();
            assert!(host.is_alive(), "{host}");
            let pulled = pulled.load(Ordering::Relaxed);
            assert!(
                pulled <= done + in_flight,
                "{pulled} targets pulled for {done} hosts done"
            );
        }
    });
}

/// Returns `Pending` once after waking its task: a turn at the back of the run queue.
async fn one_turn() {
    let mut waited = false;
    std::future::poll_fn(|cx| {
        if waited {
            return std::task::Poll::Ready(());
        }
        waited = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}

/// A sweep of thousands of hosts lets the other tasks of its runtime run: between two
/// turns of a task beside it, it starts a few hundred requests, not all of them at once.
fn a_sweep_leaves_turns_to_the_other_tasks_of_its_runtime() {
    if !support::require_root() {
        return;
    }
    Netns::new("mpturns").block_on(|| async {
        let hosts = 4094;
        let pulled = Arc::new(AtomicUsize::new(0));
        let observer = {
            let pulled = Arc::clone(&pulled);
            tokio::spawn(async move {
                // How many targets the sweep had taken at each of the observer's turns.
                let mut seen = vec![0];
                while *seen.last().unwrap() < hosts {
                    one_turn().await;
                    seen.push(pulled.load(Ordering::Relaxed));
                }
                seen
            })
        };
        let counter = Arc::clone(&pulled);
        let targets = loopback_block(hosts as u32).into_iter().inspect(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        let mut stream = std::pin::pin!(multiping_stream(targets, &sweep_options(hosts)).unwrap());
        while let Some(host) = stream.next().await {
            assert!(host.is_alive(), "{host}");
        }
        let seen = observer.await.unwrap();
        let most = seen.windows(2).map(|w| w[1] - w[0]).max().unwrap();
        assert!(
            most <= 512,
            "{most} requests started between two turns of another task"
        );
    });
}

/// A sweep keeps nothing it should not: requests that timed out, late replies, the
/// requests of a stream dropped midway.
fn a_sweep_forgets_requests_that_timed_out_or_were_abandoned() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("mpforget");
    let net = SimulatedNet::new(&netns);
    // Answers every request, 150 ms late.
    let late = SimulatedNet::host(Family::V4, 3);
    net.script(late, vec![Reply::after(150, Craft::Good)]);
    netns.block_on_multi(move || async move {
        let pinger = Pinger::new();
        let silent: Vec<String> = (10..30)
            .map(|n| SimulatedNet::host(Family::V4, n).to_string())
            .collect();
        let mut targets = silent.clone();
        targets.push(late.to_string());
        targets.extend(loopback_block(20));
        let options = MultipingOptions::default()
            .count(3)
            .interval(Duration::from_millis(10))
            .timeout(Duration::from_millis(50))
            .concurrent_tasks(100);
        let hosts = pinger.multiping(&targets, &options).await.unwrap();
        let figures = |host: &icmplib::Host| (host.packets_sent(), host.packets_received());
        for host in &hosts[..silent.len() + 1] {
            assert_eq!(figures(host), (3, 0), "{host}");
            assert!(host.error().is_none(), "{host}");
        }
        for host in &hosts[silent.len() + 1..] {
            assert_eq!(figures(host), (3, 3), "{host}");
        }
        assert_eq!(pinger.requests_in_flight(), 0);

        // A stream dropped while its requests wait.
        let patient = options.clone().timeout(Duration::from_secs(10));
        let mut stream = Box::pin(pinger.multiping_stream(silent.clone(), &patient).unwrap());
        let first = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
        assert!(first.is_err(), "a silent host finished: {first:?}");
        assert_eq!(pinger.requests_in_flight(), silent.len());
        drop(stream);
        assert_eq!(pinger.requests_in_flight(), 0);
    });
}

/// A veth `device` in `netns` (its peer `sink` beside it) through which 198.51.100.0/24
/// is routed to a neighbour that does not exist: requests leave, nothing answers.
fn link_to_nowhere(netns: &Netns, device: &str) {
    netns.ip_batch(&format!(
        "link add {device} type veth peer name sink
         link set {device} up
         link set sink up
         addr add 203.0.113.1/24 dev {device}
         neigh add 203.0.113.2 lladdr 02:00:00:00:00:02 dev {device} nud permanent
         route add 198.51.100.0/24 via 203.0.113.2"
    ));
}

/// A sweep faster than its link: the socket's send buffer fills (the requests wait in a
/// slow queue) and the sweep waits for room instead of failing or losing requests.
fn a_sweep_waits_for_room_when_the_send_buffer_is_full() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("mpsndbuf");
    // A 1 Mbit/s link to 198.51.100.0/24 where nothing answers: about 1,200 requests
    // a second leave, the rest wait in the queue, holding the socket's buffer.
    link_to_nowhere(&netns, "slow");
    netns.exec_ok(&[
        "tc", "qdisc", "add", "dev", "slow", "root", "tbf", "rate", "1mbit", "burst", "2kb",
        "limit", "10mb",
    ]);
    let requests = 4 * 254;
    let hosts = netns.block_on(|| async {
        let targets: Vec<String> = (1..=254).map(|n| format!("198.51.100.{n}")).collect();
        let options = MultipingOptions::default()
            .count(4)
            .interval(Duration::ZERO)
            .timeout(Duration::from_millis(100))
            .concurrent_tasks(254);
        let pinger = Pinger::new();
        let hosts = pinger.multiping(&targets, &options).await.unwrap();
        assert_eq!(pinger.requests_in_flight(), 0);
        hosts
    });
    for host in &hosts {
        assert_eq!(host.packets_sent(), 4, "{host}");
        assert!(host.error().is_none(), "{host}");
    }
    // Every request went out on the link or waits in its queue, none dropped:
    // "Sent 61234 bytes 644 pkt (dropped 0, overlimits 9 requeues 0) backlog 35000b 372p".
    let stats = netns.exec_ok(&["tc", "-s", "qdisc", "show", "dev", "slow"]);
    let words: Vec<&str> = stats.split_whitespace().collect();
    let number = |at: Option<usize>, suffix: &str| -> usize {
        at.and_then(|at| words.get(at))
            .and_then(|word| word.trim_end_matches(suffix).parse().ok())
            .unwrap_or_else(|| panic!("unexpected statistics: {stats}"))
    };
    let find = |label: &str| words.iter().position(|word| *word == label);
    let left = number(find("pkt").map(|at| at - 1), "");
    let dropped = number(find("(dropped").map(|at| at + 1), ",");
    let queued = number(find("backlog").map(|at| at + 2), "p");
    assert_eq!(dropped, 0, "{stats}");
    let sent = left + queued;
    assert!(sent >= requests, "{sent} packets on the link: {stats}");
}

/// Names only: each lookup must wake the sweep, with no reply or timer to do it instead.
fn a_sweep_of_names_alone_finishes() {
    if !support::require_root() {
        return;
    }
    Netns::new("mpnames").block_on(|| async {
        let options = sweep_options(10);
        let hosts = tokio::time::timeout(
            Duration::from_secs(20),
            async_multiping(&["localhost"], &options),
        )
        .await
        .expect("the sweep never finished")
        .unwrap();
        assert!(hosts[0].is_alive(), "{}", hosts[0]);
        let targets = vec!["localhost"; 3];
        let streamed: Vec<_> = tokio::time::timeout(
            Duration::from_secs(20),
            multiping_stream(targets, &options).unwrap().collect(),
        )
        .await
        .expect("the stream never ended");
        assert_eq!(streamed.len(), 3);
        assert!(streamed.iter().all(|host| host.is_alive()));
    });
}

/// An interval too long for the clock waits as good as forever, without a panic.
fn a_huge_interval_waits_instead_of_panicking() {
    if !support::require_root() {
        return;
    }
    Netns::new("mpinterval").block_on(|| async {
        let pinger = Pinger::new();
        let options = sweep_options(10).count(2).interval(Duration::MAX);
        let sweep = pinger.multiping(&["127.0.0.1"], &options);
        let waited = tokio::time::timeout(Duration::from_millis(300), sweep).await;
        assert!(
            waited.is_err(),
            "the second request did not wait: {waited:?}"
        );
        assert_eq!(pinger.requests_in_flight(), 0);
    });
}

fn the_rate_limit_spaces_requests() {
    if !support::require_root() {
        return;
    }
    Netns::new("mprate").block_on(|| async {
        let targets = loopback_block(101);
        let options = sweep_options(1000).rate_limit(500);
        let started = Instant::now();
        let hosts = async_multiping(&targets, &options).await.unwrap();
        // 101 requests at 500 per second cannot all leave in less than 0.2 s.
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "{:?}",
            started.elapsed()
        );
        assert!(hosts.iter().all(|host| host.is_alive()));
    });
}

fn whole_call_failures_are_errors() {
    if let Some(role) = support::child_role() {
        assert_eq!(role, "noraw");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            // Raw sockets are refused to this user: asked for, an error for the call, not
            // per host.
            let raw = sweep_options(2).privileged(true);
            let error = async_multiping(&["127.0.0.1", "::1"], &raw)
                .await
                .unwrap_err();
            assert!(
                matches!(error, Error::SocketPermission { privileged: true }),
                "{error:?}"
            );
            let error = multiping_stream(vec!["127.0.0.1"], &raw).err().unwrap();
            assert!(
                matches!(error, Error::SocketPermission { privileged: true }),
                "{error:?}"
            );
            // Datagram sockets are allowed here, and the automatic default finds it: a
            // sweep of a /22 with the default socket kind finds every host.
            assert_eq!(Pinger::new().socket_kind().unwrap(), SocketKind::Datagram);
            let targets = loopback_block(1022);
            let hosts = async_multiping(&targets, &sweep_options(1000))
                .await
                .unwrap();
            let dead: Vec<String> = hosts
                .iter()
                .filter(|h| !h.is_alive())
                .map(ToString::to_string)
                .collect();
            assert!(
                dead.is_empty(),
                "{} of 1022 reported dead: {:?}",
                dead.len(),
                &dead[..dead.len().min(5)]
            );
        });
        // Invalid options are refused before anything is sent.
        let invalid = multiping(["127.0.0.1"], &sweep_options(0).privileged(false)).unwrap_err();
        assert!(
            matches!(invalid, Error::InvalidOption { .. }),
            "{invalid:?}"
        );
        return;
    }
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("mpfail");
    netns.allow_unprivileged_ping();
    support::assert_child_passed(
        &netns.spawn_unprivileged("whole_call_failures_are_errors", "noraw"),
    );
}

/// The kernel's receive timestamp (wall clock) converted to the
/// monotonic clock came out early when the reader was interrupted between reading the two
/// clocks: about one loopback reply in 30,000 had a round trip of exactly 0. Over 200,000
/// replies (3 requests to each of 65,534 hosts), none may.
fn no_round_trip_is_zero() {
    if !support::require_root() {
        return;
    }
    Netns::new("mpzero").block_on_multi(|| async {
        let options = MultipingOptions::default()
            .count(3)
            .interval(Duration::ZERO)
            .timeout(Duration::from_secs(2))
            .concurrent_tasks(1_000);
        let mut hosts = std::pin::pin!(multiping_stream(loopback_block(65_534), &options).unwrap());
        let (mut replies, mut zeros) = (0, Vec::new());
        while let Some(host) = hosts.next().await {
            replies += host.rtts().len();
            if host.rtts().contains(&0.0) {
                zeros.push(host.to_string());
            }
        }
        assert!(replies > 190_000, "{replies} replies");
        assert!(
            zeros.is_empty(),
            "{} hosts with a 0 ms round trip: {:?}",
            zeros.len(),
            &zeros[..zeros.len().min(3)]
        );
    });
}

/// With 65,536 requests in flight to one address, every further request
/// scanned all 65,536 sequence numbers under the table's lock, then failed (a traceroute
/// of 1,000 probes per distance to 127.0.0.1 burned 133 s of CPU). A raw socket now takes
/// another identifier: 70,000 requests to one silent address are all in flight at once,
/// and all leave.
fn more_than_65_536_requests_to_one_address_all_leave() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("mpsame");
    link_to_nowhere(&netns, "out");
    let (hosts, in_flight_after) = netns.block_on_multi(|| async {
        let targets = vec!["198.51.100.1"; 70_000];
        let options = MultipingOptions::default()
            .count(1)
            .timeout(Duration::from_secs(3))
            .concurrent_tasks(100_000);
        let pinger = Pinger::new();
        let hosts = pinger.multiping(&targets, &options).await.unwrap();
        (hosts, pinger.requests_in_flight())
    });
    assert_eq!(in_flight_after, 0);
    let failed: Vec<_> = hosts.iter().filter(|host| host.error().is_some()).collect();
    assert!(
        failed.is_empty(),
        "{} failed, first: {}",
        failed.len(),
        failed[0]
    );
    assert!(hosts.iter().all(|host| host.packets_sent() == 1));
}

/// The IPv4 ping (datagram ICMP) sockets, or raw ones, open in the calling thread's
/// namespace.
fn icmp_sockets(raw: bool) -> usize {
    let table = if raw { "raw" } else { "icmp" };
    std::fs::read_to_string(format!("/proc/thread-self/net/{table}"))
        .unwrap()
        .lines()
        .skip(1)
        .count()
}

/// A sweep over several sockets per family: each shard its own socket and task, the
/// targets shared out, the hosts back in input order (or streamed, each once). Datagram
/// sockets, and raw ones, each of which filters in the kernel the replies to its own
/// identifier (were a filter wrong, its shard's hosts would be dead).
fn a_sweep_over_several_sockets_finds_every_host_once() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("mpsock");
    netns.allow_unprivileged_ping();
    netns.block_on_multi(|| async {
        let targets = loopback_block(4094);
        for privileged in [true, false] {
            let pinger = Pinger::builder().privileged(privileged).build();
            let options = sweep_options(1000).sockets(3).privileged(privileged);
            let hosts = pinger.multiping(&targets, &options).await.unwrap();
            assert_eq!(hosts.len(), targets.len());
            for (host, target) in hosts.iter().zip(&targets) {
                assert_eq!(host.address(), target, "input order");
                assert!(host.is_alive(), "{host} privileged={privileged}");
            }
            let mut stream = std::pin::pin!(
                pinger
                    .multiping_stream(loopback_block(4094), &options)
                    .unwrap()
            );
            let mut seen = std::collections::HashSet::new();
            let mut most_open = 0;
            while let Some(host) = stream.next().await {
                assert!(host.is_alive(), "{host}");
                assert!(seen.insert(host.address().to_string()), "{host} twice");
                if seen.len() % 100 == 0 {
                    most_open = most_open.max(icmp_sockets(privileged));
                }
            }
            // The shards have sockets of their own. (Not necessarily all three at once:
            // on two workers the third shard's task may start when the others have taken
            // every target, and then it has nothing to do.) Raw shards do not use the
            // pinger's shared socket, which the stream opened first: one more.
            let least = 2 + usize::from(privileged);
            assert!(most_open >= least, "{most_open} sockets, privileged={privileged}");
            assert_eq!(seen.len(), 4094);
            // The shards' sockets close with their sweep; nothing stays in flight.
            assert_eq!(pinger.requests_in_flight(), 0);
        }
        for sockets in [0, 65] {
            let error = async_multiping(&["127.0.0.1"], &sweep_options(1).sockets(sockets)).await;
            assert!(
                matches!(error, Err(Error::InvalidOption { ref reason }) if reason.contains("sockets")),
                "{error:?}"
            );
        }
    }); // Dropping the stream, or the sweep's future, midway stops its shards at once:
    // nothing stays in flight. The hosts are silent (their echo requests dropped), so
    // that the sweeps are still under way whatever the machine's speed.
    netns.add_loss(100);
    netns.block_on_multi(|| async {
        let pinger = Pinger::builder().privileged(false).build();
        let options = sweep_options(100)
            .sockets(2)
            .timeout(Duration::from_secs(5))
            .privileged(false);
        let mut stream = pinger
            .multiping_stream(loopback_block(400), &options)
            .unwrap();
        let under_way = |pinger: &Pinger| pinger.requests_in_flight() == 100;
        let waited = tokio::time::timeout(Duration::from_secs(2), stream.next()).await;
        assert!(waited.is_err(), "a silent host finished early");
        assert!(
            under_way(&pinger),
            "{} in flight",
            pinger.requests_in_flight()
        );
        drop(stream);
        assert_eq!(pinger.requests_in_flight(), 0);
        let targets = loopback_block(400);
        let mut sweep = Box::pin(pinger.multiping(&targets, &options));
        let waited = tokio::time::timeout(Duration::from_millis(500), sweep.as_mut()).await;
        assert!(waited.is_err(), "a silent host finished early");
        assert!(
            under_way(&pinger),
            "{} in flight",
            pinger.requests_in_flight()
        );
        drop(sweep);
        assert_eq!(pinger.requests_in_flight(), 0);
    });
}
