//! Golden-byte and property tests of the codec as a whole.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;
use crate::family::Family;

/// `ping -c1 -s 8 -p 41 127.0.0.1`, captured with tcpdump on loopback: the request.
const V4_REQUEST: [u8; 36] = [
    0x45, 0x00, 0x00, 0x24, 0x6a, 0x2c, 0x40, 0x00, 0x40, 0x01, 0xd2, 0xaa, 0x7f, 0x00, 0x00, 0x01,
    0x7f, 0x00, 0x00, 0x01, 0x08, 0x00, 0xa6, 0xca, 0x10, 0x34, 0x00, 0x01, 0x41, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
];
/// The reply to [`V4_REQUEST`].
const V4_REPLY: [u8; 36] = [
    0x45, 0x00, 0x00, 0x24, 0x6a, 0x2d, 0x00, 0x00, 0x40, 0x01, 0x12, 0xaa, 0x7f, 0x00, 0x00, 0x01,
    0x7f, 0x00, 0x00, 0x01, 0x00, 0x00, 0xae, 0xca, 0x10, 0x34, 0x00, 0x01, 0x41, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
];
/// `ping -6 -c1 -s 8 -p 42 ::1`: the ICMPv6 request (as an ICMPv6 socket sees it).
const V6_REQUEST: [u8; 16] = [
    0x80, 0x00, 0x2d, 0x7d, 0x10, 0x35, 0x00, 0x01, 0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];
/// The reply to [`V6_REQUEST`].
const V6_REPLY: [u8; 16] = [
    0x81, 0x00, 0x2c, 0x7d, 0x10, 0x35, 0x00, 0x01, 0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

#[test]
fn golden_ipv4_request_and_reply() {
    let (ip, icmp) = Ipv4Header::parse(&V4_REQUEST).unwrap();
    assert_eq!(ip.header_len(), 20);
    assert_eq!(ip.ttl, 64);
    assert_eq!(checksum(&V4_REQUEST[..20]), 0, "IPv4 header checksum");
    let message = Message::parse(Family::V4, icmp).unwrap();
    assert_eq!(
        (message.icmp_type(Family::V4), message.code(Family::V4)),
        (8, 0)
    );
    let Message::EchoRequest(echo) = message else {
        panic!("{message:?}")
    };
    assert_eq!((echo.id, echo.sequence), (4148, 1));
    assert_eq!(echo.payload, &[0x41, 0, 0, 0, 0, 0, 0, 0]);

    let (_, icmp) = Ipv4Header::parse(&V4_REPLY).unwrap();
    let message = Message::parse(Family::V4, icmp).unwrap();
    assert_eq!(message.kind(Family::V4), Kind::EchoReply);

    // Our encoder writes the same bytes.
    let mut out = Vec::new();
    emit_echo(
        Family::V4,
        EchoKind::Request,
        4148,
        1,
        echo.payload,
        &mut out,
    );
    assert_eq!(out, &V4_REQUEST[20..]);
    out.clear();
    emit_echo(Family::V4, EchoKind::Reply, 4148, 1, echo.payload, &mut out);
    assert_eq!(out, &V4_REPLY[20..]);
}

#[test]
fn golden_ipv6_request_and_reply() {
    let lo = Ipv6Addr::LOCALHOST;
    assert_eq!(icmpv6_checksum(&lo, &lo, &V6_REQUEST), 0);
    assert_eq!(icmpv6_checksum(&lo, &lo, &V6_REPLY), 0);
    let message = Message::parse(Family::V6, &V6_REPLY).unwrap();
    let Message::EchoReply(echo) = message else {
        panic!("{message:?}")
    };
    assert_eq!((echo.id, echo.sequence), (4149, 1));

    let mut out = Vec::new();
    emit_echo(
        Family::V6,
        EchoKind::Request,
        4149,
        1,
        echo.payload,
        &mut out,
    );
    assert_eq!(&out[2..4], &[0, 0], "the kernel fills the ICMPv6 checksum");
    let sum = icmpv6_checksum(&lo, &lo, &out);
    out[2..4].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(out, V6_REQUEST);
}

#[test]
fn corrupt_ipv4_checksum_is_rejected() {
    let mut reply = V4_REPLY;
    reply[30] ^= 0x01;
    let (_, icmp) = Ipv4Header::parse(&reply).unwrap();
    assert_eq!(Message::parse(Family::V4, icmp), Err(ParseError::Checksum));
}

#[test]
fn truncated_messages_are_errors() {
    for len in 0..HEADER_LEN {
        assert_eq!(
            Message::parse(Family::V4, &V4_REPLY[20..20 + len]),
            Err(ParseError::Truncated)
        );
        assert_eq!(
            Message::parse(Family::V6, &V6_REPLY[..len]),
            Err(ParseError::Truncated)
        );
    }
}

/// An ICMPv4 error of `icmp_type`/`code` quoting `original` (an IP packet).
fn v4_error(icmp_type: u8, code: u8, original: &[u8]) -> Vec<u8> {
    let mut out = vec![icmp_type, code, 0, 0, 0, 0, 0, 0];
    out.extend_from_slice(original);
    let sum = checksum(&out);
    out[2..4].copy_from_slice(&sum.to_be_bytes());
    out
}

#[test]
fn ipv4_time_exceeded_quotes_the_request() {
    // A router quotes the IP header and the first 8 bytes of the datagram (RFC 792).
    let message = v4_error(11, 0, &V4_REQUEST[..28]);
    let parsed = Message::parse(Family::V4, &message).unwrap();
    let original = Original {
        source: IpAddr::V4(Ipv4Addr::LOCALHOST),
        destination: IpAddr::V4(Ipv4Addr::LOCALHOST),
        id: 4148,
        sequence: 1,
        payload: &[],
    };
    assert_eq!(parsed.kind(Family::V4), Kind::TimeExceeded);
    assert_eq!(quoted_request(&parsed, Family::V4), Some(original));
    assert!(matches!(parsed, Message::TimeExceeded { code: 0, .. }));
}

/// The echo request an error message quotes.
fn quoted_request<'a>(message: &Message<'a>, family: Family) -> Option<Original<'a>> {
    message.quote()?.request(family)
}

