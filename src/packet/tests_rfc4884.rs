//! Error messages whose quote is followed by padding or an RFC 4884 extension structure,
//! byte by byte, for both families; and the round trip of every error message.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;
use crate::family::Family;

/// An MPLS label stack object (RFC 4950: class 1, C-type 1) holding one entry: label
/// 100, EXP 0, bottom of stack, TTL 1; after the extension header (version 2, checksum
/// over the whole structure).
const MPLS_EXTENSION: [u8; 12] = [
    0x20, 0x00, 0x9d, 0xef, // version 2, reserved, checksum
    0x00, 0x08, 0x01, 0x01, // object length 8, class 1 (MPLS), C-type 1 (incoming stack)
    0x00, 0x06, 0x41, 0x01, // label 100 (20 bits), EXP 0, S 1, TTL 1
];

/// The echo request a traceroute sends, 56 bytes of payload, as quoted by a router: IPv4
/// header (total length 84, TTL 1 on arrival) from 192.0.2.1 to 203.0.113.10, then the
/// ICMP message.
fn v4_request(payload_len: usize) -> Vec<u8> {
    let total = u16::try_from(20 + 8 + payload_len).unwrap().to_be_bytes();
    let mut bytes = vec![
        0x45, 0x00, total[0], total[1], 0x12, 0x34, 0x40,
        0x00, // version, IHL, length, id, DF
        0x01, 0x01, 0x00, 0x00, // TTL 1, ICMP, checksum (not read)
        192, 0, 2, 1, 203, 0, 113, 10, // source, destination
        0x08, 0x00, 0x00, 0x00, 0x48, 0x84, 0x00, 0x01, // echo request, id 0x4884, seq 1
    ];
    bytes.extend((0..payload_len).map(|i| i as u8));
    bytes
}

/// The same request over IPv6, from 2001:db8::1 to 2001:db8:ff::10.
fn v6_request(payload_len: usize) -> Vec<u8> {
    let length = u16::try_from(8 + payload_len).unwrap().to_be_bytes();
    let mut bytes = vec![0x60, 0, 0, 0, length[0], length[1], 58, 1];
    bytes.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
    bytes.extend_from_slice(&"2001:db8:ff::10".parse::<Ipv6Addr>().unwrap().octets());
    bytes.extend_from_slice(&[0x80, 0x00, 0x00, 0x00, 0x48, 0x84, 0x00, 0x01]);
    bytes.extend((0..payload_len).map(|i| i as u8));
    bytes
}

