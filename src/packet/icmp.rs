//! ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) messages: echo request/reply encoding and the
//! parsing of every message a ping or a traceroute can receive.
//!
//! Both families share one header layout:
//!
//! ```text
//!  0      7 8     15 16                31
//! +--------+--------+--------------------+
//! |  type  |  code  |      checksum      |
//! +--------+--------+--------------------+
//! |  identifier     |  sequence number   |   (echo)    or unused / MTU / pointer (errors)
//! +-----------------+--------------------+
//! |  payload (echo)   or   the original datagram, as much as fits (errors)
//! ```

use std::net::IpAddr;

use super::ip::{Ipv4Header, Ipv6Header};
use super::{ParseError, checksum};
use crate::family::Family;

/// Length of the ICMP header (type, code, checksum and four more bytes).
pub const HEADER_LEN: usize = 8;

/// ICMPv4 type numbers (RFC 792).
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

/// The identifier, sequence number and payload of an echo request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echo<'a> {
    /// Identifier.
    pub id: u16,
    /// Sequence number.
    pub sequence: u16,
    /// Payload (data) bytes.
    pub payload: &'a [u8],
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

/// A parsed ICMP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// ICMP type number.
    pub icmp_type: u8,
    /// ICMP code.
    pub code: u8,
    /// What the type means, with the parts of the body that matter for it.
    pub body: Body<'a>,
    /// The MTU of the next hop, from a Fragmentation Needed (ICMPv4 Destination
    /// Unreachable code 4, RFC 1191) or Packet Too Big (ICMPv6, RFC 4443) message that
    /// gives one; `None` for any other message, and for a router that sends 0 (older than
    /// RFC 1191).
    pub mtu: Option<u32>,
}

