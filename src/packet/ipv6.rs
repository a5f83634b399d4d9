//! IPv6 headers (RFC 8200): the header quoted inside ICMPv6 error messages, and the one a
//! TUN device reads and writes. ICMPv6 sockets never deliver it.
//!
//! ```text
//!  0       4               12                                      31
//! +-------+---------------+---------------------------------------+
//! |version| traffic class |              flow label               |
//! +-------+---------------+-------+---------------+---------------+
//! |        payload length         |  next header  |   hop limit   |
//! +-------------------------------+---------------+---------------+
//! |                   source address (16 bytes)                   |
//! +---------------------------------------------------------------+
//! |                destination address (16 bytes)                |
//! +---------------------------------------------------------------+
//! ```

use std::net::Ipv6Addr;

use super::{IPPROTO_ICMPV6, ParseError};

/// Where each field of the fixed header lies.
mod field {
    use std::ops::Range;

    /// Version (4 bits), traffic class (8 bits) and flow label (20 bits).
    pub const VERSION_CLASS_FLOW: Range<usize> = 0..4;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SOURCE: Range<usize> = 8..24;
    pub const DESTINATION: Range<usize> = 24..40;
}

/// Where the fields of an extension header lie, from its start.
mod extension {
    use std::ops::Range;

    pub const NEXT_HEADER: usize = 0;
    /// Hop-by-hop, routing and destination options: length in 8-byte units, the first 8
    /// not counted.
    pub const LENGTH: usize = 1;
    /// Fragment header: offset in 8-byte units (13 high bits), then flags.
    pub const FRAGMENT_OFFSET: Range<usize> = 2..4;
    /// A fragment header's fixed length.
    pub const FRAGMENT_LEN: usize = 8;
}

/// Fixed IPv6 header length.
pub const IPV6_HEADER_LEN: usize = field::DESTINATION.end;

const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const DESTINATION_OPTIONS: u8 = 60;
/// Extension headers walked before giving up: a real packet has a few at most.
const MAX_EXTENSION_HEADERS: usize = 8;

/// A read-only or read-write view of an IPv6 packet.
///
/// [`Ipv6Packet::new_checked`] makes sure the fixed header is in the buffer, so no
/// accessor can panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps `buffer` without checks, for writing a header.
    pub(crate) const fn new_unchecked(buffer: T) -> Ipv6Packet<T> {
        Ipv6Packet { buffer }
    }

    /// Wraps `buffer` after checking that it starts with the 40 bytes of an IPv6 header
    /// (version 6).
    pub fn new_checked(buffer: T) -> Result<Ipv6Packet<T>, ParseError> {
        let packet = Ipv6Packet { buffer };
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks what [`Ipv6Packet::new_checked`] checks.
    pub fn check_len(&self) -> Result<(), ParseError> {
        let bytes = self.buffer.as_ref();
        let first = *bytes.first().ok_or(ParseError::Truncated)?;
        if first >> 4 != 6 {
            return Err(ParseError::Malformed("not an IPv6 header"));
        }
        if bytes.len() < IPV6_HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        Ok(())
    }

    /// The buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn first_word(&self) -> u32 {
        let bytes = &self.buffer.as_ref()[field::VERSION_CLASS_FLOW];
        u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }

    fn address(&self, at: std::ops::Range<usize>) -> Ipv6Addr {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&self.buffer.as_ref()[at]);
        Ipv6Addr::from(octets)
    }

    /// The version field (6).
    pub fn version(&self) -> u8 {
        (self.first_word() >> 28) as u8
    }

    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.first_word() & 0x000f_ffff
    }

    /// Payload length: the bytes after the fixed header, extension headers included.
    pub fn payload_len(&self) -> u16 {
        let bytes = &self.buffer.as_ref()[field::PAYLOAD_LEN];
        u16::from_be_bytes([bytes[0], bytes[1]])
    }

    /// The next header field of the fixed header: the first extension header or the
    /// upper-layer protocol.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn source(&self) -> Ipv6Addr {
        self.address(field::SOURCE)
    }

    /// Destination address.
    pub fn destination(&self) -> Ipv6Addr {
        self.address(field::DESTINATION)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv6Packet<&'a T> {
    /// Everything after the fixed header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[IPV6_HEADER_LEN..]
    }

    /// The packet as its payload length says (40 bytes more), cut to the bytes present:
    /// what follows it (whatever an ICMPv6 error appended to a quoted packet) left out. A
    /// payload length of 0 (a jumbogram's, RFC 2675) leaves the whole buffer.
    pub fn datagram(&self) -> &'a [u8] {
        let bytes = self.buffer.as_ref();
        match usize::from(self.payload_len()) {
            0 => bytes,
            len => &bytes[..(IPV6_HEADER_LEN + len).min(bytes.len())],
        }
    }

    /// Walks the extension headers to the upper-layer protocol.
    pub fn upper_layer(&self) -> Result<UpperLayer<'a>, ParseError> {
        UpperLayer::find(self.next_header(), self.payload())
    }
}

