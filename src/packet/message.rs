//! ICMP messages by meaning ([`Message`]): every message a ping or a traceroute sends or
//! receives, parsed from bytes and emitted back.

use std::net::Ipv6Addr;

use super::ParseError;
use super::echo::{Echo, EchoKind};
use super::icmp::{
    HEADER_LEN, IcmpPacket, Kind, field, has_length_field, is_packet_too_big, v4, v6,
};
use super::quote::Quote;
use crate::family::Family;

/// An ICMP message of either family, by meaning: what [`Message::parse`] reads and
/// [`Message::emit`] writes.
///
/// Error messages carry the datagram they quote as a [`Quote`], without the padding and
/// RFC 4884 extension structure that may follow it; [`Quote::request`] finds the echo
/// request in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Message<'a> {
    /// An echo request.
    EchoRequest(Echo<'a>),
    /// An echo reply.
    EchoReply(Echo<'a>),
    /// Destination Unreachable (ICMPv4 type 3 but code 4, ICMPv6 type 1).
    DestinationUnreachable {
        /// The code: which destination, and why.
        code: u8,
        /// The datagram quoted.
        quote: Quote<'a>,
    },
    /// A datagram too big for a link that may not fragment it: ICMPv6 Packet Too Big
    /// (type 2), ICMPv4 Fragmentation Needed (type 3, code 4).
    PacketTooBig {
        /// The MTU of the next link (RFC 1191 and RFC 4443); 0 from a router older than
        /// RFC 1191, which does not say. ICMPv4 has 16 bits for it.
        mtu: u32,
        /// The datagram quoted. ICMPv6 Packet Too Big has no RFC 4884 length field: its
        /// quote is always [`QuoteLayout::Plain`](super::QuoteLayout::Plain).
        quote: Quote<'a>,
    },
    /// Time Exceeded (ICMPv4 type 11, ICMPv6 type 3).
    TimeExceeded {
        /// 0: the TTL / hop limit reached zero in transit; 1: fragment reassembly timed
        /// out.
        code: u8,
        /// The datagram quoted.
        quote: Quote<'a>,
    },
    /// Another error that quotes a datagram: Parameter Problem, ICMPv4 Redirect and
    /// Source Quench. The quote is read without RFC 4884 (its layout is always
    /// [`QuoteLayout::Plain`](super::QuoteLayout::Plain)).
    OtherError {
        /// The type number.
        icmp_type: u8,
        /// The code.
        code: u8,
        /// The second word of the header (pointer, gateway address, ...).
        header: [u8; 4],
        /// The datagram quoted.
        quote: Quote<'a>,
    },
    /// Any other message (neighbour discovery, router advertisements, unknown types).
    Other {
        /// The type number.
        icmp_type: u8,
        /// The code.
        code: u8,
        /// The second word of the header.
        header: [u8; 4],
        /// The bytes after the header.
        data: &'a [u8],
    },
}

impl<'a> Message<'a> {
    /// Parses the ICMP message `bytes` (starting at the ICMP header, without any IP header
    /// in front: see [`Ipv4Header::parse`](super::Ipv4Header::parse) for raw IPv4
    /// sockets).
    ///
    /// For ICMPv4 the checksum is verified and a wrong one is an error. An ICMPv6 checksum
    /// covers a pseudo-header with both addresses, which the kernel verifies for ICMPv6
    /// sockets; use [`IcmpPacket::verify_checksum_v6`] to verify one yourself.
    ///
    /// Never panics, whatever the bytes.
    ///
    /// ```
    /// use icmplib::Family;
    /// use icmplib::packet::{EchoKind, Message, emit_echo};
    ///
    /// let mut bytes = Vec::new();
    /// emit_echo(Family::V4, EchoKind::Reply, 0x1234, 7, b"hello", &mut bytes);
    /// let Message::EchoReply(echo) = Message::parse(Family::V4, &bytes).unwrap() else {
    ///     panic!("not a reply")
    /// };
    /// assert_eq!((echo.id, echo.sequence, echo.payload), (0x1234, 7, &b"hello"[..]));
    /// ```
    pub fn parse(family: Family, bytes: &'a [u8]) -> Result<Message<'a>, ParseError> {
        let packet = IcmpPacket::new_checked(bytes)?;
        if family == Family::V4 && !packet.verify_checksum_v4() {
            return Err(ParseError::Checksum);
        }
        let (icmp_type, code) = (packet.msg_type(), packet.msg_code());
        let data = &bytes[HEADER_LEN..];
        let echo = || Echo {
            id: packet.echo_id(),
            sequence: packet.echo_sequence(),
            payload: data,
        };
        let length = has_length_field(family, icmp_type).then(|| packet.rfc4884_length(family));
        let quote = || Quote::parse(family, length, data);
        let message = match Kind::of(family, icmp_type) {
            Kind::EchoRequest => Message::EchoRequest(echo()),
            Kind::EchoReply => Message::EchoReply(echo()),
            _ if is_packet_too_big(family, icmp_type, code) => Message::PacketTooBig {
                mtu: packet.mtu(family),
                quote: quote(),
            },
            Kind::DestinationUnreachable => Message::DestinationUnreachable {
                code,
                quote: quote(),
            },
            Kind::TimeExceeded => Message::TimeExceeded {
                code,
                quote: quote(),
            },
            Kind::OtherError => Message::OtherError {
                icmp_type,
                code,
                header: packet.rest_of_header(),
                quote: Quote::parse(family, None, data),
            },
            Kind::Other => Message::Other {
                icmp_type,
                code,
                header: packet.rest_of_header(),
                data,
            },
        };
        Ok(message)
    }

    /// The type number of this message in `family`.
    pub fn icmp_type(&self, family: Family) -> u8 {
        match (self, family) {
            (Message::EchoRequest(_), _) => EchoKind::Request.icmp_type(family),
            (Message::EchoReply(_), _) => EchoKind::Reply.icmp_type(family),
            (Message::DestinationUnreachable { .. }, Family::V4)
            | (Message::PacketTooBig { .. }, Family::V4) => v4::DESTINATION_UNREACHABLE,
            (Message::DestinationUnreachable { .. }, Family::V6) => v6::DESTINATION_UNREACHABLE,
            (Message::PacketTooBig { .. }, Family::V6) => v6::PACKET_TOO_BIG,
            (Message::TimeExceeded { .. }, Family::V4) => v4::TIME_EXCEEDED,
            (Message::TimeExceeded { .. }, Family::V6) => v6::TIME_EXCEEDED,
            (Message::OtherError { icmp_type, .. } | Message::Other { icmp_type, .. }, _) => {
                *icmp_type
            }
        }
    }

    /// The code of this message in `family`.
    pub fn code(&self, family: Family) -> u8 {
        match self {
            Message::EchoRequest(_) | Message::EchoReply(_) => 0,
            Message::PacketTooBig { .. } => match family {
                Family::V4 => v4::FRAGMENTATION_NEEDED,
                Family::V6 => 0,
            },
            Message::DestinationUnreachable { code, .. }
            | Message::TimeExceeded { code, .. }
            | Message::OtherError { code, .. }
            | Message::Other { code, .. } => *code,
        }
    }

    /// What the message's type means in `family`.
    pub fn kind(&self, family: Family) -> Kind {
        Kind::of(family, self.icmp_type(family))
    }

    /// The MTU of the next hop that a Fragmentation Needed or Packet Too Big gives;
    /// `None` for any other message, and for a router that sends 0 (older than RFC 1191).
    pub fn mtu(&self) -> Option<u32> {
        match self {
            Message::PacketTooBig { mtu, .. } if *mtu != 0 => Some(*mtu),
            _ => None,
        }
    }

    /// The quote of an error message.
    pub fn quote(&self) -> Option<&Quote<'a>> {
        match self {
            Message::DestinationUnreachable { quote, .. }
            | Message::PacketTooBig { quote, .. }
            | Message::TimeExceeded { quote, .. }
            | Message::OtherError { quote, .. } => Some(quote),
            _ => None,
        }
    }

    /// The length of the message [`Message::emit`] writes.
    pub fn buffer_len(&self, family: Family) -> usize {
        let has_length = self.quote_has_length(family);
        HEADER_LEN
            + match self {
                Message::EchoRequest(echo) | Message::EchoReply(echo) => echo.payload.len(),
                Message::Other { data, .. } => data.len(),
                _ => self
                    .quote()
                    .map_or(0, |quote| quote.buffer_len(family, has_length)),
            }
    }

    /// Appends the message to `out` as a message of `family`.
    ///
    /// ICMPv4 messages get their checksum. ICMPv6 messages are left with a zero checksum,
    /// which the kernel fills in on ICMPv6 sockets: see [`Message::emit_v6`] to fill it.
    ///
    /// An error's quote is written as its [`QuoteLayout`](super::QuoteLayout) says, with
    /// the RFC 4884 length field to match (the datagram cut to the 1,020 / 2,040 bytes the
    /// field can give). ICMPv4 Fragmentation Needed writes the low 16 bits of the MTU.
    ///
    /// ```
    /// use icmplib::Family;
    /// use icmplib::packet::{EchoKind, Message, Quote, QuoteLayout, emit_echo};
    ///
    /// // A Time Exceeded quoting an echo request (IPv4 header left out for brevity),
    /// // padded and extended as RFC 4884 says.
    /// let mut quoted = Vec::new();
    /// emit_echo(Family::V4, EchoKind::Request, 1, 2, b"probe", &mut quoted);
    /// let extensions = [0x20, 0, 0xde, 0xfa, 0, 4, 1, 1];
    /// let quote = Quote {
    ///     datagram: &quoted,
    ///     extensions: Some(&extensions),
    ///     layout: QuoteLayout::Rfc4884,
    /// };
    /// let message = Message::TimeExceeded { code: 0, quote };
    /// let mut out = Vec::new();
    /// message.emit(Family::V4, &mut out);
    /// assert_eq!(out.len(), 8 + 128 + 8);
    /// assert_eq!(out[5], 128 / 4, "the length field");
    /// let parsed = Message::parse(Family::V4, &out).unwrap();
    /// assert_eq!(parsed.quote().unwrap().extensions, Some(&extensions[..]));
    /// ```
    pub fn emit(&self, family: Family, out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + HEADER_LEN, 0);
        let icmp_type = self.icmp_type(family);
        let mut rest = [0u8; 4];
        match self {
            Message::EchoRequest(echo) | Message::EchoReply(echo) => {
                rest[..2].copy_from_slice(&echo.id.to_be_bytes());
                rest[2..].copy_from_slice(&echo.sequence.to_be_bytes());
                out.extend_from_slice(echo.payload);
            }
            Message::OtherError { header, .. } | Message::Other { header, .. } => {
                rest = *header;
                match self {
                    Message::Other { data, .. } => out.extend_from_slice(data),
                    _ => self.emit_quote(family, out, &mut rest),
                }
            }
            Message::PacketTooBig { mtu, .. } => {
                match family {
                    Family::V4 => {
                        let mtu = u16::try_from(*mtu).unwrap_or(u16::MAX);
                        rest[2..].copy_from_slice(&mtu.to_be_bytes());
                    }
                    Family::V6 => rest = mtu.to_be_bytes(),
                }
                self.emit_quote(family, out, &mut rest);
            }
            Message::DestinationUnreachable { .. } | Message::TimeExceeded { .. } => {
                self.emit_quote(family, out, &mut rest);
            }
        }
        let mut packet = IcmpPacket::new_unchecked(&mut out[start..]);
        packet.set_msg_type(icmp_type);
        packet.set_msg_code(self.code(family));
        packet.set_rest_of_header(rest);
        if family == Family::V4 {
            packet.fill_checksum_v4();
        }
    }

    /// True when the quote of this message is written with an RFC 4884 length field:
    /// Destination Unreachable (Fragmentation Needed included) and Time Exceeded. Other
    /// errors are read without one, so they are written without one.
    fn quote_has_length(&self, family: Family) -> bool {
        match self {
            Message::DestinationUnreachable { .. } | Message::TimeExceeded { .. } => true,
            Message::PacketTooBig { .. } => has_length_field(family, self.icmp_type(family)),
            _ => false,
        }
    }

    /// Appends the quote and writes its length field into `rest`.
    fn emit_quote(&self, family: Family, out: &mut Vec<u8>, rest: &mut [u8; 4]) {
        let Some(quote) = self.quote() else {
            return;
        };
        let has_length = self.quote_has_length(family);
        let length = quote.emit(family, has_length, out);
        if has_length {
            let at = match family {
                Family::V4 => field::V4_LENGTH,
                Family::V6 => field::V6_LENGTH,
            };
            rest[at - field::REST.start] = length;
        }
    }

    /// Appends the message to `out` as an ICMPv6 message from `source` to `destination`,
    /// its checksum filled in over the pseudo-header: what a TUN device, or a raw socket
    /// that includes the IP header, needs.
    pub fn emit_v6(&self, source: &Ipv6Addr, destination: &Ipv6Addr, out: &mut Vec<u8>) {
        let start = out.len();
        self.emit(Family::V6, out);
        IcmpPacket::new_unchecked(&mut out[start..]).fill_checksum_v6(source, destination);
    }
}
