//! `Pinger::watch_route`, the continuous trace, through a chain of router namespaces:
//! per-hop figures against `mtr -r` on the same chain, loss at one router only, routers'
//! names from the lab's name server, and a name server that does not answer.

use crate::support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use futures::StreamExt;
use icmplib::{
    Family, Pinger, Resolver, RouteEvent, RouteRound, RouteWatchOptions, TracerouteOptions,
};
use support::{Chain, DnsResponder};

support::harness::tests![
    Root ten_rounds_agree_with_mtr_and_loss_stays_at_its_router,
    Root routers_get_their_names_and_a_dead_name_server_delays_no_round,
];

/// The rounds of a continuous trace from the chain's client to its target.
fn rounds(
    chain: &Chain,
    options: RouteWatchOptions,
    resolver: Option<Resolver>,
) -> Vec<RouteRound> {
    let target = chain.target(Family::V4);
    chain.client().block_on(move || async move {
        let mut pinger = Pinger::builder().privileged(true);
        if let Some(resolver) = resolver {
            pinger = pinger.resolver(resolver);
        }
        let mut trace = pinger.build().watch_route(target, &options).unwrap();
        let mut rounds = Vec::new();
        while let Some(event) = trace.next().await {
            match event {
                RouteEvent::Round(round) => rounds.push(round),
                RouteEvent::Error(error) => panic!("{error}"),
                _ => {}
            }
        }
        rounds
    })
}

/// (distance, sent, received) of each hop of `round`.
fn figures(round: &RouteRound) -> Vec<(u8, u64, u64)> {
    round
        .hops()
        .iter()
        .map(|hop| (hop.distance(), hop.sent(), hop.received()))
        .collect()
}

/// mtr's report over the chain: (hop, sent, received) per hop, from its JSON.
fn mtr_report(chain: &Chain, cycles: u32) -> Vec<(u8, u64, u64)> {
    let target = chain.target(Family::V4).to_string();
    let cycles = cycles.to_string();
    let output = chain.client().exec_ok(&[
        "mtr",
        "-r",
        "-n",
        "-j",
        "-c",
        &cycles,
        "-i",
        "0.2",
        "--timeout",
        "1",
        &target,
    ]);
    let report: serde_json::Value = serde_json::from_str(&output).expect("mtr's JSON");
    report["report"]["hubs"]
        .as_array()
        .expect("hubs")
        .iter()
        .map(|hub| {
            let sent = hub["Snt"].as_u64().unwrap();
            let loss = hub["Loss%"].as_f64().unwrap();
            let received = (sent as f64 * (1.0 - loss / 100.0)).round() as u64;
            (
                u8::try_from(hub["count"].as_u64().unwrap()).unwrap(),
                sent,
                received,
            )
        })
        .collect()
}

fn options(rounds: u64) -> RouteWatchOptions {
    RouteWatchOptions::default()
        .rounds(Some(rounds))
        .interval(Duration::from_millis(200))
        .timeout(Duration::from_millis(800))
        .max_hops(8)
}