/// The upper-layer protocol of an IPv6 packet, found after its extension headers
/// (hop-by-hop options, routing, fragment, destination options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpperLayer<'a> {
    /// Upper-layer protocol (58 for ICMPv6), or the first header that is not one of the
    /// extension headers walked.
    pub protocol: u8,
    /// False when a fragment header with a non-zero offset was found: the upper-layer
    /// header is not in this packet.
    pub first_fragment: bool,
    /// The bytes after the extension headers.
    pub payload: &'a [u8],
}

impl<'a> UpperLayer<'a> {
    /// Walks the extension headers of `bytes`, the payload of an IPv6 header whose next
    /// header field is `next_header`.
    pub fn find(next_header: u8, bytes: &'a [u8]) -> Result<UpperLayer<'a>, ParseError> {
        let mut layer = UpperLayer {
            protocol: next_header,
            first_fragment: true,
            payload: bytes,
        };
        for _ in 0..MAX_EXTENSION_HEADERS {
            let rest = layer.payload;
            let len = match layer.protocol {
                HOP_BY_HOP | ROUTING | DESTINATION_OPTIONS => {
                    let units = *rest.get(extension::LENGTH).ok_or(ParseError::Truncated)?;
                    (usize::from(units) + 1) * 8
                }
                FRAGMENT => {
                    let offset = rest
                        .get(extension::FRAGMENT_OFFSET)
                        .ok_or(ParseError::Truncated)?;
                    if u16::from_be_bytes([offset[0], offset[1]]) >> 3 != 0 {
                        layer.first_fragment = false;
                    }
                    extension::FRAGMENT_LEN
                }
                _ => return Ok(layer),
            };
            let next = *rest
                .get(extension::NEXT_HEADER)
                .ok_or(ParseError::Truncated)?;
            layer.payload = rest.get(len..).ok_or(ParseError::Truncated)?;
            layer.protocol = next;
        }
        Err(ParseError::Malformed("too many IPv6 extension headers"))
    }

    /// True when the bytes start with an ICMPv6 header.
    pub fn carries_icmp_header(&self) -> bool {
        self.protocol == IPPROTO_ICMPV6 && self.first_fragment
    }
}

/// The fixed IPv6 header, field by field: what [`Ipv6Header::parse`] reads and
/// [`Ipv6Header::emit`] writes. Extension headers are payload: see [`UpperLayer`].
///
/// ```
/// use std::net::Ipv6Addr;
/// use icmplib::packet::{IPPROTO_ICMPV6, Ipv6Header};
///
/// let header = Ipv6Header::new(
///     "2001:db8::1".parse().unwrap(),
///     "2001:db8::2".parse().unwrap(),
///     IPPROTO_ICMPV6,
///     8,
/// );
/// let mut packet = Vec::new();
/// header.emit(&mut packet);
/// packet.extend_from_slice(&[128, 0, 0, 0, 0, 0, 0, 0]);
/// let (parsed, icmp) = Ipv6Header::parse(&packet).unwrap();
/// assert_eq!((parsed, icmp.len()), (header, 8));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Header {
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
    /// Payload length, as written in the packet.
    pub payload_len: u16,
    /// The next header field: the first extension header or the upper-layer protocol.
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Source address.
    pub source: Ipv6Addr,
    /// Destination address.
    pub destination: Ipv6Addr,
}

impl Ipv6Header {
    /// A header for `payload_len` bytes of `next_header` from `source` to `destination`:
    /// hop limit 64, traffic class and flow label 0.
    pub fn new(
        source: Ipv6Addr,
        destination: Ipv6Addr,
        next_header: u8,
        payload_len: usize,
    ) -> Ipv6Header {
        Ipv6Header {
            traffic_class: 0,
            flow_label: 0,
            payload_len: u16::try_from(payload_len).unwrap_or(u16::MAX),
            next_header,
            hop_limit: 64,
            source,
            destination,
        }
    }

    /// Parses the fixed header at the start of `bytes` and returns it with the bytes after
    /// it (extension headers included; the payload length field is not used to cut them).
    pub fn parse(bytes: &[u8]) -> Result<(Ipv6Header, &[u8]), ParseError> {
        let packet = Ipv6Packet::new_checked(bytes)?;
        Ok((Ipv6Header::from_packet(&packet), &bytes[IPV6_HEADER_LEN..]))
    }

    /// The fields of a checked packet.
    pub fn from_packet<T: AsRef<[u8]>>(packet: &Ipv6Packet<T>) -> Ipv6Header {
        Ipv6Header {
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
            payload_len: packet.payload_len(),
            next_header: packet.next_header(),
            hop_limit: packet.hop_limit(),
            source: packet.source(),
            destination: packet.destination(),
        }
    }