#[test]
fn ipv4_error_quoting_a_header_with_options() {
    // The quoted header carries 8 bytes of options (IHL 7): the ICMP header follows them.
    let mut quoted = vec![0x47];
    quoted.extend_from_slice(&V4_REQUEST[1..20]);
    quoted.extend_from_slice(&[0x01, 0x01, 0x01, 0x00, 0x94, 0x04, 0x00, 0x00]);
    quoted.extend_from_slice(&V4_REQUEST[20..28]);
    let message = v4_error(3, 1, &quoted);
    let parsed = Message::parse(Family::V4, &message).unwrap();
    let Message::DestinationUnreachable { code: 1, quote } = parsed else {
        panic!("{parsed:?}")
    };
    let original = quote.request(Family::V4).unwrap();
    assert_eq!((original.id, original.sequence), (4148, 1));
}

#[test]
fn ipv4_error_quoting_something_else_has_no_original() {
    // Quoting a UDP datagram, or too few bytes of our request.
    let mut udp = V4_REQUEST[..28].to_vec();
    udp[9] = 17;
    let message = v4_error(3, 3, &udp);
    let parsed = Message::parse(Family::V4, &message).unwrap();
    assert_eq!(parsed.kind(Family::V4), Kind::DestinationUnreachable);
    assert_eq!(quoted_request(&parsed, Family::V4), None);
    let message = v4_error(11, 0, &V4_REQUEST[..27]);
    let parsed = Message::parse(Family::V4, &message).unwrap();
    assert_eq!(parsed.kind(Family::V4), Kind::TimeExceeded);
    assert_eq!(quoted_request(&parsed, Family::V4), None);
}

#[test]
fn ipv6_destination_unreachable_quotes_the_request() {
    let source: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let destination: Ipv6Addr = "2001:db8:ff::10".parse().unwrap();
    let mut quoted = vec![0x60, 0, 0, 0, 0, 16, 58, 1];
    quoted.extend_from_slice(&source.octets());
    quoted.extend_from_slice(&destination.octets());
    quoted.extend_from_slice(&V6_REQUEST);
    let mut message = vec![1, 0, 0, 0, 0, 0, 0, 0];
    message.extend_from_slice(&quoted);
    let parsed = Message::parse(Family::V6, &message).unwrap();
    let original = Original {
        source: source.into(),
        destination: destination.into(),
        id: 4149,
        sequence: 1,
        payload: &V6_REQUEST[8..],
    };
    assert_eq!(parsed.kind(Family::V6), Kind::DestinationUnreachable);
    assert_eq!(quoted_request(&parsed, Family::V6), Some(original));
}

/// An ICMPv4 Destination Unreachable of `code` whose second word ends in `mtu`.
fn v4_unreachable_with_mtu(code: u8, mtu: u16, original: &[u8]) -> Vec<u8> {
    let mut out = vec![3, code, 0, 0, 0, 0];
    out.extend_from_slice(&mtu.to_be_bytes());
    out.extend_from_slice(original);
    let sum = checksum(&out);
    out[2..4].copy_from_slice(&sum.to_be_bytes());
    out
}

