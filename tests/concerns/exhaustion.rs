//! Resources running out: a link slower than the requests, and requests larger than a
//! link's MTU. Each test makes its own namespaces; packets only go to hosts inside them.

use crate::support;

use std::time::Duration;

use icmplib::{Family, MultipingOptions, PingOptions, Pinger};
use support::Lab;

support::harness::tests![
    Root a_link_slower_than_the_requests_loses_no_live_host,
    Root requests_larger_than_the_mtu_leave_in_fragments,
];

/// 4,032 requests (1,008 live hosts, 4 each, no pause) over a 1 Mbit/s
/// link whose queue holds 10 kB. Linux drops what overflows the link's queue: a raw IPv4
/// socket counted those requests as sent and lost (1,142 of 4,032 answered, 510 hosts
/// reported dead), an unprivileged IPv6 socket got no signal at all (927 answered). Every
/// mode must now get every reply.
fn a_link_slower_than_the_requests_loses_no_live_host() {
    if !support::require_root() {
        return;
    }
    let lab = Lab::new("slow");
    lab.client.exec_ok(&[
        "tc", "qdisc", "add", "dev", "out", "root", "tbf", "rate", "1mbit", "burst", "2kb",
        "limit", "10kb",
    ]);
    for family in [Family::V4, Family::V6] {
        for privileged in [true, false] {
            let targets: Vec<String> = (1..=1_008)
                .map(|n| Lab::host(family, n).to_string())
                .collect();
            let hosts = lab.client.block_on(move || async move {
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
fn requests_larger_than_the_mtu_leave_in_fragments() {
    if !support::require_root() {
        return;
    }
    let lab = Lab::new("frag");
    for family in [Family::V4, Family::V6] {
        for privileged in [true, false] {
            let address = Lab::host(family, 1).to_string();
            let host = lab.client.block_on(move || async move {
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