/// A Time Exceeded of `family` whose length field holds `length` (in units), quoting
/// `quote`, zero-padded to `padded` bytes, then `extension`. The ICMPv4 checksum is
/// filled in; the ICMPv6 one is the kernel's business.
fn time_exceeded(
    family: Family,
    length: u8,
    quote: &[u8],
    padded: usize,
    extension: &[u8],
) -> Vec<u8> {
    let mut message = match family {
        Family::V4 => vec![11, 0, 0, 0, 0, length, 0, 0],
        Family::V6 => vec![3, 0, 0, 0, length, 0, 0, 0],
    };
    message.extend_from_slice(quote);
    message.resize(8 + padded.max(quote.len()), 0);
    message.extend_from_slice(extension);
    if family == Family::V4 {
        let sum = checksum(&message);
        message[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    message
}

fn request(family: Family, payload_len: usize) -> Vec<u8> {
    match family {
        Family::V4 => v4_request(payload_len),
        Family::V6 => v6_request(payload_len),
    }
}

/// Parses `message`, checks that it quotes `datagram` (and its echo request: id 0x4884,
/// sequence 1, `payload_len` bytes of payload quoted) followed by `extension` laid out as
/// `layout`, and that emitting what was parsed gives the same bytes back.
fn check(
    family: Family,
    message: &[u8],
    datagram: &[u8],
    payload_len: usize,
    extension: Option<&[u8]>,
    layout: QuoteLayout,
) {
    let parsed = Message::parse(family, message).unwrap();
    let Message::TimeExceeded { code: 0, quote } = parsed else {
        panic!("{parsed:?}")
    };
    assert_eq!(quote.datagram, datagram, "{family} {layout:?}");
    assert_eq!(quote.extensions, extension, "{family} {layout:?}");
    assert_eq!(quote.layout, layout, "{family} {layout:?}");
    let original = quote.request(family).unwrap();
    assert_eq!((original.id, original.sequence), (0x4884, 1));
    let expected: Vec<u8> = (0..payload_len).map(|i| i as u8).collect();
    assert_eq!(original.payload, expected, "{family} {layout:?}");
    let mut again = Vec::new();
    parsed.emit(family, &mut again);
    if family == Family::V6 {
        again[2..4].copy_from_slice(&message[2..4]);
    }
    assert_eq!(
        again, message,
        "{family} {layout:?}: emit gives the bytes back"
    );
}

/// The label stack of Time Exceeded and Destination Unreachable messages of both families
/// and both layouts decodes to the entry the bytes hold: label 100, TC 0, bottom, TTL 1.
#[test]
fn the_labels_of_every_kind_of_extended_error_decode() {
    for family in [Family::V4, Family::V6] {
        let unit = if family == Family::V4 { 4 } else { 8 };
        for length in [(128 / unit) as u8, 0] {
            let quote = request(family, 56);
            let mut exceeded = time_exceeded(family, length, &quote, 128, &MPLS_EXTENSION);
            // The same message as a Destination Unreachable (host unreachable / address
            // unreachable), its ICMPv4 checksum filled in again.
            let mut unreachable = exceeded.clone();
            unreachable[..2].copy_from_slice(match family {
                Family::V4 => &[3, 1],
                Family::V6 => &[1, 3],
            });
            for message in [&mut exceeded, &mut unreachable] {
                if family == Family::V4 {
                    message[2..4].fill(0);
                    let sum = checksum(message);
                    message[2..4].copy_from_slice(&sum.to_be_bytes());
                }
                let parsed = Message::parse(family, message).unwrap();
                let quote = parsed.quote().unwrap();
                let objects: Vec<_> = parse_extensions(quote.extensions.unwrap())
                    .unwrap()
                    .collect();
                let labels: Vec<MplsLabel> = objects[0].mpls_labels().unwrap().collect();
                assert_eq!(
                    labels,
                    [MplsLabel {
                        label: 100,
                        traffic_class: 0,
                        bottom_of_stack: true,
                        ttl: 1,
                    }],
                    "{family} {parsed:?}"
                );
            }
        }
    }
}

/// A quote padded to 128 bytes before an MPLS extension: with RFC 4884's length field
/// (compliant), or without it (routers older than RFC 4884, which still append one).
#[test]
fn a_quote_padded_to_128_bytes_before_an_extension() {
    for family in [Family::V4, Family::V6] {
        let unit = if family == Family::V4 { 4 } else { 8 };
        for (length, layout) in [
            ((128 / unit) as u8, QuoteLayout::Rfc4884),
            (0, QuoteLayout::Padded128),
        ] {
            let quote = request(family, 56);
            let message = time_exceeded(family, length, &quote, 128, &MPLS_EXTENSION);
            assert_eq!(message.len(), 8 + 128 + 12);
            check(family, &message, &quote, 56, Some(&MPLS_EXTENSION), layout);
        }
    }
}

#[test]
fn padding_without_an_extension() {
    for family in [Family::V4, Family::V6] {
        let quote = request(family, 56);
        let message = time_exceeded(family, 0, &quote, 128, &[]);
        let parsed = Message::parse(family, &message).unwrap();
        let quoted = parsed.quote().unwrap();
        assert_eq!((quoted.datagram, quoted.extensions), (&quote[..], None));
        assert_eq!(quoted.request(family).unwrap().payload.len(), 56);
        // Padding with the length field set: RFC 4884 without extensions.
        let unit = if family == Family::V4 { 4 } else { 8 };
        let message = time_exceeded(family, (128 / unit) as u8, &quote, 128, &[]);
        let quoted = *Message::parse(family, &message).unwrap().quote().unwrap();
        assert_eq!((quoted.datagram, quoted.extensions), (&quote[..], None));
        assert_eq!(quoted.layout, QuoteLayout::Rfc4884);
    }
}

#[test]
fn a_quote_the_router_cut_short() {
    for family in [Family::V4, Family::V6] {
        let whole = request(family, 1400);
        let header = if family == Family::V4 { 20 } else { 40 };
        // Cut to 128 bytes, then the extension: both forms.
        let unit = if family == Family::V4 { 4 } else { 8 };
        let cut = &whole[..128];
        let compliant = time_exceeded(family, (128 / unit) as u8, cut, 128, &MPLS_EXTENSION);
        check(
            family,
            &compliant,
            cut,
            128 - header - 8,
            Some(&MPLS_EXTENSION),
            QuoteLayout::Rfc4884,
        );
        let older = time_exceeded(family, 0, cut, 128, &MPLS_EXTENSION);
        check(
            family,
            &older,
            cut,
            128 - header - 8,
            Some(&MPLS_EXTENSION),
            QuoteLayout::Padded128,
        );
        // As much as fits in 576 / 1,280 bytes, as Linux quotes, without an extension.
        let fits = if family == Family::V4 {
            576 - 20 - 8
        } else {
            1280 - 40 - 8
        };
        let plain = time_exceeded(family, 0, &whole[..fits], 0, &[]);
        check(
            family,
            &plain,
            &whole[..fits],
            fits - header - 8,
            None,
            QuoteLayout::Plain,
        );
    }
}

#[test]
fn a_bad_extension_or_a_length_beyond_the_message_is_no_extension() {
    for family in [Family::V4, Family::V6] {
        let quote = request(family, 56);
        let mut broken = MPLS_EXTENSION;
        broken[11] ^= 1;
        let message = time_exceeded(family, 0, &quote, 128, &broken);
        let quoted = *Message::parse(family, &message).unwrap().quote().unwrap();
        // The datagram still ends where its IP header says.
        assert_eq!((quoted.datagram, quoted.extensions), (&quote[..], None));
        assert_eq!(quoted.layout, QuoteLayout::Plain);
        // A length field beyond the message is taken as 0 (RFC 4884): the extension at
        // byte 128 is still found.
        let message = time_exceeded(family, 200, &quote, 128, &MPLS_EXTENSION);
        let quoted = *Message::parse(family, &message).unwrap().quote().unwrap();
        assert_eq!(quoted.extensions, Some(&MPLS_EXTENSION[..]));
        assert_eq!(quoted.datagram, &quote[..]);
    }
}

/// A message, how long its quote is with the IP header, and the extension after it.
type Case = (Vec<u8>, usize, Option<&'static [u8]>);

#[test]
fn the_error_queue_quote_without_its_ip_header() {
    for family in [Family::V4, Family::V6] {
        let header = if family == Family::V4 { 20 } else { 40 };
        let unit = if family == Family::V4 { 4 } else { 8 };
        let quote = request(family, 56);
        let cut = request(family, 1000);
        // (message, quote length with the IP header, extension found)
        let cases: [Case; 5] = [
            (
                time_exceeded(family, (128 / unit) as u8, &quote, 128, &MPLS_EXTENSION),
                128,
                Some(&MPLS_EXTENSION),
            ),
            (
                time_exceeded(family, 0, &quote, 128, &MPLS_EXTENSION),
                128,
                Some(&MPLS_EXTENSION),
            ),
            (time_exceeded(family, 0, &quote, 128, &[]), 128, None),
            (
                time_exceeded(family, 0, &cut[..128], 128, &MPLS_EXTENSION),
                128,
                Some(&MPLS_EXTENSION),
            ),
            // A longer quote: the extension after 256 bytes, where the length field says.
            (
                time_exceeded(
                    family,
                    (256 / unit) as u8,
                    &cut[..256],
                    256,
                    &MPLS_EXTENSION,
                ),
                256,
                Some(&MPLS_EXTENSION),
            ),
        ];
        for (message, quoted_len, extension) in cases {
            // What the kernel queues: the quote from the ICMP header of the request on.
            let queued = &message[8 + header..];
            let (quoted, found) = split_stripped_quote(family, header, queued);
            assert_eq!(found, extension, "{family}");
            assert_eq!(quoted.len(), quoted_len - header, "{family}");
            let echo = parse_request_header(family, quoted).unwrap();
            assert_eq!((echo.id, echo.sequence), (0x4884, 1));
        }
    }
}

#[test]
fn extension_structures_are_checked() {
    assert!(is_extension_structure(&MPLS_EXTENSION));
    // No checksum sent (0) is allowed.
    let mut unsummed = MPLS_EXTENSION;
    unsummed[2..4].fill(0);
    assert!(is_extension_structure(&unsummed));
    let mut version = MPLS_EXTENSION;
    version[0] = 0x10;
    assert!(!is_extension_structure(&version));
    // Objects must fill the structure exactly, and there must be one.
    assert!(!is_extension_structure(&MPLS_EXTENSION[..10]));
    let mut long = MPLS_EXTENSION;
    long[5] = 12;
    long[2..4].fill(0);
    assert!(!is_extension_structure(&long));
    assert!(!is_extension_structure(&[0x20, 0, 0, 0]));
    assert!(!is_extension_structure(&[]));
}

/// A valid extension structure: one to three objects of 4 to 16 bytes.
fn extension() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        (
            1u8..=3,
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..4),
        ),
        1..=3,
    )
    .prop_map(|objects| {
        let mut bytes = vec![0x20, 0, 0, 0];
        for (class, c_type, words) in objects {
            let length = 4 + words.len() * 4;
            bytes.extend_from_slice(&(length as u16).to_be_bytes());
            bytes.extend_from_slice(&[class, c_type]);
            for word in words {
                bytes.extend_from_slice(&[word; 4]);
            }
        }
        let sum = checksum(&bytes);
        bytes[2..4].copy_from_slice(&sum.to_be_bytes());
        bytes
    })
}

