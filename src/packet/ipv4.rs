//! IPv4 headers (RFC 791): the outer header that raw IPv4 sockets deliver, and the header
//! quoted inside ICMPv4 error messages.
//!
//! ```text
//!  0       4       8               16    19                        31
//! +-------+-------+---------------+-------------------------------+
//! |version|  IHL  |      TOS      |          total length         |
//! +-------+-------+---------------+-----+-------------------------+
//! |         identification        |flags|     fragment offset     |
//! +---------------+---------------+-----+-------------------------+
//! |      TTL      |   protocol    |        header checksum        |
//! +---------------+---------------+-------------------------------+
//! |                        source address                         |
//! +---------------------------------------------------------------+
//! |                      destination address                      |
//! +---------------------------------------------------------------+
//! |                 options (IHL × 4 − 20 bytes)                  |
//! +---------------------------------------------------------------+
//! ```

use std::net::Ipv4Addr;

use super::checksum::checksum;
use super::{IPPROTO_ICMP, ParseError};

/// Where each field of the header lies.
mod field {
    use std::ops::Range;

    /// Version (high nibble) and header length in 32-bit words (low nibble).
    pub const VERSION_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    /// Flags (3 high bits) and fragment offset in 8-byte units (13 low bits).
    pub const FLAGS_FRAGMENT: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SOURCE: Range<usize> = 12..16;
    pub const DESTINATION: Range<usize> = 16..20;
}

/// Minimum (option-less) IPv4 header length.
pub const IPV4_MIN_HEADER_LEN: usize = field::DESTINATION.end;
/// Maximum IPv4 header length: an IHL of 15 words.
pub const IPV4_MAX_HEADER_LEN: usize = 60;

const DONT_FRAGMENT: u16 = 0x4000;
const MORE_FRAGMENTS: u16 = 0x2000;
const FRAGMENT_OFFSET: u16 = 0x1fff;

