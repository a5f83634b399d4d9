//! [`Chain`]: client — r1 — … — rN — target, each node a [`Netns`].

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use icmplib::Family;

use super::Netns;

/// Most routers a chain can have: link i uses 192.0.2.(4i+1)/30 and 192.0.2.(4i+2)/30.
pub const MAX_ROUTERS: usize = 60;

/// How the last router answers packets for one of [`Chain::rejected`]'s addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reject {
    /// ICMPv4 destination unreachable, code 1 (host unreachable). IPv4 only.
    HostUnreachable,
    /// ICMPv4 code 13 / ICMPv6 code 1: communication administratively prohibited.
    AdminProhibited,
    /// ICMPv6 destination unreachable, code 0 (no route to destination). IPv6 only.
    NoRoute,
}

/// A line of namespaces: client — r1 — r2 — … — rN — target, joined by veth
/// pairs, with IPv4 and IPv6 addresses and static routes so that the client
/// reaches every node and every node reaches the client.
///
/// Link i (between node i and node i+1; node 0 is the client, node N+1 the
/// target) is 192.0.2.(4i+1)/30 | 192.0.2.(4i+2)/30 and
/// 2001:db8:0:i::1/64 | 2001:db8:0:i::2/64 (i in hex). Each node has
/// interface `vdown` towards the target and `vup` towards the client.
///
/// 203.0.113.0/24 and 2001:db8:ff::/64 are routed through the chain to the
/// last router and on to the target (which does not own them), and the last
/// router's forward chain rejects or drops some of them (see
/// [`Chain::rejected`], [`Chain::silent`]).
///
/// Dropping the chain deletes every namespace, and with them the veths.
#[derive(Debug)]
pub struct Chain {
    /// nodes[0] is the client, nodes[d] router d, nodes[routers + 1] the target.
    nodes: Vec<Netns>,
    routers: usize,
}

fn link_v4(link: usize, side: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 4 * link as u8 + side)
}

fn link_v6(link: usize, side: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, link as u16, 0, 0, 0, side)
}

/// Sysctls set on every node: no ICMP rate limiting, no duplicate address detection.
const COMMON_SYSCTLS: &[(&str, &str)] = &[
    ("net.ipv4.icmp_ratelimit", "0"),
    ("net.ipv6.icmp.ratelimit", "0"),
    ("net.ipv6.conf.all.accept_dad", "0"),
    ("net.ipv6.conf.default.accept_dad", "0"),
];

/// Per-namespace only on recent kernels (global before): set where settable.
const OPTIONAL_SYSCTLS: &[(&str, &str)] = &[
    ("net.ipv4.icmp_msgs_per_sec", "100000"),
    ("net.ipv4.icmp_msgs_burst", "100000"),
];

/// Sysctls set on routers.
const ROUTER_SYSCTLS: &[(&str, &str)] = &[
    ("net.ipv4.ip_forward", "1"),
    ("net.ipv6.conf.all.forwarding", "1"),
];

impl Chain {
    /// Builds a chain with `routers` routers (1..=60) between client and target.
    pub fn new(routers: usize) -> Chain {
        assert!(
            (1..=MAX_ROUTERS).contains(&routers),
            "a chain has 1..={MAX_ROUTERS} routers, not {routers}"
        );
        let target = routers + 1;
        // Pushed one by one so that a panic midway still deletes what exists.
        let mut nodes = Vec::with_capacity(routers + 2);
        for node in 0..=target {
            let tag = match node {
                0 => "c".to_string(),
                n if n == target => "t".to_string(),
                n => format!("r{n}"),
            };
            nodes.push(Netns::new(&tag));
        }
        let chain = Chain { nodes, routers };
        for (node, netns) in chain.nodes.iter().enumerate() {
            for (key, value) in COMMON_SYSCTLS {
                netns.sysctl(key, value);
            }
            for (key, value) in OPTIONAL_SYSCTLS {
                let _ = netns.try_sysctl(key, value);
            }
            if (1..target).contains(&node) {
                for (key, value) in ROUTER_SYSCTLS {
                    netns.sysctl(key, value);
                }
            }
        }
        for link in 0..target {
            let next = chain.nodes[link + 1].name().to_string();
            chain.nodes[link].ip(&[
                "link", "add", "vdown", "type", "veth", "peer", "name", "vup", "netns", &next,
            ]);
        }
        for node in 0..=target {
            chain.nodes[node].ip_batch(&chain.node_config(node));
        }
        chain.router(routers).nft(
            "table inet icmplib_chain {\n\
             \tchain forward {\n\
             \t\ttype filter hook forward priority 0; policy accept;\n\
             \t\tip daddr 203.0.113.10 reject with icmp type host-unreachable\n\
             \t\tip daddr 203.0.113.11 reject with icmp type admin-prohibited\n\
             \t\tip6 daddr 2001:db8:ff::10 reject with icmpv6 type no-route\n\
             \t\tip6 daddr 2001:db8:ff::11 reject with icmpv6 type admin-prohibited\n\
             \t\tip daddr 203.0.113.20 drop\n\
             \t\tip6 daddr 2001:db8:ff::20 drop\n\
             \t}\n\
             }\n",
        );
        chain
    }

