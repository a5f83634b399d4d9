//! Smoke tests of the simulated hosts behind a TUN device (tests/support/tun.rs), checked
//! with the system's iputils `ping` run inside the namespace. They need root and skip
//! otherwise, except [`crafted_bytes`], which looks at crafted packets without a TUN.

use crate::support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use icmplib::Family;
use icmplib::packet::{
    EchoKind, IPPROTO_ICMPV6, Ipv4Header, Ipv6Header, Kind, Message, checksum, emit_echo,
    icmpv6_checksum,
};
use support::{Craft, Netns, Reply, SimulatedNet, craft_replies};

support::harness::tests![
    Root good_replies_are_counted,
    Root delayed_reply_shows_in_the_rtt,
    Root two_replies_make_a_duplicate,
    Root bad_checksum_is_not_a_reply,
    Root errors_quote_the_request,
    Root other_crafts_reach_ping,
    Root silent_host_and_cleanup,
    Nothing crafted_bytes,
];

const FAMILIES: [Family; 2] = [Family::V4, Family::V6];

/// Runs `timeout 10 ping -n <-4|-6> args... address` in `netns`; returns stdout and stderr.
fn ping(netns: &Netns, address: IpAddr, args: &[&str]) -> String {
    let family = match Family::of(&address) {
        Family::V4 => "-4",
        Family::V6 => "-6",
    };
    let address = address.to_string();
    let mut full = vec!["timeout", "10", "ping", "-n", family];
    full.extend_from_slice(args);
    full.push(&address);
    let output = netns.exec(&full);
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The "N received" count of ping's summary; panics (showing the output) without one.
fn received(output: &str) -> usize {
    output
        .lines()
        .find_map(|line| {
            let (before, _) = line.split_once(" received")?;
            before.rsplit(", ").next()?.trim().parse().ok()
        })
        .unwrap_or_else(|| panic!("no summary in ping's output:\n{output}"))
}

/// The round-trip times ping printed ("time=301 ms"), in milliseconds.
fn rtts(output: &str) -> Vec<f64> {
    output
        .lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once("time=")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .collect()
}

/// The kernel's counter `name` (e.g. "IcmpInCsumErrors", "Icmp6InCsumErrors") in `netns`,
/// from /proc/net/snmp or /proc/net/snmp6 read by a process inside it.
fn snmp_counter(netns: &Netns, name: &str) -> u64 {
    let text = netns.exec_ok(&["cat", "/proc/net/snmp", "/proc/net/snmp6"]);
    let lines: Vec<&str> = text.lines().collect();
    // snmp6: "Name value" lines.
    for line in &lines {
        let mut words = line.split_whitespace();
        if words.next() == Some(name) {
            return words.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        }
    }
    // snmp: "Icmp: Name1 Name2 ..." followed by "Icmp: value1 value2 ...".
    for pair in lines.windows(2) {
        let (Some((prefix, names)), Some((_, values))) =
            (pair[0].split_once(": "), pair[1].split_once(": "))
        else {
            continue;
        };
        let Some(field) = name.strip_prefix(prefix) else {
            continue;
        };
        if let Some(at) = names.split_whitespace().position(|n| n == field) {
            return values
                .split_whitespace()
                .nth(at)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
        }
    }
    panic!("no counter {name} in /proc/net/snmp{{,6}}:\n{text}");
}

fn good_replies_are_counted() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("tgood");
    let sim = SimulatedNet::new(&netns);
    for family in FAMILIES {
        let host = SimulatedNet::host(family, 2);
        sim.script(host, vec![Reply::good()]);
        let out = ping(&netns, host, &["-c", "3", "-i", "0.2", "-W", "1"]);
        assert_eq!(received(&out), 3, "{out}");
        assert!(
            out.contains(&format!("from {host}: icmp_seq=3 ttl=64")),
            "{out}"
        );
        assert_eq!(sim.requests_seen(host), 3, "{out}");
        assert_eq!(sim.requests_seen(SimulatedNet::host(family, 3)), 0);
    }
}

