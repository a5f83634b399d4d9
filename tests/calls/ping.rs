//! `ping` / `async_ping` / `Pinger` on real packets: loopback inside a fresh namespace;
//! which replies count against a simulated host behind a TUN device (source, identifier,
//! sequence, payload and checksum must match; late, duplicate, forged and corrupt ones do
//! not); raw and datagram sockets, IPv4 and IPv6, and the shared-socket design under load.

use crate::support;

use std::net::IpAddr;
use std::time::Duration;

use icmplib::{Error, Family, Host, PingOptions, async_ping, ping};
use support::{Craft, Netns, Reply, SimulatedNet, icmp_sockets};

support::harness::tests![
    Root async_ping_answers_on_loopback_raw,
    Root spawned_calls_take_addresses_and_own_their_arguments,
    Root async_ping_answers_on_loopback_datagram,
    Root blocking_ping_from_several_threads_and_runtimes,
    Root bad_input_gets_typed_errors,
    Root a_thousand_concurrent_pings_share_one_socket_per_family,
    Root simulated_host_rules_raw,
    Root simulated_host_rules_datagram,
    Root a_pinger_outlives_the_runtime_that_opened_its_sockets,
    Root an_address_the_source_cannot_reach_is_an_invalid_option,
    Root traffic_class_and_ttl_go_on_the_wire_per_request,
    Root requests_that_fail_at_once_leave_turns_to_the_other_tasks,
    Root a_runtime_without_its_drivers_is_an_error_that_says_which,
];

fn fast(count: usize) -> PingOptions {
    PingOptions::default()
        .count(count)
        .interval(Duration::from_millis(20))
        .timeout(Duration::from_secs(1))
}

fn assert_all_answered(host: &Host, count: usize) {
    assert_eq!(host.packets_sent(), count, "{host}");
    assert_eq!(host.packets_received(), count, "{host}");
    assert_eq!(host.rtts().len(), count);
    assert!(
        host.min_rtt() <= host.avg_rtt() && host.avg_rtt() <= host.max_rtt(),
        "{host}"
    );
    assert!(
        host.is_alive() && host.packet_loss() == 0.0 && host.error().is_none(),
        "{host}"
    );
}

async fn loopback(privileged: bool) {
    for address in ["127.0.0.1", "::1"] {
        let host = async_ping(address, &fast(5).privileged(privileged))
            .await
            .unwrap();
        assert_eq!(host.address(), address);
        assert_all_answered(&host, 5);
    }
}

fn async_ping_answers_on_loopback_raw() {
    if !support::require_root() {
        return;
    }
    Netns::new("pinglo").block_on(|| loopback(true));
}

/// The calls' futures own what they need: spawned with a target given as an address
/// value and options that are dropped before the tasks run, each still finds its host.
fn spawned_calls_take_addresses_and_own_their_arguments() {
    if !support::require_root() {
        return;
    }
    Netns::new("pingspawn").block_on(|| async {
        let pinger = icmplib::Pinger::new();
        let (ping, sweep, trace) = {
            let options = fast(2);
            let sweep = icmplib::MultipingOptions::default()
                .count(1)
                .timeout(Duration::from_secs(1));
            let trace = icmplib::TracerouteOptions::default().count(1);
            (
                tokio::spawn(async_ping(std::net::Ipv6Addr::LOCALHOST, &options)),
                tokio::spawn(icmplib::async_multiping(
                    vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from([127, 0, 0, 2])],
                    &sweep,
                )),
                tokio::spawn(pinger.traceroute(String::from("127.0.0.3"), &trace)),
            )
        };
        let host = ping.await.unwrap().unwrap();
        assert_eq!(host.address(), "::1");
        assert_all_answered(&host, 2);
        let hosts = sweep.await.unwrap().unwrap();
        let addresses: Vec<&str> = hosts.iter().map(Host::address).collect();
        assert_eq!(addresses, ["127.0.0.1", "127.0.0.2"]);
        assert!(hosts.iter().all(Host::is_alive), "{hosts:?}");
        let hops = trace.await.unwrap().unwrap();
        assert_eq!(hops.len(), 1, "{hops:?}");
        assert_eq!(hops[0].address(), "127.0.0.3");
    });
}

