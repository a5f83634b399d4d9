//! A router that answers Time Exceeded as MPLS routers do — the quoted datagram padded to
//! 128 bytes, then an RFC 4884 extension structure with an MPLS label stack — is a hop of
//! the trace like any other, raw and unprivileged, IPv4 and IPv6. Router r1 of a chain
//! (client — r1 — r2 — target) forges those messages; its own are dropped by nftables.

use crate::support;

use std::net::IpAddr;
use std::time::Duration;

use icmplib::packet::{MplsLabel, QuoteLayout};
use icmplib::{Family, Hop, TracerouteOptions, async_traceroute};
use support::Chain;
use support::forger::Forger;

support::harness::tests![
    Root a_router_quoting_128_bytes_and_an_extension_is_found_raw,
    Root a_router_quoting_128_bytes_and_an_extension_is_found_unprivileged,
    Root the_labels_are_those_traceroute_and_tcpdump_show,
];

/// Both layouts: with the RFC 4884 length field, and the older form (length 0, the
/// extension after exactly 128 bytes of quote).
const LAYOUTS: [QuoteLayout; 2] = [QuoteLayout::Rfc4884, QuoteLayout::Padded128];
/// Probes per hop.
const COUNT: usize = 2;

fn options(privileged: bool) -> TracerouteOptions {
    TracerouteOptions::default()
        .count(COUNT)
        .interval(Duration::ZERO)
        .timeout(Duration::from_millis(500))
        .max_hops(6)
        .privileged(privileged)
}

/// (distance, address) of each hop; `None` for a hop that did not answer.
fn path(hops: &[Hop]) -> Vec<(u8, Option<IpAddr>)> {
    hops.iter().map(|hop| (hop.distance(), hop.ip())).collect()
}

/// Traces the last of `addresses` (the chain's hops in distance order) and checks that
/// every hop answered every probe, the forging router first.
async fn check_trace(addresses: Vec<IpAddr>, privileged: bool) {
    let target = addresses.last().unwrap().to_string();
    let hops = async_traceroute(&target, &options(privileged))
        .await
        .unwrap();
    let expected: Vec<(u8, Option<IpAddr>)> = (1..)
        .zip(&addresses)
        .map(|(distance, address)| (distance, Some(*address)))
        .collect();
    assert_eq!(path(&hops), expected, "privileged={privileged}");
    for hop in &hops {
        assert_eq!(hop.packets_received(), COUNT, "{hop}");
    }
    // The forging router's label stack, decoded; the others sent none.
    assert_eq!(hops[0].mpls_labels(), [forged_label()], "{}", hops[0]);
    assert!(
        hops[0]
            .to_string()
            .ends_with("[MPLS: Lbl 100 TC 0 S 1 TTL 1]")
    );
    for hop in &hops[1..] {
        assert!(hop.mpls_labels().is_empty(), "{hop}");
    }
}

/// The one entry of the forger's label stack: label 100, traffic class 0, bottom of the
/// stack, TTL 1 (what `traceroute -I -e` shows as `<MPLS:L=100,E=0,S=1,T=1>`).
fn forged_label() -> MplsLabel {
    MplsLabel {
        label: 100,
        traffic_class: 0,
        bottom_of_stack: true,
        ttl: 1,
    }
}

/// The chain's hop addresses for `family`, in distance order.
fn route(chain: &Chain, family: Family) -> Vec<IpAddr> {
    (1..=chain.distance_of_target())
        .map(|distance| chain.hop_address(distance, family))
        .collect()
}

/// A warmed-up chain of two routers whose clients may open datagram ICMP sockets.
fn chain() -> Chain {
    let chain = Chain::new(2);
    chain.warm_up();
    chain.client().allow_unprivileged_ping();
    chain
}

fn a_router_quoting_128_bytes_and_an_extension_is_found_raw() {
    if !support::require_root() {
        return;
    }
    let chain = chain();
    for layout in LAYOUTS {
        let forger = Forger::start(&chain, 1, layout);
        for family in [Family::V4, Family::V6] {
            let addresses = route(&chain, family);
            chain
                .client()
                .block_on(move || async move { check_trace(addresses, true).await });
        }
        assert!(
            forger.forged() >= 2 * COUNT,
            "{layout:?}: r1 forged {} messages",
            forger.forged()
        );
    }
}

