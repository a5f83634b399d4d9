//! IP headers: the outer IPv4 header that raw IPv4 sockets deliver, and the IPv4 / IPv6
//! headers quoted inside ICMP error messages.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{IPPROTO_ICMP, IPPROTO_ICMPV6, ParseError};

/// Minimum (option-less) IPv4 header length.
pub const IPV4_MIN_HEADER_LEN: usize = 20;
/// Fixed IPv6 header length.
pub const IPV6_HEADER_LEN: usize = 40;

/// The fields of an IPv4 header that matter to ICMP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Header length in bytes, read from the IHL field (20 to 60: options are allowed).
    pub header_len: usize,
    /// Type of service byte (DSCP and ECN).
    pub tos: u8,
    /// Total length as written in the packet.
    pub total_len: u16,
    /// Fragment offset in 8-byte units.
    pub fragment_offset: u16,
    /// Time to live.
    pub ttl: u8,
    /// Protocol of the payload (1 for ICMP).
    pub protocol: u8,
    /// Source address.
    pub source: Ipv4Addr,
    /// Destination address.
    pub destination: Ipv4Addr,
}

impl Ipv4Header {
    /// Parses an IPv4 header at the start of `bytes` and returns it with the rest of the
    /// bytes after the header (IHL honoured, so IP options are skipped).
    ///
    /// The payload is everything after the header: some systems rewrite the total length
    /// field of packets delivered to raw sockets, so it is not used to cut the payload.
    pub fn parse(bytes: &[u8]) -> Result<(Ipv4Header, &[u8]), ParseError> {
        let fixed = bytes
            .get(..IPV4_MIN_HEADER_LEN)
            .ok_or(ParseError::Truncated)?;
        if fixed[0] >> 4 != 4 {
            return Err(ParseError::Malformed("not an IPv4 header"));
        }
        let header_len = usize::from(fixed[0] & 0x0f) * 4;
        if header_len < IPV4_MIN_HEADER_LEN {
            return Err(ParseError::Malformed("IPv4 header length below 20"));
        }
        let payload = bytes.get(header_len..).ok_or(ParseError::Truncated)?;
        let header = Ipv4Header {
            header_len,
            tos: fixed[1],
            total_len: u16::from_be_bytes([fixed[2], fixed[3]]),
            fragment_offset: u16::from_be_bytes([fixed[6], fixed[7]]) & 0x1fff,
            ttl: fixed[8],
            protocol: fixed[9],
            source: Ipv4Addr::new(fixed[12], fixed[13], fixed[14], fixed[15]),
            destination: Ipv4Addr::new(fixed[16], fixed[17], fixed[18], fixed[19]),
        };
        Ok((header, payload))
    }

    /// True when the payload is the first fragment (or the whole datagram) of an ICMP
    /// message, so the ICMP header is there to read.
    pub fn carries_icmp_header(&self) -> bool {
        self.protocol == IPPROTO_ICMP && self.fragment_offset == 0
    }
}

/// The fields of an IPv6 header (RFC 8200) that matter to ICMPv6, with the upper-layer
/// protocol found after any extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Header {
    /// Traffic class.
    pub traffic_class: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Upper-layer protocol after the extension headers (58 for ICMPv6), or the first
    /// header that could not be walked.
    pub protocol: u8,
    /// False when a fragment header with a non-zero offset was found: the upper-layer
    /// header is not in this packet.
    pub first_fragment: bool,
    /// Source address.
    pub source: Ipv6Addr,
    /// Destination address.
    pub destination: Ipv6Addr,
}