/// A read-only or read-write view of an IPv4 header at the start of a buffer.
///
/// [`Ipv4Packet::new_checked`] makes sure the whole header (options included) is in the
/// buffer, so no accessor can panic. The payload is everything after the header: the total
/// length field is not used to cut it (some systems rewrite that field in packets they
/// deliver to raw sockets, and a quoted datagram is often cut short).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buffer` without checks, for writing a header of known size.
    pub(crate) const fn new_unchecked(buffer: T) -> Ipv4Packet<T> {
        Ipv4Packet { buffer }
    }

    /// Wraps `buffer` after checking that it starts with a whole IPv4 header: version 4,
    /// a header length of at least 20 bytes, and that many bytes present.
    ///
    /// ```
    /// use icmplib::packet::{Ipv4Packet, ParseError};
    ///
    /// let mut header = [0u8; 24];
    /// header[0] = 0x46; // version 4, 6 words: 4 bytes of options
    /// let packet = Ipv4Packet::new_checked(&header[..]).unwrap();
    /// assert_eq!((packet.header_len(), packet.options().len()), (24, 4));
    /// assert_eq!(Ipv4Packet::new_checked(&header[..23]).unwrap_err(), ParseError::Truncated);
    /// ```
    pub fn new_checked(buffer: T) -> Result<Ipv4Packet<T>, ParseError> {
        let packet = Ipv4Packet { buffer };
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks what [`Ipv4Packet::new_checked`] checks.
    pub fn check_len(&self) -> Result<(), ParseError> {
        let bytes = self.buffer.as_ref();
        let first = *bytes.first().ok_or(ParseError::Truncated)?;
        if first >> 4 != 4 {
            return Err(ParseError::Malformed("not an IPv4 header"));
        }
        if bytes.len() < IPV4_MIN_HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        let header_len = usize::from(first & 0x0f) * 4;
        if header_len < IPV4_MIN_HEADER_LEN {
            return Err(ParseError::Malformed("IPv4 header length below 20"));
        }
        if bytes.len() < header_len {
            return Err(ParseError::Truncated);
        }
        Ok(())
    }

    /// The buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref()[at]
    }

    fn word(&self, at: std::ops::Range<usize>) -> u16 {
        let bytes = &self.buffer.as_ref()[at];
        u16::from_be_bytes([bytes[0], bytes[1]])
    }

    fn address(&self, at: std::ops::Range<usize>) -> Ipv4Addr {
        let bytes = &self.buffer.as_ref()[at];
        Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])
    }

    /// The version field (4).
    pub fn version(&self) -> u8 {
        self.byte(field::VERSION_IHL) >> 4
    }

    /// The header length in bytes, from the IHL field (20 to 60).
    pub fn header_len(&self) -> usize {
        usize::from(self.byte(field::VERSION_IHL) & 0x0f) * 4
    }

    /// Type of service byte (DSCP and ECN).
    pub fn tos(&self) -> u8 {
        self.byte(field::TOS)
    }

    /// The total length field, header included, as written.
    pub fn total_len(&self) -> u16 {
        self.word(field::TOTAL_LEN)
    }

    /// The identification field.
    pub fn ident(&self) -> u16 {
        self.word(field::IDENT)
    }

    /// The Don't Fragment flag.
    pub fn dont_fragment(&self) -> bool {
        self.word(field::FLAGS_FRAGMENT) & DONT_FRAGMENT != 0
    }

    /// The More Fragments flag.
    pub fn more_fragments(&self) -> bool {
        self.word(field::FLAGS_FRAGMENT) & MORE_FRAGMENTS != 0
    }

    /// The fragment offset in 8-byte units.
    pub fn fragment_offset(&self) -> u16 {
        self.word(field::FLAGS_FRAGMENT) & FRAGMENT_OFFSET
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.byte(field::TTL)
    }

    /// Protocol of the payload (1 for ICMP).
    pub fn protocol(&self) -> u8 {
        self.byte(field::PROTOCOL)
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        self.word(field::CHECKSUM)
    }

    /// True when the header checksum is right.
    pub fn verify_checksum(&self) -> bool {
        checksum(&self.buffer.as_ref()[..self.header_len()]) == 0
    }

    /// Source address.
    pub fn source(&self) -> Ipv4Addr {
        self.address(field::SOURCE)
    }

    /// Destination address.
    pub fn destination(&self) -> Ipv4Addr {
        self.address(field::DESTINATION)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv4Packet<&'a T> {
    /// The whole header, options included.
    pub fn header(&self) -> &'a [u8] {
        &self.buffer.as_ref()[..self.header_len()]
    }

    /// The options: the header after its first 20 bytes.
    pub fn options(&self) -> &'a [u8] {
        &self.buffer.as_ref()[IPV4_MIN_HEADER_LEN..self.header_len()]
    }

    /// Everything after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }

    /// The datagram as its total length field says, cut to the bytes present: what follows
    /// it (link-layer padding, or whatever an ICMP error appended to a quoted datagram) left
    /// out. A total length shorter than the header leaves the whole buffer.
    pub fn datagram(&self) -> &'a [u8] {
        let bytes = self.buffer.as_ref();
        let total = usize::from(self.total_len());
        if total < self.header_len() {
            return bytes;
        }
        &bytes[..total.min(bytes.len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn set_word(&mut self, at: std::ops::Range<usize>, value: u16) {
        self.buffer.as_mut()[at].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the time to live (the checksum is not updated: see
    /// [`Ipv4Packet::fill_checksum`]).
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }

    /// Sets the total length field.
    pub fn set_total_len(&mut self, total_len: u16) {
        self.set_word(field::TOTAL_LEN, total_len);
    }

    /// Sets the header checksum field.
    pub fn set_checksum(&mut self, sum: u16) {
        self.set_word(field::CHECKSUM, sum);
    }

    /// Computes the header checksum and writes it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum(&self.buffer.as_ref()[..self.header_len()]);
        self.set_checksum(sum);
    }
}

/// An IPv4 header, field by field: what [`Ipv4Header::parse`] reads and
/// [`Ipv4Header::emit`] writes.
///
/// ```
/// use std::net::Ipv4Addr;
/// use icmplib::packet::{IPPROTO_ICMP, Ipv4Header, checksum};
///
/// let header = Ipv4Header::new(
///     Ipv4Addr::new(192, 0, 2, 1),
///     Ipv4Addr::new(198, 51, 100, 7),
///     IPPROTO_ICMP,
///     8,
/// );
/// let mut packet = Vec::new();
/// header.emit(&mut packet);
/// packet.extend_from_slice(&[8, 0, 0xf7, 0xff, 0, 0, 0, 0]); // an empty echo request
/// assert_eq!(checksum(&packet[..20]), 0, "the header checksum is filled in");
/// let (parsed, icmp) = Ipv4Header::parse(&packet).unwrap();
/// assert_eq!((parsed, icmp.len()), (header, 8));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Header<'a> {
    /// Type of service byte (DSCP and ECN).
    pub tos: u8,
    /// Total length, header included, as written in the packet.
    pub total_len: u16,
    /// Identification.
    pub ident: u16,
    /// Don't Fragment flag.
    pub dont_fragment: bool,
    /// More Fragments flag.
    pub more_fragments: bool,
    /// Fragment offset in 8-byte units (13 bits).
    pub fragment_offset: u16,
    /// Time to live.
    pub ttl: u8,
    /// Protocol of the payload (1 for ICMP).
    pub protocol: u8,
    /// Source address.
    pub source: Ipv4Addr,
    /// Destination address.
    pub destination: Ipv4Addr,
    /// Options, between the first 20 bytes and the payload (a multiple of 4 bytes, at most
    /// 40).
    pub options: &'a [u8],
}

