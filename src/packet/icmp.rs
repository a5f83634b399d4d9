//! ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) headers: a view of the common header
//! ([`IcmpPacket`]), the type numbers and what they mean ([`Kind`]). The messages by
//! meaning are in [`Message`](super::Message).
//!
//! Both families share one header layout:
//!
//! ```text
//!  0      7 8     15 16                31
//! +--------+--------+--------------------+
//! |  type  |  code  |      checksum      |
//! +--------+--------+--------------------+
//! |  identifier     |  sequence number   |   echo
//! |  (v4) unused, RFC 4884 length, MTU   |   ICMPv4 errors
//! |  (v6) RFC 4884 length, unused / MTU  |   ICMPv6 errors
//! +-----------------+--------------------+
//! |  payload (echo)   or   the original datagram, as much as fits (errors)
//! ```

use std::net::Ipv6Addr;

use super::ParseError;
use super::checksum::{checksum, icmpv6_checksum};
use crate::family::Family;

/// Where each field of the header lies.
pub(crate) mod field {
    use std::ops::Range;

    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    /// The second word, whose meaning depends on the type.
    pub const REST: Range<usize> = 4..8;
    pub const ECHO_ID: Range<usize> = 4..6;
    pub const ECHO_SEQUENCE: Range<usize> = 6..8;
    /// RFC 4884 length of the quote in 32-bit words (ICMPv4 Destination Unreachable,
    /// Time Exceeded, Parameter Problem).
    pub const V4_LENGTH: usize = 5;
    /// Next-hop MTU of an ICMPv4 Fragmentation Needed (RFC 1191).
    pub const V4_MTU: Range<usize> = 6..8;
    /// RFC 4884 length of the quote in 64-bit words (ICMPv6 Destination Unreachable,
    /// Time Exceeded).
    pub const V6_LENGTH: usize = 4;
    /// MTU of an ICMPv6 Packet Too Big.
    pub const V6_MTU: Range<usize> = 4..8;
}

/// Length of the ICMP header (type, code, checksum and four more bytes).
pub const HEADER_LEN: usize = field::REST.end;

/// ICMPv4 type numbers (RFC 792) and the code of Fragmentation Needed.
pub mod v4 {
    /// Echo Reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination Unreachable.
    pub const DESTINATION_UNREACHABLE: u8 = 3;
    /// Source Quench (deprecated, RFC 6633).
    pub const SOURCE_QUENCH: u8 = 4;
    /// Redirect.
    pub const REDIRECT: u8 = 5;
    /// Echo Request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time Exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter Problem.
    pub const PARAMETER_PROBLEM: u8 = 12;
    /// Destination Unreachable code: Fragmentation Needed and DF set (RFC 1191).
    pub const FRAGMENTATION_NEEDED: u8 = 4;
}

/// ICMPv6 type numbers (RFC 4443).
pub mod v6 {
    /// Destination Unreachable.
    pub const DESTINATION_UNREACHABLE: u8 = 1;
    /// Packet Too Big.
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time Exceeded.
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter Problem.
    pub const PARAMETER_PROBLEM: u8 = 4;
    /// Echo Request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo Reply.
    pub const ECHO_REPLY: u8 = 129;
}

/// What an ICMP type means, the same way for both families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Echo Request.
    EchoRequest,
    /// Echo Reply.
    EchoReply,
    /// Destination Unreachable.
    DestinationUnreachable,
    /// Time Exceeded (TTL / hop limit reached zero, or reassembly timed out).
    TimeExceeded,
    /// Another error message that quotes the datagram which caused it (Parameter
    /// Problem, Packet Too Big, Redirect, Source Quench).
    OtherError,
    /// Anything else (router advertisements, neighbour discovery, unknown types).
    Other,
}

impl Kind {
    /// The kind of ICMP type number `icmp_type` in `family`.
    pub fn of(family: Family, icmp_type: u8) -> Kind {
        match (family, icmp_type) {
            (Family::V4, v4::ECHO_REQUEST) | (Family::V6, v6::ECHO_REQUEST) => Kind::EchoRequest,
            (Family::V4, v4::ECHO_REPLY) | (Family::V6, v6::ECHO_REPLY) => Kind::EchoReply,
            (Family::V4, v4::DESTINATION_UNREACHABLE)
            | (Family::V6, v6::DESTINATION_UNREACHABLE) => Kind::DestinationUnreachable,
            (Family::V4, v4::TIME_EXCEEDED) | (Family::V6, v6::TIME_EXCEEDED) => Kind::TimeExceeded,
            (Family::V4, v4::SOURCE_QUENCH | v4::REDIRECT | v4::PARAMETER_PROBLEM)
            | (Family::V6, v6::PACKET_TOO_BIG | v6::PARAMETER_PROBLEM) => Kind::OtherError,
            _ => Kind::Other,
        }
    }

    /// True for the error kinds, which quote the datagram that caused them.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            Kind::DestinationUnreachable | Kind::TimeExceeded | Kind::OtherError
        )
    }
}

/// True for the messages that say a packet was too big for a link and could not be
/// fragmented: ICMPv4 Destination Unreachable, code 4 (Fragmentation Needed and DF set),
/// and ICMPv6 Packet Too Big.
///
/// ```
/// use icmplib::Family;
/// use icmplib::packet::is_packet_too_big;
///
/// assert!(is_packet_too_big(Family::V4, 3, 4));
/// assert!(is_packet_too_big(Family::V6, 2, 0));
/// assert!(!is_packet_too_big(Family::V4, 3, 1));
/// ```
pub fn is_packet_too_big(family: Family, icmp_type: u8, code: u8) -> bool {
    match family {
        Family::V4 => icmp_type == v4::DESTINATION_UNREACHABLE && code == v4::FRAGMENTATION_NEEDED,
        Family::V6 => icmp_type == v6::PACKET_TOO_BIG,
    }
}

