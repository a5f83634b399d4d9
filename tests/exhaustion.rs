//! Resources running out: a link slower than the requests, and requests larger than a
//! link's MTU. Each test makes its own namespaces; packets only go to hosts inside them.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use icmplib::{Family, MultipingOptions, PingOptions, Pinger};
use support::Netns;

/// A client namespace joined to a target namespace by a veth pair; the target answers for
/// 198.51.100.0/22 and 2001:db8:100::/118 (local routes on its loopback), the client may
/// open datagram ICMP sockets, and `qdisc` (a `tc qdisc add dev out root ...` tail) shapes
/// the client's side.
fn link(tag: &str, qdisc: &[&str]) -> (Netns, Netns) {
    let client = Netns::new(&format!("{tag}c"));
    let target = Netns::new(&format!("{tag}t"));
    client.ip(&[
        "link",
        "add",
        "out",
        "type",
        "veth",
        "peer",
        "name",
        "in",
        "netns",
        target.name(),
    ]);
    client.ip_batch(
        "link set out up
         addr add 203.0.113.1/24 dev out
         addr add 2001:db8:1::1/64 dev out nodad
         route add 198.51.100.0/22 via 203.0.113.2
         route add 2001:db8:100::/118 via 2001:db8:1::2",
    );
    target.ip_batch(
        "link set in up
         link set lo up
         addr add 203.0.113.2/24 dev in
         addr add 2001:db8:1::2/64 dev in nodad
         route add local 198.51.100.0/22 dev lo
         route add local 2001:db8:100::/118 dev lo",
    );
    target.sysctl("net.ipv4.icmp_ratelimit", "0");
    target.sysctl("net.ipv6.icmp.ratelimit", "0");
    client.allow_unprivileged_ping();
    if !qdisc.is_empty() {
        let mut args = vec!["tc", "qdisc", "add", "dev", "out", "root"];
        args.extend_from_slice(qdisc);
        client.exec_ok(&args);
    }
    (client, target)
}

/// The `n`-th host (from 1) of the target's range in `family`.
fn host(family: Family, n: u32) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::from(0xc633_6400 + n)),
        Family::V6 => format!("2001:db8:100::{n:x}").parse().unwrap(),
    }
}

/// Issue 11, item 3: 4,032 requests (1,008 live hosts, 4 each, no pause) over a 1 Mbit/s
/// link whose queue holds 10 kB. Linux drops what overflows the link's queue: a raw IPv4
/// socket counted those requests as sent and lost (1,142 of 4,032 answered, 510 hosts
/// reported dead), an unprivileged IPv6 socket got no signal at all (927 answered). Every
/// mode must now get every reply.
#[test]
fn a_link_slower_than_the_requests_loses_no_live_host() {
    if !support::require_root() {
        return;
    }
    let (client, _target) = link(
        "slow",
        &["tbf", "rate", "1mbit", "burst", "2kb", "limit", "10kb"],
    );
    for family in [Family::V4, Family::V6] {
        for privileged in [true, false] {
            let targets: Vec<String> = (1..=1_008).map(|n| host(family, n).to_string()).collect();
            let hosts = client.block_on(move || async move {
                let options = MultipingOptions::default()
                    .count(4)
                    .interval(Duration::ZERO)
                    .timeout(Duration::from_secs(10))
                    .concurrent_tasks(1_008)
                    .privileged(privileged);
                Pinger::new().multiping(&targets, &options).await.unwrap()
            });
            let received: usize = hosts.iter().map(|host| host.packets_received()).sum();
            let dead = hosts.iter().filter(|host| !host.is_alive()).count();
            assert_eq!(
                (received, dead),
                (4_032, 0),
                "{family} privileged {privileged}: {}",
                hosts
                    .iter()
                    .find(|host| host.packets_received() < 4)
                    .unwrap()
            );
        }
    }
}

/// Requests larger than the link's MTU leave as IP fragments, all at once: the small send
/// buffer sockets are opened with must grow for them, on every kind of socket.
#[test]
fn requests_larger_than_the_mtu_leave_in_fragments() {
    if !support::require_root() {
        return;
    }
    let (client, _target) = link("frag", &[]);
    for family in [Family::V4, Family::V6] {
        for privileged in [true, false] {
            let address = host(family, 1).to_string();
            let host = client.block_on(move || async move {
                let options = PingOptions::default()
                    .count(2)
                    .interval(Duration::ZERO)
                    .timeout(Duration::from_secs(5))
                    .payload_size(60_000)
                    .privileged(privileged);
                icmplib::async_ping(&address, &options).await.unwrap()
            });
            assert_eq!(
                host.packets_received(),
                2,
                "{family} privileged {privileged}: {host}"
            );
        }
    }
}
