//! Traceroute through a chain of router namespaces (client — r1 — r2 — r3 — target),
//! IPv4 and IPv6, raw and datagram sockets, one hop at a time and all at once.

use crate::support;

use std::net::IpAddr;
use std::time::Duration;

use icmplib::{
    Error, Family, Hop, PingOptions, TracerouteOptions, async_ping, async_traceroute, traceroute,
};
use support::{Chain, Netns, Reject};

support::harness::tests![
    Root the_hops_are_the_routers_then_the_target_raw,
    Root the_hops_are_the_routers_then_the_target_unprivileged,
    Root the_path_is_the_one_the_system_traceroute_finds,
    Root first_hop_max_hops_and_fast,
    Root an_unreachable_destination_ends_the_trace_on_the_router_that_said_so,
    Root a_router_that_stays_silent_is_left_out_and_later_hops_found,
    Root traceroutes_and_pings_at_once_share_sockets_and_keep_their_replies,
    Root the_blocking_form_and_bad_options,
    Root a_late_answer_to_an_earlier_probe_is_not_taken_for_a_later_one,
];

fn quick() -> TracerouteOptions {
    TracerouteOptions::default()
        .count(2)
        .interval(Duration::ZERO)
        .timeout(Duration::from_millis(500))
        .max_hops(8)
}

/// (distance, address) of each hop.
fn path(hops: &[Hop]) -> Vec<(u8, IpAddr)> {
    hops.iter()
        .map(|hop| (hop.distance(), hop.ip().unwrap()))
        .collect()
}

/// The path the chain's routing gives, from `first` to `last` distance.
fn expected(addresses: &[IpAddr], first: u8, last: u8) -> Vec<(u8, IpAddr)> {
    (first..=last)
        .map(|d| (d, addresses[usize::from(d) - 1]))
        .collect()
}

/// The chain's hop addresses for a family, in distance order.
fn route(chain: &Chain, family: Family) -> Vec<IpAddr> {
    (1..=chain.distance_of_target())
        .map(|d| chain.hop_address(d, family))
        .collect()
}

/// The chain's hop addresses for a family, as command-line arguments (distance order).
fn hop_args(chain: &Chain, family: Family) -> Vec<String> {
    (1..=chain.distance_of_target())
        .map(|d| chain.hop_address(d, family).to_string())
        .collect()
}

async fn check_full_paths(v4: Vec<IpAddr>, v6: Vec<IpAddr>, privileged: bool) {
    for addresses in [&v4, &v6] {
        let target = addresses.last().unwrap().to_string();
        for parallel in [false, true] {
            let options = quick().privileged(privileged).parallel(parallel);
            let hops = async_traceroute(&target, &options).await.unwrap();
            assert_eq!(
                path(&hops),
                expected(addresses, 1, 4),
                "parallel={parallel} privileged={privileged}"
            );
            for hop in &hops {
                assert_eq!(
                    (hop.packets_sent(), hop.packets_received()),
                    (2, 2),
                    "{hop}"
                );
                assert!(hop.error().is_none() && hop.min_rtt() > 0.0, "{hop}");
            }
        }
    }
}

fn addresses(args: &[&str]) -> Vec<IpAddr> {
    args.iter().map(|a| a.parse().unwrap()).collect()
}

fn the_hops_are_the_routers_then_the_target_raw() {
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(3);
    chain.warm_up();
    let (v4, v6) = (route(&chain, Family::V4), route(&chain, Family::V6));
    chain
        .client()
        .block_on(move || async move { check_full_paths(v4, v6, true).await });
}

fn the_hops_are_the_routers_then_the_target_unprivileged() {
    if let Some(role) = support::child_role() {
        let (name, args) = support::role_parts(&role);
        assert_eq!(name, "trace");
        let (v4, v6) = (addresses(&args[..4]), addresses(&args[4..]));
        assert!(not_root(), "the child must not be root");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(check_full_paths(v4, v6, false));
        return;
    }
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(3);
    chain.warm_up();
    chain.client().allow_unprivileged_ping();
    let mut args = hop_args(&chain, Family::V4);
    args.extend(hop_args(&chain, Family::V6));
    let role = format!("trace:{}", args.join(","));
    let output = chain.client().spawn_unprivileged(
        "the_hops_are_the_routers_then_the_target_unprivileged",
        &role,
    );
    support::assert_child_passed(&output);
}

