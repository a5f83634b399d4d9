//! A pinger tied to an interface or a routing mark (`PingerBuilder::interface`, `mark`):
//! a client with two links, a destination reachable over only one of them, and the
//! routing table choosing the other unless told.

use crate::support;

use std::time::Duration;

use icmplib::{Error, PingOptions, Pinger};
use support::{Netns, example};

support::harness::tests![
    Root an_interface_picks_the_link_that_works,
    Root a_mark_routes_by_its_table,
    Root a_missing_interface_is_a_clear_error,
    Root a_mark_without_cap_net_admin_says_so,
    Root the_examples_take_an_interface_and_a_mark,
];

/// The destination: a host on the far end of `up1` only.
const V4: &str = "203.0.113.7";
const V6: &str = "2001:db8:ff::7";

/// A client with links `up1` (to the namespace holding the destination) and `up2` (to a
/// dead end), whose main table prefers `up2`; table 100, chosen by mark 7, goes by `up1`.
struct TwoLinks {
    client: Netns,
    _good: Netns,
    _dead_end: Netns,
}

fn two_links(tag: &str) -> TwoLinks {
    let client = Netns::new(&format!("{tag}c"));
    let good = Netns::new(&format!("{tag}g"));
    let dead_end = Netns::new(&format!("{tag}d"));
    client.ip(&[
        "link",
        "add",
        "up1",
        "type",
        "veth",
        "peer",
        "name",
        "in",
        "netns",
        good.name(),
    ]);
    client.ip(&[
        "link",
        "add",
        "up2",
        "type",
        "veth",
        "peer",
        "name",
        "in",
        "netns",
        dead_end.name(),
    ]);
    client.ip_batch(
        "link set lo up
         link set up1 up
         link set up2 up
         addr add 192.0.2.1/30 dev up1
         addr add 192.0.2.5/30 dev up2
         addr add 2001:db8:a::1/64 dev up1 nodad
         addr add 2001:db8:b::1/64 dev up2 nodad
         route add 203.0.113.7 via 192.0.2.6 dev up2 metric 10
         route add 203.0.113.7 via 192.0.2.2 dev up1 metric 20
         route add 2001:db8:ff::7 via 2001:db8:b::2 dev up2 metric 10
         route add 2001:db8:ff::7 via 2001:db8:a::2 dev up1 metric 20
         route add 203.0.113.7 via 192.0.2.2 dev up1 table 100
         route add 2001:db8:ff::7 via 2001:db8:a::2 dev up1 table 100
         rule add fwmark 7 lookup 100",
    );
    client.ip(&["-6", "rule", "add", "fwmark", "7", "lookup", "100"]);
    good.ip_batch(
        "link set lo up
         link set in up
         addr add 192.0.2.2/30 dev in
         addr add 2001:db8:a::2/64 dev in nodad
         addr add 203.0.113.7/32 dev lo
         addr add 2001:db8:ff::7/128 dev lo",
    );
    // The dead end has the link but not the destination, and does not forward.
    dead_end.ip_batch(
        "link set lo up
         link set in up
         addr add 192.0.2.6/30 dev in
         addr add 2001:db8:b::2/64 dev in nodad",
    );
    client.allow_unprivileged_ping();
    TwoLinks {
        client,
        _good: good,
        _dead_end: dead_end,
    }
}

fn options(privileged: bool) -> PingOptions {
    PingOptions::default()
        .count(2)
        .interval(Duration::from_millis(50))
        .timeout(Duration::from_millis(300))
        .privileged(privileged)
}

fn an_interface_picks_the_link_that_works() {
    if !support::require_root() {
        return;
    }
    let lab = two_links("bif");
    lab.client.block_on(|| async {
        for privileged in [true, false] {
            for target in [V4, V6] {
                // The routing table alone takes the dead end.
                let plain = Pinger::builder().privileged(privileged).build();
                let host = plain.ping(target, &options(privileged)).await.unwrap();
                assert!(!host.is_alive(), "{host} privileged={privileged}");
                let good = Pinger::builder()
                    .privileged(privileged)
                    .interface("up1")
                    .build();
                let host = good.ping(target, &options(privileged)).await.unwrap();
                assert!(host.is_alive(), "{host} privileged={privileged}");
                assert_eq!(host.packets_received(), 2);
                let bad = Pinger::builder()
                    .privileged(privileged)
                    .interface("up2")
                    .build();
                let host = bad.ping(target, &options(privileged)).await.unwrap();
                assert!(!host.is_alive(), "{host} privileged={privileged}");
            }
        }
    });
}

fn a_mark_routes_by_its_table() {
    if !support::require_root() {
        return;
    }
    let lab = two_links("bmark");
    lab.client.block_on(|| async {
        for privileged in [true, false] {
            for target in [V4, V6] {
                let marked = Pinger::builder().privileged(privileged).mark(7).build();
                let host = marked.ping(target, &options(privileged)).await.unwrap();
                assert!(host.is_alive(), "{host} privileged={privileged}");
                let other = Pinger::builder().privileged(privileged).mark(8).build();
                let host = other.ping(target, &options(privileged)).await.unwrap();
                assert!(!host.is_alive(), "{host} privileged={privileged}");
            }
        }
    });
}

fn a_missing_interface_is_a_clear_error() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("bnone");
    netns.block_on(|| async {
        let pinger = Pinger::builder().interface("nosuch0").build();
        let error = pinger.ping("127.0.0.1", &options(true)).await.unwrap_err();
        assert!(matches!(error, Error::InvalidOption { .. }), "{error:?}");
        assert!(
            error.to_string().contains("no network interface 'nosuch0'"),
            "{error}"
        );
    });
}

/// Without CAP_NET_ADMIN, a mark is refused, and the error says what is missing.
fn a_mark_without_cap_net_admin_says_so() {
    if let Some(role) = support::child_role() {
        if role == "mark" {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let pinger = Pinger::builder().privileged(false).mark(7).build();
                let error = pinger.ping("127.0.0.1", &options(false)).await.unwrap_err();
                assert!(error.to_string().contains("CAP_NET_ADMIN"), "{error}");
            });
        }
        return;
    }
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("bmarkcap");
    netns.allow_unprivileged_ping();
    let output = netns.spawn_unprivileged("a_mark_without_cap_net_admin_says_so", "mark");
    support::assert_child_passed(&output);
}

fn the_examples_take_an_interface_and_a_mark() {
    if !support::require_root() {
        return;
    }
    let lab = two_links("bex");
    let ping = example("ping");
    let traceroute = example("traceroute");
    let timeout = Duration::from_secs(30);
    for (args, code) in [
        (vec!["-c", "1", "-W", "0.3", "-I", "up1", V4], 0),
        (vec!["-c", "1", "-W", "0.3", "-I", "up2", V4], 1),
        (vec!["-c", "1", "-W", "0.3", "-m", "7", V6], 0),
        (vec!["-c", "1", "-W", "0.3", V6], 1),
    ] {
        let output = lab.client.run_program(&ping, &args, timeout);
        assert_eq!(
            output.status.code(),
            Some(code),
            "ping {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let output = lab.client.run_program(
        &traceroute,
        &["-n", "-q", "1", "-W", "0.3", "-I", "up1", V4],
        timeout,
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains(" 1  203.0.113.7 "), "{text}");
}
