//! What a reply carries besides its source and time: the TTL / hop limit and the TOS /
//! traffic class it arrived with, from raw and datagram sockets, IPv4 and IPv6.

use crate::support;

use std::time::Duration;

use icmplib::{AsyncIcmpSocket, Family, IcmpRequest, IcmpV4Socket, IcmpV6Socket};
use support::Lab;

support::harness::tests![
    Root replies_carry_the_ttl_and_traffic_class_they_arrived_with,
    Root blocking_sockets_read_them_too,
];

/// An odd TTL / hop limit for the lab's hosts, so that no default can pass for it.
const HOST_TTL: u8 = 57;

fn lab(tag: &str) -> Lab {
    let lab = Lab::new(tag);
    lab.target
        .sysctl("net.ipv4.ip_default_ttl", &HOST_TTL.to_string());
    for conf in ["all", "default", "in", "lo"] {
        lab.target.sysctl(
            &format!("net.ipv6.conf.{conf}.hop_limit"),
            &HOST_TTL.to_string(),
        );
    }
    lab
}

fn replies_carry_the_ttl_and_traffic_class_they_arrived_with() {
    if !support::require_root() {
        return;
    }
    let lab = lab("rmeta");
    lab.client.block_on(|| async {
        for family in [Family::V4, Family::V6] {
            // Linux answers an echo request with its TOS / traffic class.
            for (privileged, traffic_class) in [(true, 0x20), (false, 0x48), (true, 0)] {
                let socket = AsyncIcmpSocket::new(family, None, privileged).unwrap();
                let request =
                    IcmpRequest::new(Lab::host(family, 3), 7, 1).with_traffic_class(traffic_class);
                socket.send(&request).await.unwrap();
                let reply = socket
                    .receive(Some(&request), Duration::from_secs(2))
                    .await
                    .unwrap();
                let what = format!("{family} privileged={privileged}");
                // One link away: the host's TTL, not decremented.
                assert_eq!(reply.ttl(), Some(HOST_TTL), "{what}");
                assert_eq!(reply.traffic_class(), Some(traffic_class), "{what}");
            }
        }
    });
}

fn blocking_sockets_read_them_too() {
    if !support::require_root() {
        return;
    }
    let lab = lab("rmetab");
    lab.client.run(|| {
        for privileged in [true, false] {
            let socket = IcmpV4Socket::new(None, privileged).unwrap();
            let request = IcmpRequest::new(Lab::host(Family::V4, 4), 7, 1);
            socket.send(&request).unwrap();
            let reply = socket
                .receive(Some(&request), Duration::from_secs(2))
                .unwrap();
            assert_eq!(reply.ttl(), Some(HOST_TTL), "privileged={privileged}");
            let socket = IcmpV6Socket::new(None, privileged).unwrap();
            let request = IcmpRequest::new(Lab::host(Family::V6, 4), 7, 1);
            socket.send(&request).unwrap();
            let reply = socket
                .receive(Some(&request), Duration::from_secs(2))
                .unwrap();
            assert_eq!(reply.ttl(), Some(HOST_TTL), "privileged={privileged}");
        }
    });
}