fn async_ping_answers_on_loopback_datagram() {
    if let Some(role) = support::child_role() {
        assert_eq!(role, "dgram");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(loopback(false));
        // The blocking form works too, from a plain thread.
        let host = ping("127.0.0.1", &fast(2).privileged(false)).unwrap();
        assert_all_answered(&host, 2);
        return;
    }
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("pingdg");
    netns.allow_unprivileged_ping();
    support::assert_child_passed(
        &netns.spawn_unprivileged("async_ping_answers_on_loopback_datagram", "dgram"),
    );
}

fn blocking_ping_from_several_threads_and_runtimes() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("pingbl");
    netns.run(|| {
        let threads: Vec<_> = (1..=4u8)
            .map(|i| {
                std::thread::spawn(move || {
                    let address = format!("127.0.0.{i}");
                    for _ in 0..2 {
                        let host = ping(&address, &fast(2)).unwrap();
                        assert_all_answered(&host, 2);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        // Each call's runtime is gone, and so are its sockets.
        assert_eq!(icmp_sockets(), (0, 0));
    });
}

fn bad_input_gets_typed_errors() {
    if !support::require_root() {
        return;
    }
    Netns::new("pingbad").block_on(|| async {
        let invalid =
            |result: icmplib::Result<Host>| matches!(result, Err(Error::InvalidOption { .. }));
        assert!(invalid(async_ping("127.0.0.1", &fast(0)).await));
        assert!(invalid(
            async_ping("127.0.0.1", &fast(1).timeout(Duration::ZERO)).await
        ));
        assert!(invalid(
            async_ping("127.0.0.1", &fast(1).payload_size(65_508)).await
        ));
        assert!(invalid(async_ping("127.0.0.1", &fast(1).ttl(0)).await));
        let error = async_ping("not an address", &fast(1)).await.unwrap_err();
        assert!(matches!(error, Error::NameLookup { .. }), "{error:?}");
        // An address of the other family is a contradiction, not a failed lookup.
        assert!(invalid(
            async_ping("127.0.0.1", &fast(1).family(Family::V6)).await
        ));
        let source: IpAddr = "192.0.2.200".parse().unwrap();
        let error = async_ping("127.0.0.1", &fast(1).source(source))
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::SocketAddress { address } if address == source),
            "{error:?}"
        );
        // Addresses that name no single host, as targets or sources, are refused: they
        // used to be sent and reported as "0 received".
        for target in ["0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255"] {
            let error = async_ping(target, &fast(1)).await.unwrap_err();
            assert!(
                matches!(&error, Error::InvalidOption { reason } if reason.contains(target)),
                "{target}: {error:?}"
            );
        }
        for source in ["255.255.255.255", "224.0.0.1", "ff02::1"] {
            let source: IpAddr = source.parse().unwrap();
            let target = if source.is_ipv4() { "127.0.0.1" } else { "::1" };
            let error = async_ping(target, &fast(1).source(source))
                .await
                .unwrap_err();
            assert!(
                matches!(&error, Error::InvalidOption { reason } if reason.contains(&source.to_string())),
                "{source}: {error:?}"
            );
        }
        // No route out of the namespace: the send fails, nothing counts as sent, and the
        // reason is kept.
        let host = async_ping("192.0.2.9", &fast(2)).await.unwrap();
        assert_eq!((host.packets_sent(), host.is_alive()), (0, false));
        assert!(matches!(host.error(), Some(Error::Socket(_))), "{host}");
    });
}

fn a_thousand_concurrent_pings_share_one_socket_per_family() {
    if !support::require_root() {
        return;
    }
    Netns::new("pingk").block_on_multi(|| async {
        let before = icmp_sockets();
        let tasks: Vec<_> = (0..1000u32)
            .map(|i| {
                let address = if i % 2 == 0 {
                    format!("127.3.{}.{}", i / 250, i % 250 + 1)
                } else {
                    "::1".to_string()
                };
                tokio::spawn(async move { async_ping(&address, &fast(2)).await })
            })
            .collect();
        let during = icmp_sockets();
        for task in tasks {
            let host = task.await.unwrap().unwrap();
            assert_all_answered(&host, 2);
        }
        // One raw socket per family for the whole runtime.
        assert_eq!(before, (0, 0));
        assert_eq!(icmp_sockets(), (1, 1));
        assert!(during.0 <= 1 && during.1 <= 1, "{during:?}");
    });
}

// ---------------------------------------------------------------------------------------
// Which replies count, against a simulated host: each case is a host number behind the
// TUN, a script for it (good, late, duplicate, forged, corrupt or truncated replies,
// errors, floods of foreign ones), and what a ping of it must report.

/// A host behind the TUN, what it does, and what a ping must find.
struct Case {
    n: u8,
    name: &'static str,
    script: fn(Family) -> Vec<Reply>,
    expect: fn(&Host, Family),
}

fn received(expected: usize) -> impl Fn(&Host) {
    move |host: &Host| assert_eq!(host.packets_received(), expected, "{host}")
}

const CASES: &[Case] = &[
    Case {
        n: 2,
        name: "good",
        script: |_| vec![Reply::good()],
        expect: |host, _| received(3)(host),
    },
    Case {
        n: 3,
        name: "300 ms away",
        script: |_| vec![Reply::after(300, Craft::Good)],
        expect: |host, _| {
            received(3)(host);
            // Never sooner than the host answers; later only by the machine's delays, which
            // the timeout leaves 700 ms for (100 ms were missed on a busy machine).
            assert!(
                host.min_rtt() >= 300.0 && host.max_rtt() < 1_000.0,
                "{host}"
            );
        },
    },
    Case {
        n: 4,
        name: "duplicates",
        script: |_| {
            vec![
                Reply::good(),
                Reply::after(5, Craft::Good),
                Reply::after(10, Craft::Good),
            ]
        },
        expect: |host, _| {
            received(3)(host);
            // Two per request, counted while the ping runs: the last request's come after
            // it is over (and are not looked for), and on a loaded machine a later one's
            // too (the simulated host's timers run late); the first request's come before
            // the second leaves.
            assert!((1..=4).contains(&host.duplicates()), "{host:?}");
        },
    },
    Case {
        n: 5,
        name: "bad checksum",
        script: |_| vec![Reply::good().with(Craft::BadChecksum)],
        expect: |host, _| received(0)(host),
    },
    Case {
        n: 6,
        name: "wrong id",
        script: |_| vec![Reply::good().with(Craft::WrongId)],
        expect: |host, _| received(0)(host),
    },
    Case {
        n: 7,
        name: "wrong payload",
        script: |_| vec![Reply::good().with(Craft::WrongPayload)],
        expect: |host, _| received(0)(host),
    },
    Case {
        n: 8,
        name: "another source",
        script: |family| {
            vec![Reply::good().with(Craft::FromOtherSource(SimulatedNet::host(family, 99)))]
        },
        expect: |host, _| received(0)(host),
    },
    Case {
        n: 9,
        name: "late",
        // After the timeout: lost, however fast or slow the machine.
        script: |_| vec![Reply::after(1_500, Craft::Good)],
        expect: |host, _| received(0)(host),
    },
    Case {
        n: 10,
        name: "truncated",
        script: |_| {
            vec![
                Reply::good().with(Craft::Truncated(20)),
                Reply::good().with(Craft::Truncated(6)),
            ]
        },
        expect: |host, _| received(0)(host),
    },
    Case {
        n: 11,
        name: "wrong sequence",
        script: |_| vec![Reply::good().with(Craft::WrongSequence)],
        expect: |host, _| received(0)(host),
    },
    Case {
        n: 12,
        name: "flood of foreign replies, then the real one",
        script: |_| {
            vec![
                Reply::good().with(Craft::ForeignFlood(3000)),
                Reply::after(1, Craft::Good),
            ]
        },
        expect: |host, _| received(3)(host),
    },
    Case {
        n: 13,
        name: "bad replies first, then the real one",
        script: |_| {
            vec![
                Reply::good().with(Craft::BadChecksum),
                Reply::good().with(Craft::WrongPayload),
                Reply::good().with(Craft::Truncated(12)),
                Reply::after(2, Craft::Good),
            ]
        },
        expect: |host, _| {
            received(3)(host);
            assert!(host.error().is_none(), "{host}");
        },
    },
    Case {
        n: 14,
        name: "destination unreachable",
        script: |family| {
            let code = if family == Family::V4 { 1 } else { 3 };
            vec![Reply::good().with(Craft::Unreachable {
                from: SimulatedNet::host(family, 254),
                code,
            })]
        },
        expect: |host, family| {
            received(0)(host);
            let code = if family == Family::V4 { 1 } else { 3 };
            let from = SimulatedNet::host(family, 254);
            assert!(
                matches!(host.error(), Some(Error::DestinationUnreachable { source, code: c, family: f })
                    if *source == from && *c == code && *f == family),
                "{host}: {:?}",
                host.error()
            );
        },
    },
    Case {
        n: 16,
        name: "a redirect, then the real reply (IPv6: plain)",
        script: |family| {
            let advice = match family {
                Family::V4 => Craft::Redirect {
                    from: SimulatedNet::host(family, 254),
                },
                Family::V6 => Craft::Good,
            };
            vec![Reply::good().with(advice), Reply::after(2, Craft::Good)]
        },
        expect: |host, _| {
            received(3)(host);
            assert!(host.error().is_none(), "{host}");
        },
    },
    Case {
        n: 17,
        name: "a forged unreachable, then the real reply",
        script: |family| {
            let from = SimulatedNet::host(family, 254);
            vec![
                Reply::good().with(Craft::ForgedUnreachable { from, code: 1 }),
                Reply::after(2, Craft::Good),
            ]
        },
        expect: |host, _| {
            received(3)(host);
            assert!(host.error().is_none(), "{host}");
        },
    },
    Case {
        n: 15,
        name: "IPv4 options (IPv6: plain)",
        script: |family| {
            let craft = if family == Family::V4 {
                Craft::WithIpOptions
            } else {
                Craft::Good
            };
            vec![Reply::good().with(craft)]
        },
        expect: |host, _| received(3)(host),
    },
];

trait With {
    fn with(self, craft: Craft) -> Reply;
}

impl With for Reply {
    fn with(mut self, craft: Craft) -> Reply {
        self.craft = craft;
        self
    }
}

/// Pings every case at once (on one shared socket per family) and checks each result.
async fn check_cases(privileged: bool) {
    let options = PingOptions::default()
        .count(3)
        .interval(Duration::from_millis(10))
        .timeout(Duration::from_secs(1))
        .privileged(privileged);
    let mut tasks = Vec::new();
    for family in [Family::V4, Family::V6] {
        for case in CASES {
            let address = SimulatedNet::host(family, case.n).to_string();
            let options = options.clone();
            tasks.push((
                family,
                case,
                tokio::spawn(async move { async_ping(&address, &options).await }),
            ));
        }
    }
    for (family, case, task) in tasks {
        let host = task.await.unwrap().unwrap();
        assert_eq!(host.packets_sent(), 3, "{family} {}: {host}", case.name);
        let check = std::panic::AssertUnwindSafe(|| (case.expect)(&host, family));
        if let Err(panic) = std::panic::catch_unwind(check) {
            eprintln!("{family} case '{}' failed", case.name);
            std::panic::resume_unwind(panic);
        }
    }
}

fn simulated_net(netns: &Netns) -> SimulatedNet {
    let net = SimulatedNet::new(netns);
    for family in [Family::V4, Family::V6] {
        for case in CASES {
            net.script(SimulatedNet::host(family, case.n), (case.script)(family));
        }
    }
    net
}

fn simulated_host_rules_raw() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("simraw");
    let net = simulated_net(&netns);
    netns.block_on_multi(|| check_cases(true));
    // What ping reported matches what went on the wire.
    for family in [Family::V4, Family::V6] {
        assert_eq!(net.requests_seen(SimulatedNet::host(family, 2)), 3);
    }
}

fn simulated_host_rules_datagram() {
    if let Some(role) = support::child_role() {
        assert_eq!(role, "sim");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(check_cases(false));
        return;
    }
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("simdg");
    netns.allow_unprivileged_ping();
    let _net = simulated_net(&netns);
    support::assert_child_passed(&netns.spawn_unprivileged("simulated_host_rules_datagram", "sim"));
}

fn a_pinger_outlives_the_runtime_that_opened_its_sockets() {
    if !support::require_root() {
        return;
    }
    Netns::new("pingrt").run(|| {
        let pinger = icmplib::Pinger::new();
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        {
            // Opens the IPv4 socket and spawns its receive task, which this runtime never
            // polls: it is dropped first.
            let options = icmplib::MultipingOptions::default();
            runtime().block_on(async {
                drop(
                    pinger
                        .multiping_stream(vec!["127.0.0.1"], &options)
                        .unwrap(),
                )
            });
        }
        for _ in 0..2 {
            let host = runtime()
                .block_on(pinger.ping("127.0.0.1", &fast(2)))
                .unwrap();
            assert_all_answered(&host, 2);
        }
    });
}

fn an_address_the_source_cannot_reach_is_an_invalid_option() {
    if !support::require_root() {
        return;
    }
    Netns::new("pingsrc").block_on(|| async {
        let source: IpAddr = "127.0.0.1".parse().unwrap();
        let error = async_ping("::1", &fast(1).source(source))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::InvalidOption { reason } if reason.contains("cannot reach")),
            "{error:?}"
        );
        // A name resolves within the source's family.
        let host = async_ping("127.0.0.2", &fast(1).source(source))
            .await
            .unwrap();
        assert!(host.is_alive());
        // A timeout too long for the clock is not a panic.
        let host = async_ping("127.0.0.1", &fast(1).timeout(Duration::MAX))
            .await
            .unwrap();
        assert!(host.is_alive());
    });
}