/// An echo request of `family` with its IP header, `payload_len` bytes of payload.
fn datagram(family: Family, payload_len: usize, ttl: u8) -> Vec<u8> {
    let payload: Vec<u8> = (0..payload_len).map(|i| (i * 7) as u8).collect();
    let mut echo = Vec::new();
    emit_echo(family, EchoKind::Request, 0x77, 9, &payload, &mut echo);
    let mut bytes = Vec::new();
    match family {
        Family::V4 => {
            let mut header = Ipv4Header::new(
                Ipv4Addr::new(192, 0, 2, 1),
                Ipv4Addr::new(198, 51, 100, 3),
                IPPROTO_ICMP,
                echo.len(),
            );
            header.ttl = ttl;
            header.emit(&mut bytes);
        }
        Family::V6 => {
            let mut header = Ipv6Header::new(
                "2001:db8::1".parse().unwrap(),
                "2001:db8::3".parse().unwrap(),
                IPPROTO_ICMPV6,
                echo.len(),
            );
            header.hop_limit = ttl;
            header.emit(&mut bytes);
        }
    }
    bytes.extend_from_slice(&echo);
    bytes
}

/// Which error message a case builds.
#[derive(Debug, Clone, Copy)]
enum Shape {
    TimeExceeded(u8),
    Unreachable(u8),
    TooBig(u32),
    OtherError(u8, u8, [u8; 4]),
}