impl Ipv6Header {
    /// Parses an IPv6 header and its extension headers at the start of `bytes`, returning
    /// the header and the upper-layer bytes.
    pub fn parse(bytes: &[u8]) -> Result<(Ipv6Header, &[u8]), ParseError> {
        let fixed = bytes.get(..IPV6_HEADER_LEN).ok_or(ParseError::Truncated)?;
        if fixed[0] >> 4 != 6 {
            return Err(ParseError::Malformed("not an IPv6 header"));
        }
        let address = |at: usize| {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&fixed[at..at + 16]);
            Ipv6Addr::from(octets)
        };
        let mut header = Ipv6Header {
            traffic_class: (fixed[0] << 4) | (fixed[1] >> 4),
            hop_limit: fixed[7],
            protocol: fixed[6],
            first_fragment: true,
            source: address(8),
            destination: address(24),
        };
        let mut rest = &bytes[IPV6_HEADER_LEN..];
        // Walk at most a handful of extension headers: hop-by-hop (0), routing (43),
        // fragment (44) and destination options (60).
        for _ in 0..8 {
            let len = match header.protocol {
                0 | 43 | 60 => {
                    let ext = rest.get(..2).ok_or(ParseError::Truncated)?;
                    (usize::from(ext[1]) + 1) * 8
                }
                44 => {
                    let ext = rest.get(..4).ok_or(ParseError::Truncated)?;
                    if u16::from_be_bytes([ext[2], ext[3]]) >> 3 != 0 {
                        header.first_fragment = false;
                    }
                    8
                }
                _ => return Ok((header, rest)),
            };
            let next = *rest.first().ok_or(ParseError::Truncated)?;
            rest = rest.get(len..).ok_or(ParseError::Truncated)?;
            header.protocol = next;
        }
        Err(ParseError::Malformed("too many IPv6 extension headers"))
    }

    /// True when the upper-layer bytes start with an ICMPv6 header.
    pub fn carries_icmp_header(&self) -> bool {
        self.protocol == IPPROTO_ICMPV6 && self.first_fragment
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(ihl: u8) -> Vec<u8> {
        let mut bytes = vec![0u8; usize::from(ihl) * 4];
        bytes[0] = 0x40 | ihl;
        bytes[8] = 64;
        bytes[9] = 1;
        bytes[12..16].copy_from_slice(&[192, 0, 2, 1]);
        bytes[16..20].copy_from_slice(&[198, 51, 100, 7]);
        bytes
    }

    #[test]
    fn ipv4_header_length_is_read_from_the_packet() {
        for ihl in 5..=15u8 {
            let mut bytes = ipv4(ihl);
            bytes.extend_from_slice(b"payload");
            let (header, payload) = Ipv4Header::parse(&bytes).unwrap();
            assert_eq!(header.header_len, usize::from(ihl) * 4);
            assert_eq!(payload, b"payload");
            assert_eq!(header.source, Ipv4Addr::new(192, 0, 2, 1));
            assert_eq!(header.destination, Ipv4Addr::new(198, 51, 100, 7));
            assert!(header.carries_icmp_header());
        }
    }

    #[test]
    fn ipv4_rejects_bad_headers() {
        assert_eq!(Ipv4Header::parse(&[0x45; 19]), Err(ParseError::Truncated));
        let mut bytes = ipv4(5);
        bytes[0] = 0x44;
        assert!(matches!(
            Ipv4Header::parse(&bytes),
            Err(ParseError::Malformed(_))
        ));
        bytes[0] = 0x65;
        assert!(matches!(
            Ipv4Header::parse(&bytes),
            Err(ParseError::Malformed(_))
        ));
        // IHL says 24 bytes but only 20 are there.
        bytes[0] = 0x46;
        assert_eq!(Ipv4Header::parse(&bytes), Err(ParseError::Truncated));
    }

    #[test]
    fn ipv4_later_fragment_has_no_icmp_header() {
        let mut bytes = ipv4(5);
        bytes[6] = 0x00;
        bytes[7] = 0x10;
        let (header, _) = Ipv4Header::parse(&bytes).unwrap();
        assert!(!header.carries_icmp_header());
    }

    fn ipv6(next: u8) -> Vec<u8> {
        let mut bytes = vec![0u8; 40];
        bytes[0] = 0x60 | 0x0a;
        bytes[1] = 0xb0;
        bytes[6] = next;
        bytes[7] = 3;
        bytes[8] = 0x20;
        bytes[9] = 0x01;
        bytes[24] = 0xfe;
        bytes
    }

    #[test]
    fn ipv6_walks_extension_headers() {
        let mut bytes = ipv6(0);
        // Hop-by-hop options (8 bytes) -> fragment (offset 0) -> ICMPv6.
        bytes.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
        bytes.extend_from_slice(&[58, 0, 0, 1, 0, 0, 0, 7]);
        bytes.extend_from_slice(&[128, 0, 0, 0]);
        let (header, rest) = Ipv6Header::parse(&bytes).unwrap();
        assert_eq!(header.traffic_class, 0xab);
        assert_eq!(header.hop_limit, 3);
        assert!(header.carries_icmp_header());
        assert_eq!(rest, &[128, 0, 0, 0]);
    }

    #[test]
    fn ipv6_later_fragment_and_truncation() {
        let mut bytes = ipv6(44);
        bytes.extend_from_slice(&[58, 0, 0, 0x08, 0, 0, 0, 7]);
        let (header, _) = Ipv6Header::parse(&bytes).unwrap();
        assert!(!header.carries_icmp_header());
        let mut bytes = ipv6(60);
        bytes.extend_from_slice(&[58, 1, 0, 0]);
        assert_eq!(Ipv6Header::parse(&bytes), Err(ParseError::Truncated));
        assert_eq!(Ipv6Header::parse(&bytes[..39]), Err(ParseError::Truncated));
    }
}
