//! Echo requests and replies (RFC 792, RFC 4443 §4): the messages a ping sends and gets.

use super::icmp::{HEADER_LEN, IcmpPacket, Kind, v4, v6};
use crate::family::Family;

/// The identifier, sequence number and payload of an echo request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Echo<'a> {
    /// Identifier.
    pub id: u16,
    /// Sequence number.
    pub sequence: u16,
    /// Payload (data) bytes.
    pub payload: &'a [u8],
}

/// Which echo message to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EchoKind {
    /// Echo Request (ICMPv4 type 8, ICMPv6 type 128).
    Request,
    /// Echo Reply (ICMPv4 type 0, ICMPv6 type 129).
    Reply,
}

impl EchoKind {
    /// The ICMP type number of this message in `family`.
    pub fn icmp_type(self, family: Family) -> u8 {
        match (family, self) {
            (Family::V4, EchoKind::Request) => v4::ECHO_REQUEST,
            (Family::V4, EchoKind::Reply) => v4::ECHO_REPLY,
            (Family::V6, EchoKind::Request) => v6::ECHO_REQUEST,
            (Family::V6, EchoKind::Reply) => v6::ECHO_REPLY,
        }
    }
}

/// Reads the id and sequence of an echo request from its first bytes, without verifying
/// the checksum: what an error message quotes (or a socket's error queue returns) may be
/// cut short. `None` when the bytes are not an echo request of `family`.
pub fn parse_request_header(family: Family, bytes: &[u8]) -> Option<Echo<'_>> {
    let packet = IcmpPacket::new_checked(bytes).ok()?;
    if Kind::of(family, packet.msg_type()) != Kind::EchoRequest {
        return None;
    }
    Some(Echo {
        id: packet.echo_id(),
        sequence: packet.echo_sequence(),
        payload: &bytes[HEADER_LEN..],
    })
}

/// Appends an echo message to `out`: the same as emitting
/// [`Message::EchoRequest`](super::Message::EchoRequest) or
/// [`Message::EchoReply`](super::Message::EchoReply), without building one.
///
/// ICMPv4 messages get their checksum. ICMPv6 messages are left with a zero checksum,
/// which the kernel fills in on ICMPv6 sockets; code that writes packets itself can fill
/// it with [`IcmpPacket::fill_checksum_v6`].
///
/// ```
/// use icmplib::Family;
/// use icmplib::packet::{EchoKind, checksum, emit_echo};
///
/// let mut out = Vec::new();
/// emit_echo(Family::V4, EchoKind::Request, 0x1234, 1, b"ping", &mut out);
/// assert_eq!(&out[..2], &[8, 0]);
/// assert_eq!(checksum(&out), 0);
/// ```
pub fn emit_echo(
    family: Family,
    kind: EchoKind,
    id: u16,
    sequence: u16,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    let start = out.len();
    out.resize(start + HEADER_LEN, 0);
    out.extend_from_slice(payload);
    let mut packet = IcmpPacket::new_unchecked(&mut out[start..]);
    packet.set_msg_type(kind.icmp_type(family));
    packet.set_echo_id(id);
    packet.set_echo_sequence(sequence);
    if family == Family::V4 {
        packet.fill_checksum_v4();
    }
}