fn delayed_reply_shows_in_the_rtt() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("tdelay");
    let sim = SimulatedNet::new(&netns);
    for family in FAMILIES {
        let host = SimulatedNet::host(family, 3);
        sim.script(host, vec![Reply::after(300, Craft::Good)]);
        let out = ping(&netns, host, &["-c", "1", "-W", "2"]);
        assert_eq!(received(&out), 1, "{out}");
        let rtt = rtts(&out);
        assert!(
            rtt.len() == 1 && (290.0..=400.0).contains(&rtt[0]),
            "rtt {rtt:?} not 290..=400 ms:\n{out}"
        );
    }
}

fn two_replies_make_a_duplicate() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("tdup");
    let sim = SimulatedNet::new(&netns);
    for family in FAMILIES {
        let host = SimulatedNet::host(family, 4);
        sim.script(host, vec![Reply::good(), Reply::good()]);
        let out = ping(&netns, host, &["-c", "2", "-i", "0.2", "-W", "1"]);
        assert!(out.contains("DUP!"), "{out}");
        assert_eq!(sim.requests_seen(host), 2, "{out}");
    }
}

/// iputils ping as root uses a raw socket, and version 20221126 counts an IPv4 reply
/// with a bad ICMP checksum as received without a word (raw IPv4 sockets get the packet
/// before icmp_rcv checks it). So the badness is checked by the kernel's counter, and the
/// "not counted" part with ping on an ICMP datagram socket, where the kernel checks first.
/// ICMPv6 checksums are verified by the kernel for raw sockets too.
fn bad_checksum_is_not_a_reply() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("tcsum");
    let sim = SimulatedNet::new(&netns);
    for (family, counter) in [
        (Family::V4, "IcmpInCsumErrors"),
        (Family::V6, "Icmp6InCsumErrors"),
    ] {
        let host = SimulatedNet::host(family, 5);
        sim.script(host, vec![Reply::after(0, Craft::BadChecksum)]);
        let before = snmp_counter(&netns, counter);
        let out = ping(&netns, host, &["-c", "2", "-i", "0.2", "-W", "1"]);
        assert_eq!(sim.requests_seen(host), 2, "{out}");
        assert_eq!(
            snmp_counter(&netns, counter) - before,
            2,
            "{counter} after two bad replies:\n{out}"
        );
        if family == Family::V6 {
            assert_eq!(received(&out), 0, "raw ICMPv6 socket:\n{out}");
        }
    }
    // Now ping uses ICMP datagram sockets (it tries them first).
    netns.allow_unprivileged_ping();
    for family in FAMILIES {
        let host = SimulatedNet::host(family, 5);
        let out = ping(&netns, host, &["-c", "2", "-i", "0.2", "-W", "1"]);
        assert_eq!(received(&out), 0, "datagram socket:\n{out}");
        assert_eq!(sim.requests_seen(host), 4, "{out}");
    }
}

fn errors_quote_the_request() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("terr");
    let sim = SimulatedNet::new(&netns);
    let cases = [
        (Family::V4, 1, "Destination Host Unreachable"),
        (Family::V6, 0, "Destination unreachable: No route"),
    ];
    for (family, code, text) in cases {
        let host = SimulatedNet::host(family, 6);
        let from = SimulatedNet::host(family, 254);
        sim.script(
            host,
            vec![Reply::after(0, Craft::Unreachable { from, code })],
        );
        let out = ping(&netns, host, &["-c", "1", "-W", "1"]);
        assert!(
            out.contains(&format!("From {from} icmp_seq=1 {text}")),
            "{out}"
        );
        assert_eq!(received(&out), 0, "{out}");
    }
    let cases = [
        (Family::V4, "Time to live exceeded"),
        (Family::V6, "Time exceeded: Hop limit"),
    ];
    for (family, text) in cases {
        let host = SimulatedNet::host(family, 7);
        let from = SimulatedNet::host(family, 253);
        sim.script(host, vec![Reply::after(0, Craft::TimeExceeded { from })]);
        let out = ping(&netns, host, &["-c", "1", "-W", "1"]);
        assert!(
            out.contains(&format!("From {from} icmp_seq=1 {text}")),
            "{out}"
        );
    }
}