fn a_router_quoting_128_bytes_and_an_extension_is_found_unprivileged() {
    const TEST: &str = "a_router_quoting_128_bytes_and_an_extension_is_found_unprivileged";
    if let Some(role) = support::child_role() {
        let (name, args) = support::role_parts(&role);
        assert_eq!(name, "trace");
        let addresses: Vec<IpAddr> = args.iter().map(|a| a.parse().unwrap()).collect();
        let (v4, v6) = addresses.split_at(addresses.len() / 2);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            check_trace(v4.to_vec(), false).await;
            check_trace(v6.to_vec(), false).await;
        });
        return;
    }
    if !support::require_root() {
        return;
    }
    let chain = chain();
    let mut addresses = route(&chain, Family::V4);
    addresses.extend(route(&chain, Family::V6));
    let args: Vec<String> = addresses.iter().map(IpAddr::to_string).collect();
    let role = format!("trace:{}", args.join(","));
    for layout in LAYOUTS {
        let forger = Forger::start(&chain, 1, layout);
        let output = chain.client().spawn_unprivileged(TEST, &role);
        support::assert_child_passed(&output);
        assert!(
            forger.forged() >= 2 * COUNT,
            "{layout:?}: r1 forged {} messages",
            forger.forged()
        );
    }
}

/// The same forged messages read three ways: our trace's first hop, `traceroute -I -e`
/// (`<MPLS:L=100,E=0,S=1,T=1>`) and tcpdump's decoding of the Time Exceeded messages on
/// the client's link, for both layouts.
fn the_labels_are_those_traceroute_and_tcpdump_show() {
    if !support::require_root() {
        return;
    }
    let chain = chain();
    let target = chain.target(Family::V4);
    for layout in LAYOUTS {
        let _forger = Forger::start(&chain, 1, layout);
        let (hops, dump) = std::thread::scope(|scope| {
            let capture = scope.spawn(|| {
                let mut tcpdump = std::process::Command::new("tcpdump");
                tcpdump.args(["-i", "vdown", "-n", "-v", "-l", "-c", "2"]);
                tcpdump.arg("icmp[icmptype] == icmp-timxceed");
                chain.client().run_command(tcpdump, Duration::from_secs(10))
            });
            // tcpdump opens its socket within a few milliseconds; a second is plenty.
            std::thread::sleep(Duration::from_secs(1));
            let address = target.to_string();
            let hops = chain.client().block_on(move || async move {
                let options = options(true).max_hops(1);
                async_traceroute(&address, &options).await.unwrap()
            });
            (hops, capture.join().unwrap())
        });
        let dump = String::from_utf8_lossy(&dump.stdout).into_owned();
        let label = hops[0].mpls_labels()[0];
        assert_eq!(label, forged_label(), "{layout:?}");
        // tcpdump: "label 100, tc 0, [S], ttl 1" for each of the two messages.
        let tcpdump_form = format!(
            "label {}, tc {}, {}ttl {}",
            label.label,
            label.traffic_class,
            if label.bottom_of_stack { "[S], " } else { "" },
            label.ttl
        );
        assert_eq!(dump.matches(&tcpdump_form).count(), 2, "{layout:?}: {dump}");
        let traceroute = chain.client().exec_ok(&[
            "traceroute",
            "-I",
            "-e",
            "-n",
            "-q",
            "1",
            "-m",
            "1",
            "-w",
            "2",
            &target.to_string(),
        ]);
        let traceroute_form = format!(
            "<MPLS:L={},E={},S={},T={}>",
            label.label,
            label.traffic_class,
            u8::from(label.bottom_of_stack),
            label.ttl
        );
        assert!(
            traceroute.contains(&traceroute_form),
            "{layout:?}: {traceroute}"
        );
    }
}