    /// `ip -batch` lines for `node`: addresses, links up, routes.
    fn node_config(&self, node: usize) -> String {
        let target = self.routers + 1;
        let mut batch = String::new();
        let mut line = |text: String| {
            batch.push_str(&text);
            batch.push('\n');
        };
        if node > 0 {
            let link = node - 1;
            line(format!("addr add {}/30 dev vup", link_v4(link, 2)));
            line(format!("addr add {}/64 dev vup nodad", link_v6(link, 2)));
            line("link set dev vup up".into());
        }
        if node < target {
            line(format!("addr add {}/30 dev vdown", link_v4(node, 1)));
            line(format!("addr add {}/64 dev vdown nodad", link_v6(node, 1)));
            line("link set dev vdown up".into());
        }
        // Links not directly attached: upstream ones via the previous node,
        // downstream ones via the next node.
        for link in 0..target {
            let (v4, v6) = if node >= 2 && link <= node - 2 {
                (link_v4(node - 1, 1), link_v6(node - 1, 1))
            } else if link > node {
                (link_v4(node, 2), link_v6(node, 2))
            } else {
                continue;
            };
            line(format!("route add {}/30 via {v4}", link_v4(link, 0)));
            line(format!("route add {}/64 via {v6}", link_v6(link, 0)));
        }
        if node <= self.routers {
            line(format!("route add 203.0.113.0/24 via {}", link_v4(node, 2)));
            line(format!(
                "route add 2001:db8:ff::/64 via {}",
                link_v6(node, 2)
            ));
        }
        batch
    }

    /// The client namespace (node 0).
    pub fn client(&self) -> &Netns {
        &self.nodes[0]
    }

    /// The router at `distance` hops from the client (1..=routers).
    pub fn router(&self, distance: usize) -> &Netns {
        assert!(
            (1..=self.routers).contains(&distance),
            "router distance {distance} outside 1..={}",
            self.routers
        );
        &self.nodes[distance]
    }

    /// The target namespace (node routers + 1).
    pub fn target_ns(&self) -> &Netns {
        &self.nodes[self.routers + 1]
    }

    /// The number of routers.
    pub fn routers(&self) -> usize {
        self.routers
    }

    /// The target's distance in hops: routers + 1.
    pub fn distance_of_target(&self) -> usize {
        self.routers + 1
    }

    /// The address the node at `distance` (1..=routers + 1) answers from:
    /// its upstream address, the one facing the client. Routers send Time
    /// Exceeded and rejects from it; for routers + 1 it is the target's address.
    pub fn hop_address(&self, distance: usize, family: Family) -> IpAddr {
        assert!(
            (1..=self.distance_of_target()).contains(&distance),
            "hop distance {distance} outside 1..={}",
            self.distance_of_target()
        );
        match family {
            Family::V4 => link_v4(distance - 1, 2).into(),
            Family::V6 => link_v6(distance - 1, 2).into(),
        }
    }

    /// The client's own address (on link 0).
    pub fn client_address(&self, family: Family) -> IpAddr {
        match family {
            Family::V4 => link_v4(0, 1).into(),
            Family::V6 => link_v6(0, 1).into(),
        }
    }

    /// The target's address: `hop_address(routers + 1, family)`.
    pub fn target(&self, family: Family) -> IpAddr {
        self.hop_address(self.distance_of_target(), family)
    }