fn other_crafts_reach_ping() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("tcraft");
    let sim = SimulatedNet::new(&netns);
    let host = SimulatedNet::host(Family::V4, 8);
    sim.script(host, vec![Reply::after(0, Craft::WithIpOptions)]);
    let out = ping(&netns, host, &["-c", "1", "-W", "1"]);
    assert_eq!(received(&out), 1, "IP options:\n{out}");
    for family in FAMILIES {
        let host = SimulatedNet::host(family, 9);
        let other = SimulatedNet::host(family, 10);
        sim.script(host, vec![Reply::after(0, Craft::FromOtherSource(other))]);
        let out = ping(&netns, host, &["-c", "1", "-W", "1"]);
        assert!(
            out.contains(&format!("from {other}: icmp_seq=1")) && out.contains("DIFFERENT ADDRESS"),
            "{out}"
        );

        let host = SimulatedNet::host(family, 11);
        sim.script(host, vec![Reply::after(0, Craft::WrongPayload)]);
        let out = ping(&netns, host, &["-c", "1", "-W", "1"]);
        assert!(out.contains("wrong data byte"), "{out}");

        let host = SimulatedNet::host(family, 12);
        sim.script(host, vec![Reply::after(0, Craft::WrongId)]);
        let out = ping(&netns, host, &["-c", "1", "-W", "1"]);
        assert_eq!(received(&out), 0, "wrong id:\n{out}");

        // A flood of replies to others, then ours.
        let host = SimulatedNet::host(family, 13);
        let flood = Reply::after(0, Craft::ForeignFlood(2000));
        sim.script(host, vec![flood, Reply::after(20, Craft::Good)]);
        let out = ping(&netns, host, &["-c", "1", "-W", "2"]);
        assert_eq!(received(&out), 1, "flood:\n{out}");
        assert!(!out.contains("DUP!"), "{out}");
    }
    // Beyond the pending bound, a request's script is dropped whole.
    let host = SimulatedNet::host(Family::V4, 14);
    let flood = Craft::ForeignFlood(SimulatedNet::MAX_PENDING + 1);
    sim.script(host, vec![Reply::after(0, flood), Reply::good()]);
    let out = ping(&netns, host, &["-c", "1", "-W", "1"]);
    assert_eq!(received(&out), 0, "{out}");
    assert_eq!(sim.scripts_dropped(), 1);
}

fn silent_host_and_cleanup() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("tsil");
    let sim = SimulatedNet::new(&netns);
    // 2001:db8:5::f has no script; 198.51.100.15 an empty one.
    sim.script(SimulatedNet::host(Family::V4, 15), Vec::new());
    for family in FAMILIES {
        let host = SimulatedNet::host(family, 15);
        let out = ping(&netns, host, &["-c", "2", "-i", "0.2", "-W", "1"]);
        assert_eq!(received(&out), 0, "{out}");
        assert_eq!(sim.requests_seen(host), 2, "{out}");
    }
    netns.ip(&["link", "show", "simtun0"]);
    // A reply due in 60 s does not hold up the drop: it ends well before, even on a busy
    // machine (it used to have to end within 100 ms, which a busy machine missed).
    let host = SimulatedNet::host(Family::V4, 16);
    sim.script(host, vec![Reply::after(60_000, Craft::Good)]);
    let out = ping(&netns, host, &["-c", "1", "-W", "1"]);
    assert_eq!(sim.requests_seen(host), 1, "{out}");
    let start = Instant::now();
    drop(sim);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(10), "drop took {took:?}");
    let output = std::process::Command::new("ip")
        .args(["-n", netns.name(), "link", "show", "simtun0"])
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "simtun0 still exists after drop:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// An IPv4 (or IPv6) packet holding an echo request 198.51.100.1 -> .2 (2001:db8:5::1 ->
/// ::2) with id 0x1234, sequence 7 and `payload_len` bytes of payload.
fn request(family: Family, payload_len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..payload_len).map(|i| i as u8).collect();
    let mut icmp = Vec::new();
    emit_echo(family, EchoKind::Request, 0x1234, 7, &payload, &mut icmp);
    let mut packet = Vec::new();
    match family {
        Family::V4 => {
            let total = (20 + icmp.len()) as u16;
            packet.extend_from_slice(&[0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 1, 0, 0]);
            packet[2..4].copy_from_slice(&total.to_be_bytes());
            packet.extend_from_slice(&[198, 51, 100, 1, 198, 51, 100, 2]);
            let sum = checksum(&packet);
            packet[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        Family::V6 => {
            let (source, destination) = (v6(1), v6(2));
            let sum = icmpv6_checksum(&source, &destination, &icmp);
            icmp[2..4].copy_from_slice(&sum.to_be_bytes());
            packet.extend_from_slice(&[0x60, 0, 0, 0]);
            packet.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
            packet.extend_from_slice(&[58, 64]);
            packet.extend_from_slice(&source.octets());
            packet.extend_from_slice(&destination.octets());
        }
    }
    packet.extend_from_slice(&icmp);
    packet
}

fn v6(n: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 5, 0, 0, 0, 0, n)
}