impl Ipv4Header<'static> {
    /// A header without options for `payload_len` bytes of `protocol` from `source` to
    /// `destination`: TTL 64, TOS 0, identification 0, not fragmented.
    pub fn new(
        source: Ipv4Addr,
        destination: Ipv4Addr,
        protocol: u8,
        payload_len: usize,
    ) -> Ipv4Header<'static> {
        let total = IPV4_MIN_HEADER_LEN.saturating_add(payload_len);
        Ipv4Header {
            tos: 0,
            total_len: u16::try_from(total).unwrap_or(u16::MAX),
            ident: 0,
            dont_fragment: false,
            more_fragments: false,
            fragment_offset: 0,
            ttl: 64,
            protocol,
            source,
            destination,
            options: &[],
        }
    }
}

impl<'a> Ipv4Header<'a> {
    /// Parses an IPv4 header at the start of `bytes` and returns it with the rest of the
    /// bytes after the header (IHL honoured, so IP options are skipped). The header
    /// checksum is not verified (see [`Ipv4Packet::verify_checksum`]), nor is the rest cut
    /// to the total length (see [`Ipv4Packet`]).
    pub fn parse(bytes: &'a [u8]) -> Result<(Ipv4Header<'a>, &'a [u8]), ParseError> {
        let packet = Ipv4Packet::new_checked(bytes)?;
        Ok((Ipv4Header::from_packet(&packet), packet.payload()))
    }