/// True when the process does not run as root.
fn not_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|line| line.starts_with("Uid:"))
        .is_some_and(|line| line.split_whitespace().nth(1) != Some("0"))
}

fn the_path_is_the_one_the_system_traceroute_finds() {
    if !support::require_root() {
        return;
    }
    let available = std::process::Command::new("traceroute")
        .arg("--version")
        .output()
        .is_ok();
    if !available {
        support::harness::skip("traceroute is not installed");
    }
    let chain = Chain::new(3);
    chain.warm_up();
    for family in [Family::V4, Family::V6] {
        let target = chain.target(family).to_string();
        let flag = if family == Family::V4 { "-4" } else { "-6" };
        let text = chain.client().exec_ok(&[
            "traceroute",
            flag,
            "-n",
            "-q",
            "1",
            "-w",
            "1",
            "-m",
            "8",
            &target,
        ]);
        let system: Vec<IpAddr> = text
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().nth(1)?.parse().ok())
            .collect();
        let hops = chain
            .client()
            .block_on(move || async move { async_traceroute(&target, &quick()).await.unwrap() });
        let ours: Vec<IpAddr> = hops.iter().map(|hop| hop.ip().unwrap()).collect();
        assert_eq!(ours, system, "system traceroute said:\n{text}");
    }
}

fn first_hop_max_hops_and_fast() {
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(3);
    chain.warm_up();
    let v4 = route(&chain, Family::V4);
    let target = chain.target(Family::V4).to_string();
    chain.client().block_on(move || async move {
        let hops = async_traceroute(&target, &quick().first_hop(2))
            .await
            .unwrap();
        assert_eq!(path(&hops), expected(&v4, 2, 4));
        // Cut short: the target is never reached.
        let hops = async_traceroute(&target, &quick().max_hops(2))
            .await
            .unwrap();
        assert_eq!(path(&hops), expected(&v4, 1, 2));
        // fast: one probe per hop as soon as it answers.
        let hops = async_traceroute(&target, &quick().count(3).fast(true))
            .await
            .unwrap();
        assert_eq!(path(&hops), expected(&v4, 1, 4));
        assert!(
            hops.iter()
                .all(|hop| hop.packets_sent() == 1 && hop.packets_received() == 1)
        );
        let hops = async_traceroute(&target, &quick().count(3).fast(false))
            .await
            .unwrap();
        assert!(
            hops.iter()
                .all(|hop| hop.packets_sent() == 3 && hop.packets_received() == 3)
        );
    });
}

fn an_unreachable_destination_ends_the_trace_on_the_router_that_said_so() {
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(3);
    chain.warm_up();
    let cases = [
        (
            chain.rejected(Reject::HostUnreachable, Family::V4),
            1u8,
            route(&chain, Family::V4),
        ),
        (
            chain.rejected(Reject::NoRoute, Family::V6),
            0,
            route(&chain, Family::V6),
        ),
    ];
    chain.client().block_on(move || async move {
        for (destination, code, routers) in cases {
            // The last router is 3 hops away: at TTL 3 it says Time Exceeded, at TTL 4 it
            // forwards the probe into its reject rule and says Destination Unreachable.
            let mut route = expected(&routers, 1, 3);
            route.push((4, routers[2]));
            for parallel in [false, true] {
                let hops = async_traceroute(&destination.to_string(), &quick().parallel(parallel)).await.unwrap();
                assert_eq!(path(&hops), route, "{destination} parallel={parallel}");
                let last = hops.last().unwrap();
                assert!(
                    matches!(last.error(), Some(Error::DestinationUnreachable { source, code: c, .. }) if *source == routers[2] && *c == code),
                    "{last}"
                );
                assert!(hops[..3].iter().all(|hop| hop.error().is_none()));
            }
        }
    });
}