fn traffic_class_and_ttl_go_on_the_wire_per_request() {
    if !support::require_root() {
        return;
    }
    let chain = support::Chain::new(2);
    chain.warm_up();
    // Count, on the target, the echo requests marked DSCP EF (traffic class 0xb8).
    chain.target_ns().nft(
        "table inet marks {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    ip dscp ef icmp type echo-request counter\n    ip6 dscp ef icmpv6 type echo-request counter\n  }\n}\n",
    );
    let (target4, target6) = (chain.target(Family::V4), chain.target(Family::V6));
    let router2 = chain.hop_address(2, Family::V4);
    chain.client().block_on(move || async move {
        // On one shared socket at once: marked requests, plain ones, and short-lived ones.
        let marked = |target: IpAddr| async move {
            async_ping(&target.to_string(), &fast(3).traffic_class(0xb8)).await.unwrap()
        };
        let plain = |target: IpAddr| async move { async_ping(&target.to_string(), &fast(3)).await.unwrap() };
        let (short_target, short_options) = (target4.to_string(), fast(2).ttl(2));
        let short = async_ping(&short_target, &short_options);
        let (a, b, c, d, e) = tokio::join!(marked(target4), marked(target6), plain(target4), plain(target6), short);
        for host in [&a, &b, &c, &d] {
            assert_all_answered(host, 3);
        }
        // TTL 2 runs out at the second router, which says so.
        assert!(!e.as_ref().unwrap().is_alive());
        assert!(
            matches!(e.unwrap().error(), Some(Error::TimeExceeded { source, .. }) if *source == router2),
            "TTL 2 should expire at {router2}"
        );
    });
    let counters = chain
        .target_ns()
        .exec_ok(&["nft", "list", "table", "inet", "marks"]);
    let counted: Vec<u64> = counters
        .lines()
        .filter_map(|line| {
            line.split("packets ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(
        counted,
        [3, 3],
        "only the marked requests carry DSCP EF:\n{counters}"
    );
}

/// Requests that fail at once (no route out of the namespace), with no interval between
/// them, must not hold the worker: before the scheduler took turns, a ping of 1,000,000
/// such requests under a 100 ms timeout returned after 2.8 s, and no other task of its
/// runtime ran meanwhile. Counted, not timed (a bound in milliseconds failed whenever the
/// machine was busy): each call has [`POLLS`] × [`SENDS_PER_POLL`] requests and is polled
/// [`POLLS`] times on a current-thread runtime, so it is still pending after them only if
/// its polls sent at most [`SENDS_PER_POLL`] requests each on average, then gave the worker
/// back; a neighbour task counts the turns it got in between.
fn requests_that_fail_at_once_leave_turns_to_the_other_tasks() {
    if !support::require_root() {
        return;
    }
    Netns::new("pingyield").block_on(|| async {
        let requests = POLLS * SENDS_PER_POLL;
        let many = PingOptions::default()
            .count(requests)
            .interval(Duration::ZERO);
        let (result, turns) = polled(async_ping("192.0.2.9", &many)).await;
        assert!(
            result.is_none(),
            "a ping of {requests} requests ended within {POLLS} polls: {result:?}"
        );
        assert!(
            turns >= POLLS / 2,
            "{turns} turns of the neighbour during the ping"
        );

        let targets = ["192.0.2.9", "192.0.2.10"];
        let sweep = icmplib::MultipingOptions::default()
            .count(requests / targets.len())
            .interval(Duration::ZERO);
        let (result, turns) = polled(icmplib::async_multiping(&targets, &sweep)).await;
        assert!(
            result.is_none(),
            "the sweep ended within {POLLS} polls: {result:?}"
        );
        assert!(turns >= POLLS / 2, "{turns} turns during the sweep");

        let max_hops = 255;
        let trace = icmplib::TracerouteOptions::default()
            .count(requests.div_ceil(usize::from(max_hops)))
            .max_hops(max_hops)
            .interval(Duration::ZERO);
        let (result, turns) = polled(icmplib::async_traceroute("192.0.2.9", &trace)).await;
        assert!(
            result.is_none(),
            "the trace ended within {POLLS} polls: {result:?}"
        );
        assert!(turns >= POLLS / 2, "{turns} turns during the traceroute");
    });
}

/// Polls of each call in [`requests_that_fail_at_once_leave_turns_to_the_other_tasks`].
const POLLS: usize = 50;

/// Requests a poll may send before it gives the worker back: four scheduler turns'
/// worth, so the test says whether it yields at all, not its exact turn.
const SENDS_PER_POLL: usize = 1_024;

/// Polls `call` on this task until it ends or has been polled [`POLLS`] times, while a
/// neighbour task counts its turns; returns the call's output if it ended, and the
/// neighbour's turns. The call is polled only when it woke its task, like in any runtime:
/// one that stopped waking itself would hang here, so a generous bound (not a measure of
/// speed) turns that into a failure.
async fn polled<F: std::future::Future>(call: F) -> (Option<F::Output>, usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Poll;
    let turns = std::sync::Arc::new(AtomicUsize::new(0));
    let counting = std::sync::Arc::clone(&turns);
    let neighbour = tokio::spawn(async move {
        loop {
            counting.fetch_add(1, Ordering::Relaxed);
            tokio::task::yield_now().await;
        }
    });
    let mut call = std::pin::pin!(call);
    let mut polls = 0;
    let counted = std::future::poll_fn(|cx| {
        polls += 1;
        match call.as_mut().poll(cx) {
            Poll::Ready(output) => Poll::Ready(Some(output)),
            Poll::Pending if polls == POLLS => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    });
    let output = tokio::time::timeout(Duration::from_secs(60), counted)
        .await
        .expect("the call stopped waking its task");
    neighbour.abort();
    (output, turns.load(Ordering::Relaxed))
}

/// A runtime without its time or I/O driver made tokio panic inside the
/// library ("timers are disabled", "IO is disabled"); each is now `Error::Runtime` saying
/// which driver to enable.
fn a_runtime_without_its_drivers_is_an_error_that_says_which() {
    if !support::require_root() {
        return;
    }
    Netns::new("pingdrv").run(|| {
        let no_time = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let no_io = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let runtime_error = |result: icmplib::Result<Host>, driver: &str| match result {
            Err(Error::Runtime { reason }) => assert!(reason.contains(driver), "{reason}"),
            other => panic!("{other:?}"),
        };
        runtime_error(
            no_time.block_on(async_ping("127.0.0.1", &fast(1))),
            "enable_time",
        );
        runtime_error(
            no_io.block_on(async_ping("127.0.0.1", &fast(1))),
            "enable_io",
        );
        let socket = no_io
            .block_on(async { icmplib::AsyncIcmpSocket::new(Family::V4, None, true).map(drop) });
        assert!(
            matches!(&socket, Err(Error::Runtime { reason }) if reason.contains("enable_io")),
            "{socket:?}"
        );
        let names = no_time.block_on(icmplib::async_resolve("localhost", None));
        assert!(
            matches!(&names, Err(Error::Runtime { reason }) if reason.contains("enable_time")),
            "{names:?}"
        );
    });
}