    /// An address the last router rejects with `reject`: 203.0.113.10
    /// (HostUnreachable), 203.0.113.11 / 2001:db8:ff::11 (AdminProhibited),
    /// 2001:db8:ff::10 (NoRoute). Panics for HostUnreachable with V6 and
    /// NoRoute with V4.
    pub fn rejected(&self, reject: Reject, family: Family) -> IpAddr {
        match (reject, family) {
            (Reject::HostUnreachable, Family::V4) => Ipv4Addr::new(203, 0, 113, 10).into(),
            (Reject::AdminProhibited, Family::V4) => Ipv4Addr::new(203, 0, 113, 11).into(),
            (Reject::NoRoute, Family::V6) => {
                Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 0x10).into()
            }
            (Reject::AdminProhibited, Family::V6) => {
                Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 0x11).into()
            }
            (reject, family) => panic!("the chain has no {reject:?} address for {family}"),
        }
    }

    /// An address whose packets the last router drops without a word:
    /// 203.0.113.20 / 2001:db8:ff::20.
    pub fn silent(&self, family: Family) -> IpAddr {
        match family {
            Family::V4 => Ipv4Addr::new(203, 0, 113, 20).into(),
            Family::V6 => Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 0x20).into(),
        }
    }

    /// The address of the last router, the one that sends the rejects:
    /// `hop_address(routers, family)`.
    pub fn last_router_address(&self, family: Family) -> IpAddr {
        self.hop_address(self.routers, family)
    }

    /// Sets the MTU of link `link` (between node `link` and node `link + 1`: link 1 joins
    /// routers 1 and 2) on both of its ends. Router `link` then answers larger packets
    /// that may not be fragmented with Fragmentation Needed / Packet Too Big.
    pub fn set_link_mtu(&self, link: usize, mtu: u32) {
        let mtu = mtu.to_string();
        self.nodes[link].ip(&["link", "set", "vdown", "mtu", &mtu]);
        self.nodes[link + 1].ip(&["link", "set", "vup", "mtu", &mtu]);
    }

    /// Makes the client forget the path MTUs it learned: IPv6 with `ip route flush
    /// cache`; IPv4 by deleting its routes through a gateway and adding them again, since
    /// `ip route flush cache` leaves IPv4's (they hang off the routes' next hops, which
    /// live as long as a route uses them).
    pub fn forget_path_mtus(&self) {
        let client = self.client();
        client.ip(&["-6", "route", "flush", "cache"]);
        let routes = client.ip(&["-4", "route", "show"]);
        let gatewayed: Vec<Vec<&str>> = routes
            .lines()
            .filter(|route| route.contains(" via "))
            .map(|route| route.split_whitespace().collect())
            .collect();
        for route in &gatewayed {
            client.ip(&[&["-4", "route", "del"], &route[..]].concat());
        }
        for route in &gatewayed {
            client.ip(&[&["-4", "route", "add"], &route[..]].concat());
        }
    }

    /// Makes the router at `distance` forward packets but never send Time Exceeded, as
    /// routers that filter ICMP do (an nftables rule on its output).
    pub fn silence(&self, distance: usize) {
        self.router(distance).nft(
            "table inet silent {\n  chain output {\n    type filter hook output priority 0; policy accept;\n    icmp type time-exceeded drop\n    icmpv6 type time-exceeded drop\n  }\n}\n",
        );
    }

    /// Pings the target (both families) from the client with iputils
    /// `ping -c1 -W1` until it answers (at most 5 tries, panics otherwise),
    /// then every router once, so that neighbour discovery is done on every
    /// link before a test's first probe.
    pub fn warm_up(&self) {
        for family in [Family::V4, Family::V6] {
            let target = self.target(family).to_string();
            let mut failures = String::new();
            let answered = (0..5).any(|_| {
                let output = self.client().exec(&["ping", "-n", "-c1", "-W1", &target]);
                if !output.status.success() {
                    let _ = write!(failures, "{}", String::from_utf8_lossy(&output.stdout));
                }
                output.status.success()
            });
            assert!(
                answered,
                "the target {target} never answered the client:\n{failures}"
            );
            for distance in 1..=self.routers {
                let hop = self.hop_address(distance, family).to_string();
                self.client().exec(&["ping", "-n", "-c1", "-W1", &hop]);
            }
        }
    }
}