/// An error message that emits and parses back to itself: its shape, its quoted datagram
/// (cut where a router may cut it), its layout and extension.
fn error_case() -> impl Strategy<Value = (Family, Shape, Vec<u8>, QuoteLayout, Option<Vec<u8>>)> {
    let family = prop_oneof![Just(Family::V4), Just(Family::V6)];
    (
        family,
        any::<(u8, u8, u32, [u8; 4])>(),
        0usize..1100,
        any::<u8>(),
        0usize..4,
        0u8..3,
        extension(),
    )
        .prop_map(
            |(family, (code, pick, mtu, header), payload_len, ttl, shape, layout, extension)| {
                let unit = if family == Family::V4 { 4 } else { 8 };
                let shape = match shape {
                    0 => Shape::TimeExceeded(code),
                    // ICMPv4 code 4 is Fragmentation Needed: a PacketTooBig.
                    1 if family == Family::V4 && code == 4 => Shape::Unreachable(3),
                    1 => Shape::Unreachable(code),
                    2 if family == Family::V4 => Shape::TooBig(mtu & 0xffff),
                    2 => Shape::TooBig(mtu),
                    _ if family == Family::V4 => {
                        Shape::OtherError([4, 5, 12][usize::from(pick % 3)], code, header)
                    }
                    _ => Shape::OtherError(4, code, header),
                };
                let has_length = match shape {
                    Shape::TimeExceeded(_) | Shape::Unreachable(_) => true,
                    Shape::TooBig(_) => family == Family::V4,
                    Shape::OtherError(..) => false,
                };
                let mut bytes = datagram(family, payload_len, ttl);
                let layout = match layout {
                    _ if !has_length => QuoteLayout::Plain,
                    0 => QuoteLayout::Plain,
                    1 => QuoteLayout::Rfc4884,
                    _ => QuoteLayout::Padded128,
                };
                let extension = match layout {
                    QuoteLayout::Plain => None,
                    QuoteLayout::Rfc4884 => (pick % 2 == 0).then_some(extension),
                    QuoteLayout::Padded128 => Some(extension),
                };
                // Cut where routers cut: anywhere for a plain quote, at a unit boundary past
                // 128 bytes (or not at all) for RFC 4884, at 128 bytes for the older form.
                match layout {
                    QuoteLayout::Plain => {
                        bytes.truncate(bytes.len() - usize::from(pick) % (payload_len + 1))
                    }
                    QuoteLayout::Rfc4884 => {
                        // The length field counts at most 255 units.
                        let limit = (255 * unit).min(bytes.len()) / unit * unit;
                        if bytes.len() > 255 * unit || (pick % 3 == 0 && limit >= 128) {
                            bytes.truncate((128 + usize::from(pick) * unit).min(limit));
                        }
                    }
                    QuoteLayout::Padded128 => bytes.truncate(128),
                }
                (family, shape, bytes, layout, extension)
            },
        )
}

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::V4), Just(Family::V6)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn errors_round_trip((family, shape, datagram, layout, extension) in error_case()) {
        let quote = Quote { datagram: &datagram, extensions: extension.as_deref(), layout };
        let message = match shape {
            Shape::TimeExceeded(code) => Message::TimeExceeded { code, quote },
            Shape::Unreachable(code) => Message::DestinationUnreachable { code, quote },
            Shape::TooBig(mtu) => Message::PacketTooBig { mtu, quote },
            Shape::OtherError(icmp_type, code, header) => Message::OtherError { icmp_type, code, header, quote },
        };
        let mut out = Vec::new();
        message.emit(family, &mut out);
        prop_assert_eq!(out.len(), message.buffer_len(family));
        let parsed = Message::parse(family, &out).unwrap();
        prop_assert_eq!(parsed, message);
        let original = parsed.quote().unwrap().request(family).unwrap();
        prop_assert_eq!((original.id, original.sequence), (0x77, 9));
    }

    #[test]
    fn other_messages_round_trip(
        family in family(),
        icmp_type in any::<u8>(),
        code in any::<u8>(),
        header in any::<[u8; 4]>(),
        data in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        prop_assume!(Kind::of(family, icmp_type) == Kind::Other);
        let message = Message::Other { icmp_type, code, header, data: &data };
        let mut out = Vec::new();
        message.emit(family, &mut out);
        prop_assert_eq!(Message::parse(family, &out).unwrap(), message);
    }

    #[test]
    fn parsing_extended_errors_never_panics(
        family in family(),
        length in any::<u8>(),
        quote in proptest::collection::vec(any::<u8>(), 0..200),
        tail in proptest::collection::vec(any::<u8>(), 0..40),
        stripped in 0usize..64,
    ) {
        // An extension header's first byte at 128 with random lengths around it, to reach
        // the RFC 4884 paths.
        let mut message = time_exceeded(family, length, &quote, 128, &[0x20]);
        message.extend_from_slice(&tail);
        if let Ok(parsed) = Message::parse(family, &message)
            && let Some(quote) = parsed.quote()
        {
            let _ = quote.request(family);
        }
        let _ = split_stripped_quote(family, stripped, &message);
        let _ = is_extension_structure(&tail);
    }
}
