//! The datagram an ICMP error quotes, and the RFC 4884 extension structure that may follow
//! it.
//!
//! An error message carries as much of the datagram that caused it as the router chose
//! to send (RFC 792: the IP header and 8 bytes; Linux: as much as fits in 576 / 1,280
//! bytes). RFC 4884 lets a router append an *extension structure* (MPLS labels, RFC 4950;
//! interface information, RFC 5837) after it: the quoted datagram is then zero-padded to
//! at least 128 bytes and its padded length is written in the ICMP header (ICMPv4 byte 5,
//! in 32-bit words; ICMPv6 byte 4, in 64-bit words). Routers older than RFC 4884 (MPLS
//! routers since 1999) append the same structure after exactly 128 bytes of quote and
//! leave the length at 0; RFC 4884 tells receivers to look for a valid extension header
//! at byte 128 when the length is 0. Either way, the padding and the extension are not
//! part of the datagram: the quoted IP header's own length field says where it ends.
//!
//! ```text
//! | ICMP header (8) | quoted datagram | zero padding | extension header (4) | objects |
//!                   |<-- length field × 4 (or 8), or 128 -->|
//! ```

use std::net::IpAddr;

use super::checksum::checksum;
use super::echo::{Echo, parse_request_header};
use super::icmp::length_unit;
use super::ipv4::{Ipv4Header, Ipv4Packet};
use super::ipv6::Ipv6Packet;
use crate::family::Family;

/// The length of the quoted datagram before an extension structure, at least (RFC 4884),
/// and exactly that in the form of routers that predate RFC 4884.
pub const RFC4884_MIN_QUOTE: usize = 128;

/// Where the fields of the extension header and of each object header lie (RFC 4884
/// section 7 and 8).
mod field {
    use std::ops::Range;

    /// Version in the high nibble (2), then 12 reserved bits.
    pub const VERSION: usize = 0;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const HEADER_LEN: usize = 4;
    /// An object's length, its 4-byte header included.
    pub const OBJECT_LEN: Range<usize> = 0..2;
    pub const OBJECT_HEADER_LEN: usize = 4;
}

/// The extension structure version of RFC 4884.
const EXTENSION_VERSION: u8 = 2;

/// How a quoted datagram and any extension structure after it are laid out in an error
/// message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum QuoteLayout {
    /// The quoted datagram alone, the length field 0 (RFC 792, RFC 4443).
    #[default]
    Plain,
    /// RFC 4884: the quoted datagram zero-padded to a multiple of 4 bytes (ICMPv4) or 8
    /// (ICMPv6), to at least 128 when an extension structure follows, its padded length
    /// in the length field.
    Rfc4884,
    /// The form of routers older than RFC 4884: exactly 128 bytes of quote (cut or
    /// zero-padded), the length field 0, then the extension structure.
    Padded128,
}

/// The datagram an ICMP error message quotes, without the padding and extension
/// structure that may follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quote<'a> {
    /// The quoted datagram, IP header first: cut where its IP header's length says
    /// (IPv4 total length, IPv6 payload length + 40), or where the router stopped
    /// quoting, whichever comes first. When the quote does not start with an IP header
    /// of the message's family, all the bytes the message quotes.
    pub datagram: &'a [u8],
    /// The RFC 4884 extension structure after the quote (extension header and objects,
    /// undecoded), if there is one.
    pub extensions: Option<&'a [u8]>,
    /// How the message laid the quote out.
    pub layout: QuoteLayout,
}

/// The echo request quoted inside an ICMP error message: which request caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Original<'a> {
    /// Source address of the quoted request (our address).
    pub source: IpAddr,
    /// Destination address of the quoted request (the host we pinged).
    pub destination: IpAddr,
    /// Identifier of the quoted request.
    pub id: u16,
    /// Sequence number of the quoted request.
    pub sequence: u16,
    /// As much of the request's payload as the error quoted (routers quote at least the
    /// 8-byte ICMP header, Linux as much as fits in 576 / 1,280 bytes): a prefix of what
    /// was sent, possibly empty.
    pub payload: &'a [u8],
}

