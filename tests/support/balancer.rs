//! [`Balancer`]: a path with a per-flow load balancer, as traceroute meets them —
//!
//! ```text
//!                  ┌── a ──┐
//! client ── r1 ──┤         ├── r3 ── target
//!                  └── b ──┘
//! ```
//!
//! Router r1 sends each packet for the target to router a or b by a hash (nftables
//! `jhash`) of its source, its destination and the first four bytes of its transport
//! header — for ICMP its type, code and checksum — as per-flow balancers do: a mark set in
//! prerouting picks the routing table. Everything else, and every way back, goes through
//! a. IPv4 only, in 198.51.100.0/24; nothing leaves the lab's namespaces.

use std::net::{IpAddr, Ipv4Addr};

use super::Netns;

/// The lab's links: (upper node, its interface, its address; lower node, its interface,
/// its address), each a /30 of 198.51.100.0/24.
const LINKS: [(usize, &str, u8, usize, &str, u8); 6] = [
    (CLIENT, "vr1", 1, R1, "vc", 2),
    (R1, "va", 5, A, "vr1", 6),
    (R1, "vb", 9, B, "vr1", 10),
    (A, "vr3", 13, R3, "va", 14),
    (B, "vr3", 17, R3, "vb", 18),
    (R3, "vt", 21, TARGET, "vr3", 22),
];

const CLIENT: usize = 0;
const R1: usize = 1;
const A: usize = 2;
const B: usize = 3;
const R3: usize = 4;
const TARGET: usize = 5;

/// `ip -batch` routes of each node, beyond its own links.
const ROUTES: [&str; 6] = [
    "route add 198.51.100.0/24 via 198.51.100.2",
    // Through a by default; the balancer's mark 1 picks table 101, through b.
    "route add 198.51.100.12/30 via 198.51.100.6\n\
     route add 198.51.100.16/30 via 198.51.100.10\n\
     route add 198.51.100.20/30 via 198.51.100.6\n\
     route add 198.51.100.20/30 via 198.51.100.10 table 101\n\
     rule add fwmark 1 table 101 pref 100",
    "route add 198.51.100.0/30 via 198.51.100.5\n\
     route add 198.51.100.8/30 via 198.51.100.5\n\
     route add 198.51.100.20/30 via 198.51.100.14",
    "route add 198.51.100.0/30 via 198.51.100.9\n\
     route add 198.51.100.4/30 via 198.51.100.9\n\
     route add 198.51.100.20/30 via 198.51.100.18",
    "route add 198.51.100.0/28 via 198.51.100.13",
    "route add 198.51.100.0/24 via 198.51.100.21",
];

/// The per-flow balancer lab. Dropping it deletes every namespace.
#[derive(Debug)]
pub struct Balancer {
    /// client, r1, a, b, r3, target.
    nodes: Vec<Netns>,
}

impl Balancer {
    /// Builds the lab and checks that the target answers.
    pub fn new() -> Balancer {
        let mut nodes = Vec::new();
        for tag in ["bc", "br1", "ba", "bb", "br3", "bt"] {
            // Pushed one by one: a panic midway still deletes what exists.
            nodes.push(Netns::new(tag));
        }
        let lab = Balancer { nodes };
        for (node, netns) in lab.nodes.iter().enumerate() {
            netns.sysctl("net.ipv4.icmp_ratelimit", "0");
            // Per namespace on recent kernels (global before): set where settable.
            let _ = netns.try_sysctl("net.ipv4.icmp_msgs_per_sec", "100000");
            let _ = netns.try_sysctl("net.ipv4.icmp_msgs_burst", "100000");
            netns.sysctl("net.ipv4.conf.all.rp_filter", "0");
            netns.sysctl("net.ipv4.conf.default.rp_filter", "0");
            if ![CLIENT, TARGET].contains(&node) {
                netns.sysctl("net.ipv4.ip_forward", "1");
            }
        }
        for (upper, upper_if, _, lower, lower_if, _) in LINKS {
            let peer = lab.nodes[lower].name().to_string();
            lab.nodes[upper].ip(&[
                "link", "add", upper_if, "type", "veth", "peer", "name", lower_if, "netns", &peer,
            ]);
        }
        for (node, netns) in lab.nodes.iter().enumerate() {
            let mut batch = String::new();
            for (upper, upper_if, upper_at, lower, lower_if, lower_at) in LINKS {
                let (interface, at) = match node {
                    n if n == upper => (upper_if, upper_at),
                    n if n == lower => (lower_if, lower_at),
                    _ => continue,
                };
                batch.push_str(&format!(
                    "addr add 198.51.100.{at}/30 dev {interface}\nlink set dev {interface} up\n"
                ));
            }
            batch.push_str(ROUTES[node]);
            batch.push('\n');
            netns.ip_batch(&batch);
        }
        // The mark is set before the routing decision; for rp_filter's sake on the way
        // back nothing else is marked.
        lab.nodes[R1].nft(&format!(
            "table ip icmplib_balancer {{\n\
             \tchain prerouting {{\n\
             \t\ttype filter hook prerouting priority mangle; policy accept;\n\
             \t\tip daddr {} meta mark set jhash ip saddr . ip daddr . @th,0,32 mod 2\n\
             \t}}\n\
             }}\n",
            lab.target()
        ));
        let ping = lab
            .client()
            .exec(&["ping", "-c", "1", "-W", "2", &lab.target().to_string()]);
        assert!(
            ping.status.success(),
            "the balancer lab's target does not answer"
        );
        lab
    }

    /// The client namespace, where the code under test runs.
    pub fn client(&self) -> &Netns {
        &self.nodes[CLIENT]
    }

    /// The target's address.
    pub fn target(&self) -> IpAddr {
        Ipv4Addr::new(198, 51, 100, 22).into()
    }

    /// The address each router answers from, by distance: r1, then a and b (the two
    /// legs, both at distance 2), then r3.
    pub fn routers(&self) -> (IpAddr, [IpAddr; 2], IpAddr) {
        let at = |last| IpAddr::V4(Ipv4Addr::new(198, 51, 100, last));
        (at(2), [at(6), at(10)], at(14))
    }
}