fn a_router_that_stays_silent_is_left_out_and_later_hops_found() {
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(3);
    chain.warm_up();
    // Router 2 forwards but never says Time Exceeded.
    chain.silence(2);
    for family in [Family::V4, Family::V6] {
        let all = route(&chain, family);
        let target = chain.target(family).to_string();
        for parallel in [false, true] {
            let target = target.clone();
            let hops = chain.client().block_on(move || async move {
                async_traceroute(&target, &quick().parallel(parallel))
                    .await
                    .unwrap()
            });
            assert_eq!(
                path(&hops),
                vec![(1, all[0]), (3, all[2]), (4, all[3])],
                "{family} parallel={parallel}"
            );
        }
    }
}

fn traceroutes_and_pings_at_once_share_sockets_and_keep_their_replies() {
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(3);
    chain.warm_up();
    let v4 = route(&chain, Family::V4);
    let v6 = route(&chain, Family::V6);
    chain.client().block_on_multi(move || async move {
        let mut traces = Vec::new();
        for i in 0..20 {
            let addresses = if i % 2 == 0 { v4.clone() } else { v6.clone() };
            let parallel = i % 4 < 2;
            traces.push(tokio::spawn(async move {
                let target = addresses[3].to_string();
                let hops = async_traceroute(&target, &quick().parallel(parallel))
                    .await
                    .unwrap();
                assert_eq!(path(&hops), expected(&addresses, 1, 4));
            }));
        }
        let mut pings = Vec::new();
        for i in 0..40 {
            let target = if i % 2 == 0 { v4[3] } else { v6[3] }.to_string();
            pings.push(tokio::spawn(async move {
                let options = PingOptions::default()
                    .count(3)
                    .interval(Duration::from_millis(5));
                let host = async_ping(&target, &options).await.unwrap();
                assert_eq!(host.packets_received(), 3, "{host}");
                assert!(
                    host.error().is_none(),
                    "a ping took a router's answer: {host}"
                );
            }));
        }
        for task in traces.into_iter().chain(pings) {
            task.await.unwrap();
        }
    });
}

fn the_blocking_form_and_bad_options() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("trbl");
    netns.run(|| {
        let hops = traceroute("127.0.0.1", &quick()).unwrap();
        assert_eq!(path(&hops), vec![(1, "127.0.0.1".parse().unwrap())]);
        for bad in [
            quick().first_hop(0),
            quick().first_hop(9).max_hops(8),
            quick().count(0),
        ] {
            assert!(matches!(
                traceroute("127.0.0.1", &bad),
                Err(Error::InvalidOption { .. })
            ));
        }
    });
}

fn a_late_answer_to_an_earlier_probe_is_not_taken_for_a_later_one() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("trlate");
    let net = support::SimulatedNet::new(&netns);
    for family in [Family::V4, Family::V6] {
        // Every probe is answered with a Time Exceeded that comes 300 ms later, when the
        // next probe (timeout 200 ms) is waiting.
        let router = support::SimulatedNet::host(family, 77);
        net.script(
            support::SimulatedNet::host(family, 7),
            vec![support::Reply::after(
                300,
                support::Craft::TimeExceeded { from: router },
            )],
        );
        // The control: the same answers in time are taken.
        net.script(
            support::SimulatedNet::host(family, 8),
            vec![support::Reply::after(
                50,
                support::Craft::TimeExceeded { from: router },
            )],
        );
    }
    netns.block_on(|| async {
        for family in [Family::V4, Family::V6] {
            let target = support::SimulatedNet::host(family, 7).to_string();
            let options = quick()
                .count(1)
                .max_hops(4)
                .timeout(Duration::from_millis(200));
            let hops = async_traceroute(&target, &options).await.unwrap();
            assert!(hops.is_empty(), "late answers were taken: {hops:?}");
            let prompt = support::SimulatedNet::host(family, 8).to_string();
            let hops = async_traceroute(&prompt, &options).await.unwrap();
            let router = support::SimulatedNet::host(family, 77);
            assert_eq!(
                path(&hops),
                (1..=4).map(|d| (d, router)).collect::<Vec<_>>()
            );
        }
    });
}