impl<'a> Quote<'a> {
    /// A plain quote of `datagram`, without extensions.
    pub fn new(datagram: &'a [u8]) -> Quote<'a> {
        Quote {
            datagram,
            extensions: None,
            layout: QuoteLayout::Plain,
        }
    }

    /// Reads the quote of an error message from `data`, the bytes after its ICMP header.
    /// `length` is what its RFC 4884 length field gives in bytes, `None` for a message
    /// without that field.
    pub(crate) fn parse(family: Family, length: Option<usize>, data: &'a [u8]) -> Quote<'a> {
        let (quoted, extensions, layout) = match length {
            Some(len) if len > 0 && len <= data.len() => {
                let rest = &data[len..];
                let extensions = (!rest.is_empty()).then_some(rest);
                (&data[..len], extensions, QuoteLayout::Rfc4884)
            }
            // A length of 0, or one beyond the message, which cannot be right: taken as no
            // length, an extension may still start at byte 128 (the older form).
            Some(_) => match data.get(RFC4884_MIN_QUOTE..) {
                Some(rest) if is_extension_structure(rest) => (
                    &data[..RFC4884_MIN_QUOTE],
                    Some(rest),
                    QuoteLayout::Padded128,
                ),
                _ => (data, None, QuoteLayout::Plain),
            },
            None => (data, None, QuoteLayout::Plain),
        };
        Quote {
            datagram: datagram_of(family, quoted),
            extensions,
            layout,
        }
    }

    /// The bytes [`Quote::emit`] writes for a message of `family`, with (`true`) or without
    /// a length field.
    pub(crate) fn buffer_len(&self, family: Family, has_length: bool) -> usize {
        let extensions = self.extensions.map_or(0, <[u8]>::len);
        match self.layout {
            _ if !has_length => self.datagram.len(),
            QuoteLayout::Plain => self.datagram.len(),
            QuoteLayout::Rfc4884 => self.padded_len(family) + extensions,
            QuoteLayout::Padded128 => RFC4884_MIN_QUOTE + extensions,
        }
    }

    /// The padded length of an RFC 4884 quote: a multiple of the length unit, at least 128
    /// with extensions, the datagram cut to the largest length the field can say.
    fn padded_len(&self, family: Family) -> usize {
        let unit = length_unit(family);
        let quoted = self.datagram.len().min(usize::from(u8::MAX) * unit);
        let padded = quoted.next_multiple_of(unit);
        match self.extensions {
            Some(_) => padded.max(RFC4884_MIN_QUOTE),
            None => padded,
        }
    }

    /// Appends the quote to `out` as its layout says, and returns the length field of the
    /// message in units (0 without one). A message without a length field (`has_length`
    /// false: ICMPv6 Packet Too Big, Parameter Problem, Redirect) gets the datagram alone.
    pub(crate) fn emit(&self, family: Family, has_length: bool, out: &mut Vec<u8>) -> u8 {
        let extensions = self.extensions.unwrap_or_default();
        match self.layout {
            _ if !has_length => {
                out.extend_from_slice(self.datagram);
                0
            }
            QuoteLayout::Plain => {
                out.extend_from_slice(self.datagram);
                0
            }
            QuoteLayout::Rfc4884 => {
                let padded = self.padded_len(family);
                let quoted = &self.datagram[..self.datagram.len().min(padded)];
                out.extend_from_slice(quoted);
                out.resize(out.len() + padded - quoted.len(), 0);
                out.extend_from_slice(extensions);
                // At most 255 units by construction of `padded_len`.
                u8::try_from(padded / length_unit(family)).unwrap_or(u8::MAX)
            }
            QuoteLayout::Padded128 => {
                let quoted = &self.datagram[..self.datagram.len().min(RFC4884_MIN_QUOTE)];
                out.extend_from_slice(quoted);
                out.resize(out.len() + RFC4884_MIN_QUOTE - quoted.len(), 0);
                out.extend_from_slice(extensions);
                0
            }
        }
    }

    /// The echo request of `family` the quote holds, found by reading the quoted IP header
    /// (its length taken from the packet, options and IPv6 extension headers allowed);
    /// `None` when the quote holds something else or too little of it (less than the
    /// 8-byte ICMP header).
    pub fn request(&self, family: Family) -> Option<Original<'a>> {
        let (source, destination, icmp) = match family {
            Family::V4 => {
                let packet = Ipv4Packet::new_checked(self.datagram).ok()?;
                let header = Ipv4Header::from_packet(&packet);
                if !header.carries_icmp_header() {
                    return None;
                }
                (
                    header.source.into(),
                    header.destination.into(),
                    packet.payload(),
                )
            }
            Family::V6 => {
                let packet = Ipv6Packet::new_checked(self.datagram).ok()?;
                let upper = packet.upper_layer().ok()?;
                if !upper.carries_icmp_header() {
                    return None;
                }
                (
                    packet.source().into(),
                    packet.destination().into(),
                    upper.payload,
                )
            }
        };
        let echo: Echo<'a> = parse_request_header(family, icmp)?;
        Some(Original {
            source,
            destination,
            id: echo.id,
            sequence: echo.sequence,
            payload: echo.payload,
        })
    }
}

/// `quoted` cut where its IP header says the datagram ends; all of it when it does not
/// start with an IP header of `family`.
fn datagram_of(family: Family, quoted: &[u8]) -> &[u8] {
    let datagram = match family {
        Family::V4 => Ipv4Packet::new_checked(quoted).map(|packet| packet.datagram()),
        Family::V6 => Ipv6Packet::new_checked(quoted).map(|packet| packet.datagram()),
    };
    datagram.unwrap_or(quoted)
}

/// True when `bytes` is an extension structure (RFC 4884): a header of version 2 whose
/// checksum verifies (or is 0: none was sent), then one or more objects whose lengths
/// cover the rest exactly. What RFC 4884 asks a receiver to check before taking the bytes
/// after a 128-byte quote with a length field of 0 as extensions; the objects' lengths
/// make a chance match among quoted bytes unlikely.
pub fn is_extension_structure(bytes: &[u8]) -> bool {
    let Some(header) = bytes.get(..field::HEADER_LEN) else {
        return false;
    };
    if header[field::VERSION] >> 4 != EXTENSION_VERSION {
        return false;
    }
    let sum = u16::from_be_bytes([
        header[field::CHECKSUM.start],
        header[field::CHECKSUM.end - 1],
    ]);
    if sum != 0 && checksum(bytes) != 0 {
        return false;
    }
    let mut objects = &bytes[field::HEADER_LEN..];
    if objects.is_empty() {
        return false;
    }
    while let Some(length) = objects.get(field::OBJECT_LEN) {
        let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
        if length < field::OBJECT_HEADER_LEN {
            return false;
        }
        let Some(rest) = objects.get(length..) else {
            return false;
        };
        objects = rest;
    }
    objects.is_empty()
}

/// Splits what a datagram socket's error queue holds for an ICMP error (Linux
/// `IP_RECVERR` / `IPV6_RECVERR`) into the quoted message and the RFC 4884 extension
/// structure after it.
///
/// The kernel hands back the quote from its upper-layer header on: it strips the quoted
/// IP header (`stripped` bytes: 20 for an IPv4 request without options, 40 for an IPv6
/// one without extension headers), so neither the header's length nor the message's
/// length field is there to say where the quote ends. An extension structure starts
/// where the quote plus its padding end, a multiple of the length unit at or beyond 128
/// bytes from the quoted IP header: the first such place holding a valid structure is
/// taken. Padding before it stays in the quote: the caller, who knows how long the quoted
/// message was, cuts it.
///
/// ```
/// use icmplib::Family;
/// use icmplib::packet::split_stripped_quote;
///
/// // The 8-byte echo request header and 56 bytes of payload (84 bytes with the stripped
/// // IPv4 header), zero-padded to 128 bytes, then an MPLS label stack object.
/// let mut queued = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
/// queued.resize(128 - 20, 0);
/// let extension = [0x20, 0, 0x9d, 0xef, 0, 8, 1, 1, 0, 0x06, 0x41, 0x01];
/// queued.extend_from_slice(&extension);
/// let (quoted, found) = split_stripped_quote(Family::V4, 20, &queued);
/// assert_eq!((quoted.len(), found), (108, Some(&extension[..])));
/// ```
pub fn split_stripped_quote(
    family: Family,
    stripped: usize,
    bytes: &[u8],
) -> (&[u8], Option<&[u8]>) {
    let unit = length_unit(family);
    let first = RFC4884_MIN_QUOTE.max(stripped.next_multiple_of(unit));
    let last = bytes.len().saturating_add(stripped);
    for at in (first..last).step_by(unit) {
        let Some(split) = at.checked_sub(stripped) else {
            continue;
        };
        if let Some(rest) = bytes.get(split..)
            && is_extension_structure(rest)
        {
            return (&bytes[..split], Some(rest));
        }
    }
    (bytes, None)
}