/// A crafted packet, taken apart: IP source, destination, hop limit, ICMP bytes, and
/// whether its ICMP checksum verifies. Also checks the IP header's own consistency.
fn dissect(family: Family, packet: &[u8]) -> (IpAddr, IpAddr, u8, Vec<u8>, bool) {
    match family {
        Family::V4 => {
            let (ip, icmp) = Ipv4Header::parse(packet).unwrap();
            assert_eq!(usize::from(ip.total_len), packet.len(), "IPv4 total length");
            assert_eq!(
                checksum(&packet[..ip.header_len()]),
                0,
                "IPv4 header checksum"
            );
            assert_eq!(ip.protocol, 1);
            let good = checksum(icmp) == 0;
            (
                ip.source.into(),
                ip.destination.into(),
                ip.ttl,
                icmp.to_vec(),
                good,
            )
        }
        Family::V6 => {
            let (ip, icmp) = Ipv6Header::parse(packet).unwrap();
            assert_eq!(
                usize::from(ip.payload_len) + 40,
                packet.len(),
                "IPv6 payload length"
            );
            assert_eq!(ip.next_header, IPPROTO_ICMPV6);
            let good = icmpv6_checksum(&ip.source, &ip.destination, icmp) == 0;
            (
                ip.source.into(),
                ip.destination.into(),
                ip.hop_limit,
                icmp.to_vec(),
                good,
            )
        }
    }
}

/// The (id, sequence, payload) of an echo reply.
fn echo_reply(family: Family, icmp: &[u8]) -> (u16, u16, Vec<u8>) {
    // Parse with the checksum made right, to look at fields whatever the craft did.
    let mut bytes = icmp.to_vec();
    bytes[2..4].fill(0);
    let sum = checksum(&bytes);
    bytes[2..4].copy_from_slice(&sum.to_be_bytes());
    let message = Message::parse(family, &bytes).unwrap();
    let Message::EchoReply(echo) = message else {
        panic!("not an echo reply: {message:?}")
    };
    (echo.id, echo.sequence, echo.payload.to_vec())
}