fn ten_rounds_agree_with_mtr_and_loss_stays_at_its_router() {
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(3);
    chain.warm_up();
    let ours = rounds(&chain, options(10), None);
    assert_eq!(ours.len(), 10);
    let last = ours.last().unwrap();
    assert_eq!(last.reached(), Some(4));
    let mtr = mtr_report(&chain, 10);
    let ours = figures(last);
    assert_eq!(ours.len(), mtr.len(), "ours {ours:?}, mtr {mtr:?}");
    for ((distance, sent, received), (hop, mtr_sent, mtr_received)) in ours.iter().zip(&mtr) {
        assert_eq!(distance, hop);
        assert!(
            sent.abs_diff(*mtr_sent) <= 1,
            "hop {hop}: ours {ours:?}, mtr {mtr:?}"
        );
        assert!(
            received.abs_diff(*mtr_received) <= 1,
            "hop {hop}: ours {ours:?}, mtr {mtr:?}"
        );
    }
    for (distance, hop) in (1..).zip(last.hops()) {
        let expected: IpAddr = chain.hop_address(distance, Family::V4);
        assert_eq!(hop.responders()[0].address, expected);
        assert!(hop.avg().is_some() && hop.stddev().is_some());
    }

    // Half the probes that expire at router 2 dropped there (every other one, in order).
    chain.router(2).nft(
        "table ip half {\n chain input {\n type filter hook prerouting priority -10;\n \
         ip ttl 1 icmp type echo-request numgen inc mod 2 == 0 drop\n }\n}\n",
    );
    let lossy = rounds(&chain, options(10), None);
    let last = lossy.last().unwrap();
    let losses: Vec<(u8, f64)> = last
        .hops()
        .iter()
        .map(|hop| (hop.distance(), hop.loss()))
        .collect();
    assert_eq!(
        losses,
        [(1, 0.0), (2, 0.5), (3, 0.0), (4, 0.0)],
        "{:?}",
        figures(last)
    );
}

fn routers_get_their_names_and_a_dead_name_server_delays_no_round() {
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(2);
    chain.warm_up();
    let dns = DnsResponder::start(chain.client(), &[]);
    for distance in 1..=3 {
        let address = chain.hop_address(distance, Family::V4);
        dns.set_ptr(address, &format!("hop{distance}.lab.test"));
    }
    let server = dns.address();
    let resolver = || {
        Resolver::builder()
            .name_servers(&[server])
            .timeout(Duration::from_millis(500))
            .attempts(1)
            .build()
            .unwrap()
    };
    // A continuous trace: names come with the rounds after the first.
    let named = rounds(&chain, options(5).names(true), Some(resolver()));
    let last = named.last().unwrap();
    let names: Vec<Option<String>> = last
        .hops()
        .iter()
        .map(|hop| hop.responders()[0].name.clone())
        .collect();
    assert_eq!(
        names,
        ["hop1.lab.test", "hop2.lab.test", "hop3.lab.test"].map(|n| Some(n.to_string()))
    );
    // A one-shot trace: names once the trace is done.
    let target = chain.target(Family::V4).to_string();
    let resolver_for_trace = resolver();
    let hops = chain.client().block_on(move || async move {
        let pinger = Pinger::builder().resolver(resolver_for_trace).build();
        let options = TracerouteOptions::default()
            .names(true)
            .interval(Duration::ZERO)
            .timeout(Duration::from_millis(500))
            .max_hops(6);
        pinger.traceroute(&target, &options).await.unwrap()
    });
    let names: Vec<Option<&str>> = hops.iter().map(|hop| hop.name()).collect();
    assert_eq!(
        names,
        [
            Some("hop1.lab.test"),
            Some("hop2.lab.test"),
            Some("hop3.lab.test")
        ]
    );
    assert!(
        hops[0].to_string().contains("hop1.lab.test (192.0.2.2)"),
        "{}",
        hops[0]
    );

    // The name server stops answering: every round comes, without names, while the
    // lookups wait (asked, never answered). The rounds never wait for a name (the trace's
    // job knows nothing of them); the time is printed, not judged.
    dns.set_silent(true);
    let asked_before = dns.queries(&support::arpa_name(chain.hop_address(1, Family::V4)));
    let started = Instant::now();
    let silent = rounds(&chain, options(5).names(true), Some(resolver()));
    let took = started.elapsed();
    assert_eq!(silent.len(), 5);
    assert!(
        silent
            .iter()
            .flat_map(|round| round.hops())
            .all(|hop| hop.responders()[0].name.is_none())
    );
    let asked = dns.queries(&support::arpa_name(chain.hop_address(1, Family::V4)));
    assert!(asked > asked_before, "the names were asked for");
    println!("5 rounds 200 ms apart with a dead name server: {took:?}");
}
