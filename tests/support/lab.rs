//! Two namespaces joined by a veth pair, and the routed lab built on them: a client and a
//! target whose loopback answers for whole documentation ranges.

use std::net::{IpAddr, Ipv4Addr};

use icmplib::Family;

use super::Netns;

/// Two namespaces, `{tag}c` and `{tag}t`, joined by a veth pair — `out` on the first's
/// side, `in` on the second's — with both ends and the second's loopback up.
pub fn veth_pair(tag: &str) -> (Netns, Netns) {
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
    client.ip(&["link", "set", "out", "up"]);
    target.ip_batch("link set in up\nlink set lo up");
    (client, target)
}

/// A client (203.0.113.1, 2001:db8:1::1) routed to a target (203.0.113.2,
/// 2001:db8:1::2) whose loopback holds 198.51.100.0/22 and 2001:db8:100::/118, so that
/// every address of those ranges is a live host one link away ([`Lab::host`]). The
/// target answers without ICMP rate limits; the client allows unprivileged ping.
pub struct Lab {
    /// Where the code under test runs.
    pub client: Netns,
    /// The far end of the link, holding the hosts.
    pub target: Netns,
}

impl Lab {
    /// Builds the lab, its namespaces named after `tag`.
    pub fn new(tag: &str) -> Lab {
        let (client, target) = veth_pair(tag);
        client.ip_batch(
            "addr add 203.0.113.1/24 dev out
             addr add 2001:db8:1::1/64 dev out nodad
             route add 198.51.100.0/22 via 203.0.113.2
             route add 2001:db8:100::/118 via 2001:db8:1::2",
        );
        target.ip_batch(
            "addr add 203.0.113.2/24 dev in
             addr add 2001:db8:1::2/64 dev in nodad
             route add local 198.51.100.0/22 dev lo
             route add local 2001:db8:100::/118 dev lo",
        );
        target.sysctl("net.ipv4.icmp_ratelimit", "0");
        target.sysctl("net.ipv6.icmp.ratelimit", "0");
        client.allow_unprivileged_ping();
        Lab { client, target }
    }

    /// The `n`-th host (from 1, at most 1,022) of the target's ranges in `family`.
    pub fn host(family: Family, n: u32) -> IpAddr {
        match family {
            Family::V4 => IpAddr::V4(Ipv4Addr::from(0xc633_6400 + n)),
            Family::V6 => format!("2001:db8:100::{n:x}").parse().unwrap(),
        }
    }
}