#[test]
fn fragmentation_needed_and_packet_too_big_give_the_mtu() {
    let quoted = &V4_REQUEST[..28];
    // ICMPv4: the next-hop MTU in the low 16 bits of the second word (RFC 1191).
    let message = v4_unreachable_with_mtu(4, 1280, quoted);
    let parsed = Message::parse(Family::V4, &message).unwrap();
    assert_eq!(parsed.mtu(), Some(1280));
    assert!(matches!(parsed, Message::PacketTooBig { mtu: 1280, .. }));
    assert_eq!(parsed.kind(Family::V4), Kind::DestinationUnreachable);
    assert!(quoted_request(&parsed, Family::V4).is_some());
    // A router older than RFC 1191 says 0: no MTU.
    let message = v4_unreachable_with_mtu(4, 0, quoted);
    assert_eq!(Message::parse(Family::V4, &message).unwrap().mtu(), None);
    // Another code carries no MTU, whatever the field holds.
    let message = v4_unreachable_with_mtu(1, 1280, quoted);
    assert_eq!(Message::parse(Family::V4, &message).unwrap().mtu(), None);
    // ICMPv6 Packet Too Big: all 32 bits (RFC 4443).
    let mut message = vec![2, 0, 0, 0];
    message.extend_from_slice(&9000u32.to_be_bytes());
    let parsed = Message::parse(Family::V6, &message).unwrap();
    assert_eq!(
        (parsed.mtu(), parsed.kind(Family::V6)),
        (Some(9000), Kind::OtherError)
    );
    assert!(is_packet_too_big(Family::V6, 2, 0) && is_packet_too_big(Family::V4, 3, 4));
    assert!(!is_packet_too_big(Family::V4, 2, 0) && !is_packet_too_big(Family::V6, 1, 4));
}

#[test]
fn kinds_of_every_type() {
    for t in 0..=255u8 {
        let v4 = Kind::of(Family::V4, t);
        let v6 = Kind::of(Family::V6, t);
        assert_eq!(v4 == Kind::EchoReply, t == 0);
        assert_eq!(v6 == Kind::EchoReply, t == 129);
        assert_eq!(v4.is_error(), [3, 4, 5, 11, 12].contains(&t));
        assert_eq!(v6.is_error(), (1..=4).contains(&t));
    }
}

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::V4), Just(Family::V6)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn parsing_arbitrary_bytes_never_panics(family in family(), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Message::parse(family, &bytes);
        let _ = Ipv4Header::parse(&bytes);
        let _ = Ipv6Header::parse(&bytes);
        let _ = parse_request_header(family, &bytes);
    }

    #[test]
    fn parsing_mutated_errors_never_panics(
        family in family(),
        tail in proptest::collection::vec(any::<u8>(), 0..120),
        icmp_type in prop_oneof![Just(3u8), Just(11u8), Just(1u8), Just(4u8)],
        version in prop_oneof![Just(0x45u8), Just(0x4fu8), Just(0x60u8), any::<u8>()],
    ) {
        // Error messages whose quoted datagram looks like an IP header, to reach the
        // quoted-header paths with random lengths and extension headers.
        let mut bytes = vec![icmp_type, 0, 0, 0, 0, 0, 0, 0, version];
        bytes.extend_from_slice(&tail);
        if family == Family::V4 {
            let sum = checksum(&bytes);
            bytes[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        let _ = Message::parse(family, &bytes);
    }

    #[test]
    fn echo_round_trips(
        family in family(),
        reply in any::<bool>(),
        id in any::<u16>(),
        sequence in any::<u16>(),
        payload in proptest::collection::vec(any::<u8>(), 0..1500),
    ) {
        let kind = if reply { EchoKind::Reply } else { EchoKind::Request };
        let mut out = Vec::new();
        emit_echo(family, kind, id, sequence, &payload, &mut out);
        let message = Message::parse(family, &out).unwrap();
        let echo = Echo { id, sequence, payload: &payload };
        let expected = if reply { Message::EchoReply(echo) } else { Message::EchoRequest(echo) };
        prop_assert_eq!(message, expected);
        let mut again = Vec::new();
        message.emit(family, &mut again);
        prop_assert_eq!(again, out.clone());
        prop_assert_eq!(parse_request_header(family, &out).is_some(), !reply);
    }

    #[test]
    fn any_single_bit_flip_in_ipv4_is_caught(
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        bit in 0usize..(8 * 72),
    ) {
        let mut out = Vec::new();
        emit_echo(Family::V4, EchoKind::Reply, 1, 2, &payload, &mut out);
        let bit = bit % (out.len() * 8);
        out[bit / 8] ^= 1 << (bit % 8);
        prop_assert_eq!(Message::parse(Family::V4, &out), Err(ParseError::Checksum));
    }
}