/// True for the error messages of `family` with an RFC 4884 length field.
pub(crate) fn has_length_field(family: Family, icmp_type: u8) -> bool {
    match family {
        Family::V4 => matches!(
            icmp_type,
            v4::DESTINATION_UNREACHABLE | v4::TIME_EXCEEDED | v4::PARAMETER_PROBLEM
        ),
        Family::V6 => matches!(icmp_type, v6::DESTINATION_UNREACHABLE | v6::TIME_EXCEEDED),
    }
}

/// A read-only or read-write view of an ICMP message (either family: the header layout
/// is the same).
///
/// [`IcmpPacket::new_checked`] makes sure the 8-byte header is there, so no accessor can
/// panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    /// Wraps `buffer` without checks, for writing a message of known size.
    pub(crate) const fn new_unchecked(buffer: T) -> IcmpPacket<T> {
        IcmpPacket { buffer }
    }

    /// Wraps `buffer` after checking that it holds the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<IcmpPacket<T>, ParseError> {
        let packet = IcmpPacket { buffer };
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks what [`IcmpPacket::new_checked`] checks.
    pub fn check_len(&self) -> Result<(), ParseError> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        Ok(())
    }

    /// The buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn word(&self, at: std::ops::Range<usize>) -> u16 {
        let bytes = &self.buffer.as_ref()[at];
        u16::from_be_bytes([bytes[0], bytes[1]])
    }

    /// The type number.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// The code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.word(field::CHECKSUM)
    }

    /// The second word of the header, whose meaning depends on the type.
    pub fn rest_of_header(&self) -> [u8; 4] {
        let bytes = &self.buffer.as_ref()[field::REST];
        [bytes[0], bytes[1], bytes[2], bytes[3]]
    }

    /// The identifier of an echo message.
    pub fn echo_id(&self) -> u16 {
        self.word(field::ECHO_ID)
    }

    /// The sequence number of an echo message.
    pub fn echo_sequence(&self) -> u16 {
        self.word(field::ECHO_SEQUENCE)
    }

    /// The MTU field of a Fragmentation Needed (ICMPv4: the low 16 bits of the second word,
    /// RFC 1191) or Packet Too Big (ICMPv6: all 32, RFC 4443) message.
    pub fn mtu(&self, family: Family) -> u32 {
        match family {
            Family::V4 => u32::from(self.word(field::V4_MTU)),
            Family::V6 => {
                let bytes = &self.buffer.as_ref()[field::V6_MTU];
                u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
            }
        }
    }

    /// The RFC 4884 length field of an error message, in bytes (ICMPv4: byte 5 in 32-bit
    /// words; ICMPv6: byte 4 in 64-bit words). Meaningful only for the messages that have
    /// one: Destination Unreachable, Time Exceeded and ICMPv4 Parameter Problem.
    pub fn rfc4884_length(&self, family: Family) -> usize {
        let at = match family {
            Family::V4 => field::V4_LENGTH,
            Family::V6 => field::V6_LENGTH,
        };
        usize::from(self.buffer.as_ref()[at]) * length_unit(family)
    }

    /// True when the ICMPv4 checksum over the whole message is right.
    pub fn verify_checksum_v4(&self) -> bool {
        checksum(self.buffer.as_ref()) == 0
    }

    /// True when the ICMPv6 checksum of the message sent from `source` to `destination`
    /// is right.
    pub fn verify_checksum_v6(&self, source: &Ipv6Addr, destination: &Ipv6Addr) -> bool {
        icmpv6_checksum(source, destination, self.buffer.as_ref()) == 0
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> IcmpPacket<&'a T> {
    /// Everything after the header.
    pub fn data(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    fn set_word(&mut self, at: std::ops::Range<usize>, value: u16) {
        self.buffer.as_mut()[at].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the type number.
    pub fn set_msg_type(&mut self, icmp_type: u8) {
        self.buffer.as_mut()[field::TYPE] = icmp_type;
    }

    /// Sets the code.
    pub fn set_msg_code(&mut self, code: u8) {
        self.buffer.as_mut()[field::CODE] = code;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, sum: u16) {
        self.set_word(field::CHECKSUM, sum);
    }

    /// Sets the second word of the header.
    pub fn set_rest_of_header(&mut self, rest: [u8; 4]) {
        self.buffer.as_mut()[field::REST].copy_from_slice(&rest);
    }

    /// Sets the identifier of an echo message.
    pub fn set_echo_id(&mut self, id: u16) {
        self.set_word(field::ECHO_ID, id);
    }

    /// Sets the sequence number of an echo message.
    pub fn set_echo_sequence(&mut self, sequence: u16) {
        self.set_word(field::ECHO_SEQUENCE, sequence);
    }

    /// Computes the ICMPv4 checksum over the whole message and writes it.
    pub fn fill_checksum_v4(&mut self) {
        self.set_checksum(0);
        let sum = checksum(self.buffer.as_ref());
        self.set_checksum(sum);
    }

    /// Computes the ICMPv6 checksum of the message sent from `source` to `destination`
    /// (over the pseudo-header, RFC 8200 §8.1) and writes it.
    pub fn fill_checksum_v6(&mut self, source: &Ipv6Addr, destination: &Ipv6Addr) {
        self.set_checksum(0);
        let sum = icmpv6_checksum(source, destination, self.buffer.as_ref());
        self.set_checksum(sum);
    }
}

/// The bytes of the RFC 4884 length field's unit: 32-bit words for ICMPv4, 64-bit words
/// for ICMPv6.
pub(crate) fn length_unit(family: Family) -> usize {
    match family {
        Family::V4 => 4,
        Family::V6 => 8,
    }
}