    /// Appends the 40-byte header to `out`, its fields as they are (a flow label beyond
    /// 20 bits is cut to 20).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + IPV6_HEADER_LEN, 0);
        let packet = Ipv6Packet::new_unchecked(&mut out[start..]);
        let bytes = packet.into_inner();
        let first = (6 << 28) | (u32::from(self.traffic_class) << 20) | self.flow_label & 0xf_ffff;
        bytes[field::VERSION_CLASS_FLOW].copy_from_slice(&first.to_be_bytes());
        bytes[field::PAYLOAD_LEN].copy_from_slice(&self.payload_len.to_be_bytes());
        bytes[field::NEXT_HEADER] = self.next_header;
        bytes[field::HOP_LIMIT] = self.hop_limit;
        bytes[field::SOURCE].copy_from_slice(&self.source.octets());
        bytes[field::DESTINATION].copy_from_slice(&self.destination.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ipv6(next: u8) -> Vec<u8> {
        let mut header = Ipv6Header::new(
            "2001:db8::1".parse().unwrap(),
            "fe00::".parse().unwrap(),
            next,
            0,
        );
        header.traffic_class = 0xab;
        header.hop_limit = 3;
        let mut bytes = Vec::new();
        header.emit(&mut bytes);
        bytes
    }

    #[test]
    fn ipv6_walks_extension_headers() {
        let mut bytes = ipv6(HOP_BY_HOP);
        // Hop-by-hop options (8 bytes) -> fragment (offset 0) -> ICMPv6.
        bytes.extend_from_slice(&[FRAGMENT, 0, 1, 4, 0, 0, 0, 0]);
        bytes.extend_from_slice(&[58, 0, 0, 1, 0, 0, 0, 7]);
        bytes.extend_from_slice(&[128, 0, 0, 0]);
        let packet = Ipv6Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.traffic_class(), 0xab);
        assert_eq!(packet.hop_limit(), 3);
        let upper = packet.upper_layer().unwrap();
        assert!(upper.carries_icmp_header());
        assert_eq!(upper.payload, &[128, 0, 0, 0]);
    }

    #[test]
    fn ipv6_later_fragment_and_truncation() {
        let mut bytes = ipv6(FRAGMENT);
        bytes.extend_from_slice(&[58, 0, 0, 0x08, 0, 0, 0, 7]);
        let packet = Ipv6Packet::new_checked(&bytes[..]).unwrap();
        assert!(!packet.upper_layer().unwrap().carries_icmp_header());
        let mut bytes = ipv6(DESTINATION_OPTIONS);
        bytes.extend_from_slice(&[58, 1, 0, 0]);
        let packet = Ipv6Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.upper_layer(), Err(ParseError::Truncated));
        assert_eq!(Ipv6Header::parse(&bytes[..39]), Err(ParseError::Truncated));
        bytes[0] = 0x45;
        assert!(matches!(
            Ipv6Header::parse(&bytes),
            Err(ParseError::Malformed(_))
        ));
    }

    #[test]
    fn endless_extension_headers_are_an_error() {
        let mut bytes = ipv6(DESTINATION_OPTIONS);
        for _ in 0..MAX_EXTENSION_HEADERS {
            bytes.extend_from_slice(&[DESTINATION_OPTIONS, 0, 0, 0, 0, 0, 0, 0]);
        }
        let packet = Ipv6Packet::new_checked(&bytes[..]).unwrap();
        assert!(matches!(
            packet.upper_layer(),
            Err(ParseError::Malformed(_))
        ));
    }

    #[test]
    fn the_datagram_ends_where_the_payload_length_says() {
        let mut bytes = ipv6(58);
        bytes.extend_from_slice(&[0; 16]);
        bytes[field::PAYLOAD_LEN].copy_from_slice(&8u16.to_be_bytes());
        assert_eq!(
            Ipv6Packet::new_checked(&bytes[..])
                .unwrap()
                .datagram()
                .len(),
            48
        );
        bytes[field::PAYLOAD_LEN].copy_from_slice(&800u16.to_be_bytes());
        assert_eq!(
            Ipv6Packet::new_checked(&bytes[..])
                .unwrap()
                .datagram()
                .len(),
            56
        );
        bytes[field::PAYLOAD_LEN].copy_from_slice(&0u16.to_be_bytes());
        assert_eq!(
            Ipv6Packet::new_checked(&bytes[..])
                .unwrap()
                .datagram()
                .len(),
            56
        );
    }

    pub(crate) fn header() -> impl Strategy<Value = Ipv6Header> {
        (
            any::<(u8, u16, u8, u8)>(),
            0u32..0x10_0000,
            any::<([u8; 16], [u8; 16])>(),
        )
            .prop_map(
                |((traffic_class, payload_len, next_header, hop_limit), flow_label, (s, d))| {
                    Ipv6Header {
                        traffic_class,
                        flow_label,
                        payload_len,
                        next_header,
                        hop_limit,
                        source: s.into(),
                        destination: d.into(),
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn parse_of_emit_is_identity(header in header()) {
            let mut out = Vec::new();
            header.emit(&mut out);
            prop_assert_eq!(out.len(), IPV6_HEADER_LEN);
            let (parsed, rest) = Ipv6Header::parse(&out).unwrap();
            prop_assert_eq!(parsed, header);
            prop_assert!(rest.is_empty());
        }
    }
}