    /// The fields of a checked packet.
    pub fn from_packet<T: AsRef<[u8]> + ?Sized>(packet: &Ipv4Packet<&'a T>) -> Ipv4Header<'a> {
        Ipv4Header {
            tos: packet.tos(),
            total_len: packet.total_len(),
            ident: packet.ident(),
            dont_fragment: packet.dont_fragment(),
            more_fragments: packet.more_fragments(),
            fragment_offset: packet.fragment_offset(),
            ttl: packet.ttl(),
            protocol: packet.protocol(),
            source: packet.source(),
            destination: packet.destination(),
            options: packet.options(),
        }
    }

    /// The length [`Ipv4Header::emit`] writes: 20 bytes plus the options, rounded up to a
    /// multiple of 4, at most 60.
    pub fn header_len(&self) -> usize {
        let options = self
            .options
            .len()
            .min(IPV4_MAX_HEADER_LEN - IPV4_MIN_HEADER_LEN);
        IPV4_MIN_HEADER_LEN + options.next_multiple_of(4)
    }

    /// True when the payload is the first fragment (or the whole datagram) of an ICMP
    /// message, so the ICMP header is there to read.
    pub fn carries_icmp_header(&self) -> bool {
        self.protocol == IPPROTO_ICMP && self.fragment_offset == 0
    }

    /// Appends the header to `out`, with its checksum. Options beyond 40 bytes are left
    /// out; options that are not a multiple of 4 bytes are padded with zeros (End of
    /// Option List). The fields are written as they are: the total length is not
    /// computed.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let header_len = self.header_len();
        out.resize(start + header_len, 0);
        let options = &self.options[..self.options.len().min(header_len - IPV4_MIN_HEADER_LEN)];
        let bytes = &mut out[start..];
        // `header_len` is 20..=60 and a multiple of 4: the IHL fits in 4 bits.
        bytes[field::VERSION_IHL] = 0x40 | (header_len / 4) as u8;
        bytes[field::TOS] = self.tos;
        bytes[field::TOTAL_LEN].copy_from_slice(&self.total_len.to_be_bytes());
        bytes[field::IDENT].copy_from_slice(&self.ident.to_be_bytes());
        let mut flags = self.fragment_offset & FRAGMENT_OFFSET;
        if self.dont_fragment {
            flags |= DONT_FRAGMENT;
        }
        if self.more_fragments {
            flags |= MORE_FRAGMENTS;
        }
        bytes[field::FLAGS_FRAGMENT].copy_from_slice(&flags.to_be_bytes());
        bytes[field::TTL] = self.ttl;
        bytes[field::PROTOCOL] = self.protocol;
        bytes[field::SOURCE].copy_from_slice(&self.source.octets());
        bytes[field::DESTINATION].copy_from_slice(&self.destination.octets());
        bytes[IPV4_MIN_HEADER_LEN..IPV4_MIN_HEADER_LEN + options.len()].copy_from_slice(options);
        let mut packet = Ipv4Packet::new_unchecked(bytes);
        packet.fill_checksum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ipv4(ihl: u8) -> Vec<u8> {
        let mut bytes = vec![0u8; usize::from(ihl) * 4];
        bytes[field::VERSION_IHL] = 0x40 | ihl;
        bytes[field::TTL] = 64;
        bytes[field::PROTOCOL] = 1;
        bytes[field::SOURCE].copy_from_slice(&[192, 0, 2, 1]);
        bytes[field::DESTINATION].copy_from_slice(&[198, 51, 100, 7]);
        bytes
    }

    #[test]
    fn ipv4_header_length_is_read_from_the_packet() {
        for ihl in 5..=15u8 {
            let mut bytes = ipv4(ihl);
            bytes.extend_from_slice(b"payload");
            let (header, payload) = Ipv4Header::parse(&bytes).unwrap();
            assert_eq!(header.header_len(), usize::from(ihl) * 4);
            assert_eq!(header.options.len(), usize::from(ihl) * 4 - 20);
            assert_eq!(payload, b"payload");
            assert_eq!(header.source, Ipv4Addr::new(192, 0, 2, 1));
            assert_eq!(header.destination, Ipv4Addr::new(198, 51, 100, 7));
            assert!(header.carries_icmp_header());
        }
    }

    #[test]
    fn ipv4_rejects_bad_headers() {
        assert_eq!(Ipv4Header::parse(&[0x45; 19]), Err(ParseError::Truncated));
        assert_eq!(Ipv4Header::parse(&[]), Err(ParseError::Truncated));
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
        bytes[field::FLAGS_FRAGMENT].copy_from_slice(&[0x00, 0x10]);
        let (header, _) = Ipv4Header::parse(&bytes).unwrap();
        assert_eq!(header.fragment_offset, 0x10);
        assert!(!header.carries_icmp_header());
    }

    #[test]
    fn the_datagram_ends_where_the_total_length_says() {
        let mut bytes = ipv4(5);
        bytes.extend_from_slice(&[1, 2, 3, 4, 0, 0, 0, 0]);
        bytes[field::TOTAL_LEN].copy_from_slice(&24u16.to_be_bytes());
        let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.datagram(), &bytes[..24]);
        // A quote cut short: the bytes there are.
        bytes[field::TOTAL_LEN].copy_from_slice(&1000u16.to_be_bytes());
        let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.datagram().len(), 28);
        // A length below the header's cannot be right: nothing is cut.
        bytes[field::TOTAL_LEN].copy_from_slice(&4u16.to_be_bytes());
        let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.datagram().len(), 28);
    }

    #[test]
    fn emit_pads_options_and_fills_the_checksum() {
        let mut header = Ipv4Header::new(
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(203, 0, 113, 9),
            1,
            100,
        );
        header.options = &[1, 1, 1];
        let mut out = vec![0xee];
        header.emit(&mut out);
        assert_eq!(out.len(), 1 + 24);
        let packet = Ipv4Packet::new_checked(&out[1..]).unwrap();
        assert!(packet.verify_checksum());
        assert_eq!(packet.options(), &[1, 1, 1, 0]);
        assert_eq!(packet.total_len(), 120);
    }

    pub(crate) fn header() -> impl Strategy<Value = (Ipv4Header<'static>, Vec<u8>)> {
        (
            any::<(u8, u16, u16, bool, bool, u8, u8)>(),
            0u16..0x2000,
            any::<([u8; 4], [u8; 4])>(),
            0usize..=10,
        )
            .prop_flat_map(|(fields, offset, addresses, words)| {
                proptest::collection::vec(any::<u8>(), words * 4)
                    .prop_map(move |options| (fields, offset, addresses, options))
            })
            .prop_map(
                |((tos, total_len, ident, df, mf, ttl, protocol), offset, (s, d), options)| {
                    let header = Ipv4Header {
                        tos,
                        total_len,
                        ident,
                        dont_fragment: df,
                        more_fragments: mf,
                        fragment_offset: offset,
                        ttl,
                        protocol,
                        source: s.into(),
                        destination: d.into(),
                        options: &[],
                    };
                    (header, options)
                },
            )
    }

    proptest! {
        #[test]
        fn parse_of_emit_is_identity((header, options) in header()) {
            let header = Ipv4Header { options: &options, ..header };
            let mut out = Vec::new();
            header.emit(&mut out);
            prop_assert_eq!(out.len(), header.header_len());
            prop_assert!(Ipv4Packet::new_checked(&out[..]).unwrap().verify_checksum());
            let (parsed, rest) = Ipv4Header::parse(&out).unwrap();
            prop_assert_eq!(parsed, header);
            prop_assert!(rest.is_empty());
        }
    }
}
