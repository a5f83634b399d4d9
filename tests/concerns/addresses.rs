//! Addresses as people write them: IPv6 link-local addresses with
//! their zone, as targets and as sources, link-local hops of a traceroute with theirs, and
//! IPv4-mapped IPv6 addresses, pinged as the IPv4 address they map. Before, a zone made
//! the target a name that did not resolve, and `::ffff:127.0.0.1` failed with "Network is
//! unreachable".

use crate::support;

use std::net::IpAddr;
use std::time::Duration;

use icmplib::{PingOptions, TracerouteOptions, async_ping, async_traceroute};
use support::{Netns, veth_pair};

support::harness::tests![
    Root link_local_targets_with_their_zone_answer,
    Root a_link_local_hop_of_a_traceroute_carries_its_zone,
    Root an_ipv4_mapped_address_is_pinged_as_the_ipv4_address,
];

fn fast() -> PingOptions {
    PingOptions::default()
        .count(2)
        .interval(Duration::ZERO)
        .timeout(Duration::from_secs(2))
}

/// Pings `target` until it answers (at most 50 tries): a fresh link's neighbour
/// discovery can swallow the very first packets.
async fn warm_up(target: &str) {
    let once = fast().count(1).timeout(Duration::from_millis(200));
    for _ in 0..50 {
        if async_ping(target, &once)
            .await
            .is_ok_and(|host| host.is_alive())
        {
            return;
        }
    }
    panic!("{target} never answered");
}

/// Two namespaces joined by a veth pair `out` — `in`, with fe80::1 and fe80::2.
fn link_local_pair() -> (Netns, Netns) {
    let (client, target) = veth_pair("ll");
    client.ip_batch("addr add fe80::1/64 dev out nodad");
    target.ip_batch("addr add fe80::2/64 dev in nodad");
    client.allow_unprivileged_ping();
    (client, target)
}

fn link_local_targets_with_their_zone_answer() {
    if !support::require_root() {
        return;
    }
    let (client, _target) = link_local_pair();
    let index = client.exec_ok(&["cat", "/sys/class/net/out/ifindex"]);
    let index = index.trim().to_string();
    client.block_on(move || async move {
        warm_up("fe80::2%out").await;
        for privileged in [true, false] {
            let options = fast().privileged(privileged);
            let by_name = async_ping("fe80::2%out", &options).await.unwrap();
            assert_eq!(by_name.packets_received(), 2, "{by_name}");
            assert_eq!(by_name.address(), "fe80::2%out");
            assert_eq!(by_name.target(), "fe80::2%out");
            let by_index = async_ping(&format!("fe80::2%{index}"), &options)
                .await
                .unwrap();
            assert_eq!(by_index.packets_received(), 2, "{by_index}");
            assert_eq!(by_index.address(), "fe80::2%out");
            // A link-local source takes the zone of its destination.
            let source: IpAddr = "fe80::1".parse().unwrap();
            let from = async_ping("fe80::2%out", &options.clone().source(source))
                .await
                .unwrap();
            assert_eq!(from.packets_received(), 2, "{from}");
        }
        let error = async_ping("fe80::2%nonesuch", &fast()).await.unwrap_err();
        assert!(
            matches!(&error, icmplib::Error::InvalidOption { reason } if reason.contains("nonesuch")),
            "{error:?}"
        );
    });
}

fn a_link_local_hop_of_a_traceroute_carries_its_zone() {
    if !support::require_root() {
        return;
    }
    let (client, _target) = link_local_pair();
    client.block_on(|| async {
        warm_up("fe80::2%out").await;
        for privileged in [true, false] {
            let options = TracerouteOptions::default()
                .count(1)
                .max_hops(3)
                .timeout(Duration::from_secs(2))
                .privileged(privileged);
            let hops = async_traceroute("fe80::2%out", &options).await.unwrap();
            assert_eq!(hops.len(), 1, "privileged {privileged}: {hops:#?}");
            assert_eq!(hops[0].address(), "fe80::2%out");
            assert_eq!(hops[0].ip(), Some("fe80::2".parse().unwrap()));
            assert_eq!(hops[0].distance(), 1);
        }
    });
}

fn an_ipv4_mapped_address_is_pinged_as_the_ipv4_address() {
    if !support::require_root() {
        return;
    }
    Netns::new("mapped").block_on(|| async {
        let host = async_ping("::ffff:127.0.0.1", &fast()).await.unwrap();
        assert_eq!(host.packets_received(), 2, "{host}");
        assert_eq!(host.address(), "127.0.0.1");
        assert_eq!(host.target(), "::ffff:127.0.0.1");
    });
}