fn crafted_bytes() {
    let one = |family, craft: &Craft| {
        let mut packets = craft_replies(&request(family, 56), craft).unwrap();
        assert_eq!(packets.len(), 1, "{craft:?}");
        dissect(family, &packets.remove(0))
    };
    for family in FAMILIES {
        let (local, host) = match family {
            Family::V4 => (
                IpAddr::from(Ipv4Addr::new(198, 51, 100, 1)),
                Ipv4Addr::new(198, 51, 100, 2).into(),
            ),
            Family::V6 => (IpAddr::from(v6(1)), v6(2).into()),
        };
        let payload: Vec<u8> = (0..56).map(|i| i as u8).collect();
        let (source, destination, hop_limit, icmp, good) = one(family, &Craft::Good);
        assert_eq!(
            (source, destination, hop_limit, good),
            (host, local, 64, true)
        );
        assert_eq!(echo_reply(family, &icmp), (0x1234, 7, payload.clone()));

        let (_, _, _, icmp, good) = one(family, &Craft::BadChecksum);
        assert!(!good);
        assert_eq!(echo_reply(family, &icmp), (0x1234, 7, payload.clone()));

        let (_, _, _, icmp, good) = one(family, &Craft::WrongId);
        assert!(good);
        assert_eq!(echo_reply(family, &icmp), (0x1235, 7, payload.clone()));

        let (_, _, _, icmp, good) = one(family, &Craft::WrongSequence);
        assert!(good);
        assert_eq!(echo_reply(family, &icmp), (0x1234, 8, payload.clone()));

        let (_, _, _, icmp, good) = one(family, &Craft::WrongPayload);
        let (_, _, wrong) = echo_reply(family, &icmp);
        assert!(good);
        assert_eq!(wrong.len(), payload.len());
        assert_eq!(
            wrong.iter().zip(&payload).filter(|(a, b)| a != b).count(),
            1
        );

        let other = SimulatedNet::host(family, 99);
        let (source, _, _, _, good) = one(family, &Craft::FromOtherSource(other));
        assert_eq!((source, good), (other, true));

        let (_, _, _, icmp, good) = one(family, &Craft::Truncated(20));
        assert_eq!((icmp.len(), good), (20, false));
        let (_, _, _, icmp, good) = one(family, &Craft::Truncated(1000));
        assert_eq!((icmp.len(), good), (64, true));

        // Errors quote the request whole, up to 576 / 1280 bytes in all.
        for payload_len in [56, 1400] {
            let request = request(family, payload_len);
            let from = SimulatedNet::host(family, 254);
            for craft in [
                Craft::Unreachable { from, code: 3 },
                Craft::TimeExceeded { from },
            ] {
                let packets = craft_replies(&request, &craft).unwrap();
                let (source, destination, _, icmp, good) = dissect(family, &packets[0]);
                assert_eq!((source, destination, good), (from, local, true));
                let message = Message::parse(family, &icmp).unwrap();
                let kind = match craft {
                    Craft::Unreachable { .. } => Kind::DestinationUnreachable,
                    _ => Kind::TimeExceeded,
                };
                assert_eq!(message.kind(family), kind);
                let original = message.quote().and_then(|quote| quote.request(family));
                let Some(original) = original else {
                    panic!("{message:?}")
                };
                assert_eq!((original.id, original.sequence), (0x1234, 7));
                assert_eq!(original.destination, host);
                let (max, header) = match family {
                    Family::V4 => (576, 20),
                    Family::V6 => (1280, 40),
                };
                let quoted = &icmp[8..];
                assert_eq!(quoted, &request[..quoted.len()]);
                let whole = header + 8 + request.len();
                assert_eq!(
                    packets[0].len(),
                    whole.min(max),
                    "{craft:?} of {payload_len}"
                );
            }
        }

        let packets = craft_replies(&request(family, 56), &Craft::ForeignFlood(50)).unwrap();
        assert_eq!(packets.len(), 50);
        for packet in &packets {
            let (source, _, _, icmp, good) = dissect(family, packet);
            assert_eq!((source, good), (host, true));
            let (id, sequence, payload) = echo_reply(family, &icmp);
            assert!(id != 0x1234 && sequence != 7 && payload.len() == 56);
        }
    }
    let packets = craft_replies(&request(Family::V4, 56), &Craft::WithIpOptions).unwrap();
    let (ip, icmp) = Ipv4Header::parse(&packets[0]).unwrap();
    assert_eq!(ip.header_len(), 28);
    assert_eq!(checksum(&packets[0][..28]), 0);
    assert_eq!(usize::from(ip.total_len), packets[0].len());
    assert_eq!(checksum(icmp), 0);

    // Not echo requests: nothing.
    let mut reply = request(Family::V4, 8);
    reply[20] = 0;
    assert!(craft_replies(&reply, &Craft::Good).is_none());
    assert!(craft_replies(&[0x60; 10], &Craft::Good).is_none());
    assert!(craft_replies(&[], &Craft::Good).is_none());
}