/// The body of a [`Message`], by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// An echo request.
    EchoRequest(Echo<'a>),
    /// An echo reply.
    EchoReply(Echo<'a>),
    /// An error message ([`Kind::DestinationUnreachable`], [`Kind::TimeExceeded`] or
    /// [`Kind::OtherError`]) with the echo request it quotes, when the quoted datagram
    /// was an echo request of the same family whose header survived.
    Error(Kind, Option<Original<'a>>),
    /// Any other message.
    Other,
}

impl<'a> Message<'a> {
    /// Parses the ICMP message `bytes` (starting at the ICMP header, without any IP header
    /// in front: see [`Ipv4Header::parse`] for raw IPv4 sockets).
    ///
    /// For ICMPv4 the checksum is verified and a wrong one is an error. An ICMPv6 checksum
    /// covers a pseudo-header with both addresses, which the kernel verifies for ICMPv6
    /// sockets; use [`super::icmpv6_checksum`] to verify one yourself.
    ///
    /// Never panics, whatever the bytes.
    ///
    /// ```
    /// use icmplib::Family;
    /// use icmplib::packet::{Body, EchoKind, Message, emit_echo};
    ///
    /// let mut bytes = Vec::new();
    /// emit_echo(Family::V4, EchoKind::Reply, 0x1234, 7, b"hello", &mut bytes);
    /// let message = Message::parse(Family::V4, &bytes).unwrap();
    /// let Body::EchoReply(echo) = message.body else { panic!("not a reply") };
    /// assert_eq!((echo.id, echo.sequence, echo.payload), (0x1234, 7, &b"hello"[..]));
    /// ```
    pub fn parse(family: Family, bytes: &'a [u8]) -> Result<Message<'a>, ParseError> {
        let header = bytes.get(..HEADER_LEN).ok_or(ParseError::Truncated)?;
        if family == Family::V4 && checksum(bytes) != 0 {
            return Err(ParseError::Checksum);
        }
        let (icmp_type, code) = (header[0], header[1]);
        let rest = &bytes[HEADER_LEN..];
        let echo = || Echo {
            id: u16::from_be_bytes([header[4], header[5]]),
            sequence: u16::from_be_bytes([header[6], header[7]]),
            payload: rest,
        };
        let body = match Kind::of(family, icmp_type) {
            Kind::EchoRequest => Body::EchoRequest(echo()),
            Kind::EchoReply => Body::EchoReply(echo()),
            Kind::Other => Body::Other,
            kind => Body::Error(kind, quoted_request(family, rest)),
        };
        // RFC 1191 gives the MTU in the low 16 bits, RFC 4443 in all 32.
        let mtu = match family {
            _ if !is_packet_too_big(family, icmp_type, code) => 0,
            Family::V4 => u32::from(u16::from_be_bytes([header[6], header[7]])),
            Family::V6 => u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
        };
        Ok(Message {
            icmp_type,
            code,
            body,
            mtu: (mtu != 0).then_some(mtu),
        })
    }

    /// What the message's type means.
    pub fn kind(&self) -> Kind {
        match self.body {
            Body::EchoRequest(_) => Kind::EchoRequest,
            Body::EchoReply(_) => Kind::EchoReply,
            Body::Error(kind, _) => kind,
            Body::Other => Kind::Other,
        }
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

/// Finds the echo request quoted in the body of an error message: the original IP header
/// (its length read from the packet) followed by at least the 8-byte ICMP header.
fn quoted_request(family: Family, quoted: &[u8]) -> Option<Original<'_>> {
    let (source, destination, icmp) = match family {
        Family::V4 => {
            let (header, icmp) = Ipv4Header::parse(quoted).ok()?;
            if !header.carries_icmp_header() {
                return None;
            }
            (header.source.into(), header.destination.into(), icmp)
        }
        Family::V6 => {
            let (header, icmp) = Ipv6Header::parse(quoted).ok()?;
            if !header.carries_icmp_header() {
                return None;
            }
            (header.source.into(), header.destination.into(), icmp)
        }
    };
    let echo = parse_request_header(family, icmp)?;
    Some(Original {
        source,
        destination,
        id: echo.id,
        sequence: echo.sequence,
        payload: echo.payload,
    })
}

/// Reads the id and sequence of an echo request from its first bytes, without verifying
/// the checksum: what an error message quotes (or a socket error queue returns) may be
/// cut short. `None` when the bytes are not an echo request of `family`.
pub fn parse_request_header(family: Family, bytes: &[u8]) -> Option<Echo<'_>> {
    let header = bytes.get(..HEADER_LEN)?;
    if Kind::of(family, header[0]) != Kind::EchoRequest {
        return None;
    }
    Some(Echo {
        id: u16::from_be_bytes([header[4], header[5]]),
        sequence: u16::from_be_bytes([header[6], header[7]]),
        payload: &bytes[HEADER_LEN..],
    })
}

/// Which echo message to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoKind {
    /// Echo Request (ICMPv4 type 8, ICMPv6 type 128).
    Request,
    /// Echo Reply (ICMPv4 type 0, ICMPv6 type 129).
    Reply,
}

/// Appends an echo message to `out`.
///
/// ICMPv4 messages get their checksum. ICMPv6 messages are left with a zero checksum,
/// which the kernel fills in on ICMPv6 sockets; code that writes packets itself can fill
/// it with [`super::icmpv6_checksum`].
pub fn emit_echo(
    family: Family,
    kind: EchoKind,
    id: u16,
    sequence: u16,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    let icmp_type = match (family, kind) {
        (Family::V4, EchoKind::Request) => v4::ECHO_REQUEST,
        (Family::V4, EchoKind::Reply) => v4::ECHO_REPLY,
        (Family::V6, EchoKind::Request) => v6::ECHO_REQUEST,
        (Family::V6, EchoKind::Reply) => v6::ECHO_REPLY,
    };
    let start = out.len();
    out.extend_from_slice(&[icmp_type, 0, 0, 0]);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(payload);
    if family == Family::V4 {
        let sum = checksum(&out[start..]);
        out[start + 2..start + 4].copy_from_slice(&sum.to_be_bytes());
    }
}
