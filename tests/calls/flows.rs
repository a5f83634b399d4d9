//! Traceroute through a per-flow load balancer ([`Balancer`]: r1 sends each packet to one
//! of two routers by a hash of its addresses and its ICMP type, code and checksum):
//! flow-stable probes keep to one leg, flows map both, probes whose checksums vary are
//! spread over both.

use crate::support;

use std::net::IpAddr;
use std::time::Duration;

use icmplib::{Hop, Pinger, TracerouteOptions};
use support::Balancer;

support::harness::tests![
    Root one_flow_keeps_to_one_leg_flows_map_both_and_varying_probes_mix_them,
    Root an_unprivileged_flow_keeps_to_one_leg,
];

/// Probes per distance and flow.
const COUNT: usize = 20;

fn options() -> TracerouteOptions {
    TracerouteOptions::default()
        .count(COUNT)
        .interval(Duration::ZERO)
        .timeout(Duration::from_millis(800))
        .max_hops(6)
        .parallel(true)
}

/// Traces the lab's target from its client as `options` say, raw.
fn trace(lab: &Balancer, options: TracerouteOptions) -> Vec<Hop> {
    let target = lab.target().to_string();
    lab.client().block_on(move || async move {
        let pinger = Pinger::builder().privileged(true).build();
        pinger.traceroute(&target, &options).await.unwrap()
    })
}

/// The hops at `distance`.
fn at(hops: &[Hop], distance: u8) -> Vec<&Hop> {
    hops.iter()
        .filter(|hop| hop.distance() == distance)
        .collect()
}

fn one_flow_keeps_to_one_leg_flows_map_both_and_varying_probes_mix_them() {
    if !support::require_root() {
        return;
    }
    let lab = Balancer::new();
    let (r1, legs, r3) = lab.routers();
    let summary = |hops: &[Hop]| hops.iter().map(ToString::to_string).collect::<Vec<_>>();

    // One flow (the default): its 20 probes at distance 2 all meet one leg's router.
    for _ in 0..3 {
        let hops = trace(&lab, options());
        let second = at(&hops, 2);
        assert_eq!(second.len(), 1, "{:#?}", summary(&hops));
        assert!(legs.contains(&second[0].ip().unwrap()), "{}", second[0]);
        assert_eq!(second[0].packets_received(), COUNT, "{}", second[0]);
        assert_eq!(second[0].flows(), [0]);
        assert_eq!(at(&hops, 1)[0].ip(), Some(r1));
        assert_eq!(at(&hops, 3)[0].ip(), Some(r3));
        assert_eq!(at(&hops, 4)[0].ip(), Some(lab.target()));
    }

    // Eight flows: both legs, each flow on one. A hash sends all eight one way once in
    // 128 traces (each trace draws new checksums): tried up to three times.
    let mut mapped = None;
    for _ in 0..3 {
        let hops = trace(&lab, options().count(2).flows(8));
        if at(&hops, 2).len() == 2 {
            mapped = Some(hops);
            break;
        }
    }
    let hops = mapped.expect("eight flows over three traces all took one leg");
    let second = at(&hops, 2);
    let found: Vec<IpAddr> = second.iter().map(|hop| hop.ip().unwrap()).collect();
    assert!(
        found.contains(&legs[0]) && found.contains(&legs[1]),
        "{:#?}",
        summary(&hops)
    );
    for flow in 0..8u16 {
        let meeting = second
            .iter()
            .filter(|hop| hop.flows().contains(&flow))
            .count();
        assert_eq!(meeting, 1, "flow {flow}: {:#?}", summary(&hops));
    }
    // Before and after the legs, every flow meets the same router.
    for distance in [1, 3, 4] {
        let hops_there = at(&hops, distance);
        assert_eq!(hops_there.len(), 1, "{:#?}", summary(&hops));
        assert_eq!(hops_there[0].flows(), (0..8).collect::<Vec<u16>>());
    }

    // Probes whose checksums vary: the balancer spreads them, both legs mixed at distance
    // 2 (all 20 one way: one trace in half a million).
    let hops = trace(&lab, options().flow_stable(false));
    let second = at(&hops, 2);
    assert_eq!(second.len(), 2, "{:#?}", summary(&hops));
    assert!(second.iter().all(|hop| hop.flows().is_empty()));
    let received: usize = second.iter().map(|hop| hop.packets_received()).sum();
    assert_eq!(received, COUNT);
}

/// On a datagram socket the kernel writes the identifier and the checksum: the probes of
/// a flow keep to one leg all the same (the sum kept leaves out the identifier, the
/// same for every probe of the socket).
fn an_unprivileged_flow_keeps_to_one_leg() {
    const TEST: &str = "an_unprivileged_flow_keeps_to_one_leg";
    if let Some(role) = support::child_role() {
        let (name, args) = support::role_parts(&role);
        assert_eq!(name, "trace");
        let (target, legs) = (args[0].to_string(), [args[1], args[2]]);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for _ in 0..3 {
            let hops = runtime
                .block_on(icmplib::async_traceroute(
                    &target,
                    &options().privileged(false),
                ))
                .unwrap();
            let second = at(&hops, 2);
            assert_eq!(second.len(), 1, "{hops:#?}");
            assert!(legs.contains(&second[0].address()), "{}", second[0]);
            assert_eq!(second[0].packets_received(), COUNT, "{}", second[0]);
        }
        return;
    }
    if !support::require_root() {
        return;
    }
    let lab = Balancer::new();
    lab.client().allow_unprivileged_ping();
    let (_, legs, _) = lab.routers();
    let role = format!("trace:{},{},{}", lab.target(), legs[0], legs[1]);
    let output = lab.client().spawn_unprivileged(TEST, &role);
    support::assert_child_passed(&output);
}
