//! What Windows' ICMP helper API writes into a reply buffer, read without `unsafe`: pure
//! code, compiled and unit-tested on every system, used by the Windows backend.
//!
//! - IPv4 (`IcmpSendEcho2Ex`, after `IcmpParseReplies`): an `ICMP_ECHO_REPLY` — or, as
//!   Microsoft documents for 64-bit callers, an `ICMP_ECHO_REPLY32` — then the reply's IP
//!   options, then its data. Wine 8 writes the 64-bit form. The form is told by the data
//!   pointer, which points into the buffer in exactly one of the two readings.
//! - IPv6 (`Icmp6SendEcho2`, after `Icmp6ParseReplies`): an `ICMPV6_ECHO_REPLY` (a packed
//!   `IPV6_ADDRESS_EX`, the status and the round-trip time), then the data.
//!
//! The status (`IP_STATUS`) says what came back: [`Outcome`].
// Used by the Windows backend only; compiled everywhere for its tests.
#![cfg_attr(not(windows), allow(dead_code))]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use crate::family::Family;
use crate::packet::{v4, v6};

/// `ICMP_ECHO_REPLY` on a 64-bit system: address, status, round-trip time, data size,
/// reserved, data pointer (8), options (ttl, tos, flags, size, padding, pointer).
const V4_REPLY_64: usize = 40;
/// `ICMP_ECHO_REPLY32`: as above with 32-bit pointers.
const V4_REPLY_32: usize = 28;
/// `ICMPV6_ECHO_REPLY`: `IPV6_ADDRESS_EX` (26 bytes, packed), padding, status, time.
pub(crate) const V6_REPLY: usize = 36;
/// Room the API asks for beyond the reply structure and the data: 8 bytes for an ICMP
/// error's header and an `IO_STATUS_BLOCK` (16 bytes on 64-bit systems).
const REPLY_SLACK: usize = 8 + 16;
/// IPv4 options a reply may carry (at most 40 bytes).
const MAX_OPTIONS: usize = 40;

/// The size of a reply buffer for a request with `payload_len` bytes of data.
pub(crate) fn reply_buffer_len(family: Family, payload_len: usize) -> usize {
    let header = match family {
        Family::V4 => V4_REPLY_64 + MAX_OPTIONS,
        Family::V6 => V6_REPLY,
    };
    // An ICMP error quotes at most 576 (IPv4) or 1,280 (IPv6) bytes: the data of an error
    // reply is never longer than the request's.
    header + payload_len + REPLY_SLACK
}

/// One reply read from a reply buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiReply {
    /// Who answered: the host, or the router that reported an error.
    pub address: IpAddr,
    /// The `IP_STATUS` of the request.
    pub status: u32,
    /// Where the reply's data lies in the buffer.
    pub data: Range<usize>,
    /// The reply's TTL, when the system gave one (the IPv4 reply's options; 0, as Wine
    /// writes without privileges, is none). IPv6 replies carry none.
    pub ttl: Option<u8>,
    /// The reply's TOS, under the same rule.
    pub tos: Option<u8>,
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(buf.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(buf.get(at..at + 8)?.try_into().ok()?))
}

/// Reads the IPv4 reply at the start of `buf`, a buffer that lies at address `base` in
/// memory (the data pointer is an address). `None` when the buffer holds no consistent
/// reply.
pub(crate) fn parse_v4(buf: &[u8], base: u64) -> Option<ApiReply> {
    let address = IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(buf.get(0..4)?).ok()?));
    let status = u32_at(buf, 4)?;
    let size = usize::from(u16_at(buf, 12)?);
    let fits = |offset: u64, header: usize| {
        let offset = usize::try_from(offset).ok()?;
        (offset >= header && offset.checked_add(size)? <= buf.len())
            .then_some(offset..offset + size)
    };
    // The 64-bit form: an 8-byte pointer at 16, past the 40-byte structure, then the
    // options (TTL, TOS, ...) at 24.
    let (data, options) = u64_at(buf, 16)
        .and_then(|pointer| fits(pointer.wrapping_sub(base), V4_REPLY_64))
        .map(|data| (data, 24))
        // The 32-bit form: a 4-byte pointer at 16 (the low half of the address), the
        // options at 20.
        .or_else(|| {
            let pointer = u32_at(buf, 16)?;
            let low = base as u32;
            fits(u64::from(pointer.wrapping_sub(low)), V4_REPLY_32).map(|data| (data, 20))
        })
        .or_else(|| (size == 0).then_some((0..0, 24)))?;
    let ttl = buf.get(options).copied().filter(|ttl| *ttl != 0);
    let tos = ttl.and(buf.get(options + 1).copied());
    if status == status::SUCCESS && address.is_unspecified() {
        // A buffer the system never wrote: no reply.
        return None;
    }
    Some(ApiReply {
        address,
        status,
        data,
        ttl,
        tos,
    })
}

/// Reads the IPv6 reply at the start of `buf`, the part of the buffer the system wrote
/// (the structure has no data size: the data runs to the end).
pub(crate) fn parse_v6(buf: &[u8]) -> Option<ApiReply> {
    // IPV6_ADDRESS_EX: port (2), flow info (4), address (8 × u16 in network order), scope.
    let octets: [u8; 16] = buf.get(6..22)?.try_into().ok()?;
    let status = u32_at(buf, 28)?;
    let address = Ipv6Addr::from(octets);
    if status == status::SUCCESS && address.is_unspecified() {
        return None;
    }
    Some(ApiReply {
        address: IpAddr::V6(address),
        status,
        data: V6_REPLY.min(buf.len())..buf.len(),
        ttl: None,
        tos: None,
    })
}

/// `IP_STATUS` values (ipexport.h) this crate tells apart.
pub(crate) mod status {
    pub const SUCCESS: u32 = 0;
    pub const DEST_NET_UNREACHABLE: u32 = 11002;
    pub const DEST_HOST_UNREACHABLE: u32 = 11003;
    pub const DEST_PROT_UNREACHABLE: u32 = 11004;
    pub const DEST_PORT_UNREACHABLE: u32 = 11005;
    pub const PACKET_TOO_BIG: u32 = 11009;
    pub const REQ_TIMED_OUT: u32 = 11010;
    pub const TTL_EXPIRED_TRANSIT: u32 = 11013;
    pub const TTL_EXPIRED_REASSEM: u32 = 11014;
    pub const PARAM_PROBLEM: u32 = 11015;
    pub const SOURCE_QUENCH: u32 = 11016;
    /// IPv6: the destination is beyond the scope of the source address.
    pub const DEST_SCOPE_MISMATCH: u32 = 11045;
}

/// What a request's status says came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// An ICMP message of this type and code answered the request: an echo reply, or
    /// an error from a router or the host.
    Message { icmp_type: u8, code: u8 },
    /// Nothing came back in time (the request's own timeout): not an answer.
    TimedOut,
    /// Advice, not an answer (Source Quench): the request may still be answered.
    Advice,
    /// The request failed on this machine (no route, buffer too small, general failure):
    /// nothing was, or will be, received for it.
    Failed,
}

/// The meaning of `status` for a request of `family`.
pub(crate) fn outcome(family: Family, code: u32) -> Outcome {
    use status::*;
    let message = |icmp_type, code| Outcome::Message { icmp_type, code };
    match (family, code) {
        (Family::V4, SUCCESS) => message(v4::ECHO_REPLY, 0),
        (Family::V6, SUCCESS) => message(v6::ECHO_REPLY, 0),
        (_, REQ_TIMED_OUT) => Outcome::TimedOut,
        (Family::V4, SOURCE_QUENCH) => Outcome::Advice,
        (Family::V4, DEST_NET_UNREACHABLE) => message(v4::DESTINATION_UNREACHABLE, 0),
        (Family::V4, DEST_HOST_UNREACHABLE) => message(v4::DESTINATION_UNREACHABLE, 1),
        (Family::V4, DEST_PROT_UNREACHABLE) => message(v4::DESTINATION_UNREACHABLE, 2),
        (Family::V4, DEST_PORT_UNREACHABLE) => message(v4::DESTINATION_UNREACHABLE, 3),
        (Family::V4, PACKET_TOO_BIG) => message(v4::DESTINATION_UNREACHABLE, 4),
        (Family::V4, TTL_EXPIRED_TRANSIT) => message(v4::TIME_EXCEEDED, 0),
        (Family::V4, TTL_EXPIRED_REASSEM) => message(v4::TIME_EXCEEDED, 1),
        (Family::V4, PARAM_PROBLEM) => message(v4::PARAMETER_PROBLEM, 0),
        // IPv6 reuses the numbers: 11002 no route, 11003 address unreachable, 11004
        // administratively prohibited, 11005 port unreachable, 11013 hop limit exceeded.
        (Family::V6, DEST_NET_UNREACHABLE) => message(v6::DESTINATION_UNREACHABLE, 0),
        (Family::V6, DEST_PROT_UNREACHABLE) => message(v6::DESTINATION_UNREACHABLE, 1),
        (Family::V6, DEST_SCOPE_MISMATCH) => message(v6::DESTINATION_UNREACHABLE, 2),
        (Family::V6, DEST_HOST_UNREACHABLE) => message(v6::DESTINATION_UNREACHABLE, 3),
        (Family::V6, DEST_PORT_UNREACHABLE) => message(v6::DESTINATION_UNREACHABLE, 4),
        (Family::V6, PACKET_TOO_BIG) => message(v6::PACKET_TOO_BIG, 0),
        (Family::V6, TTL_EXPIRED_TRANSIT) => message(v6::TIME_EXCEEDED, 0),
        (Family::V6, TTL_EXPIRED_REASSEM) => message(v6::TIME_EXCEEDED, 1),
        (Family::V6, PARAM_PROBLEM) => message(v6::PARAMETER_PROBLEM, 0),
        _ => Outcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u64 = 0x0000_7ff0_1234_5000;

    /// A 64-bit `ICMP_ECHO_REPLY` as Wine 8 writes it, with `data` after it.
    fn reply_64(address: [u8; 4], status: u32, data: &[u8]) -> Vec<u8> {
        let mut buf = vec![0; V4_REPLY_64];
        buf[0..4].copy_from_slice(&address);
        buf[4..8].copy_from_slice(&status.to_le_bytes());
        buf[8..12].copy_from_slice(&1u32.to_le_bytes());
        buf[12..14].copy_from_slice(&(data.len() as u16).to_le_bytes());
        buf[16..24].copy_from_slice(&(BASE + V4_REPLY_64 as u64).to_le_bytes());
        buf[24] = 64;
        buf[32..40].copy_from_slice(&(BASE + V4_REPLY_64 as u64).to_le_bytes());
        buf.extend_from_slice(data);
        buf.extend_from_slice(&[0; REPLY_SLACK]);
        buf
    }

    /// An `ICMP_ECHO_REPLY32` with `options` bytes of IP options, as Windows documents
    /// for 64-bit callers.
    fn reply_32(address: [u8; 4], status: u32, options: usize, data: &[u8]) -> Vec<u8> {
        let offset = V4_REPLY_32 + options.next_multiple_of(4);
        let mut buf = vec![0; offset];
        buf[0..4].copy_from_slice(&address);
        buf[4..8].copy_from_slice(&status.to_le_bytes());
        buf[12..14].copy_from_slice(&(data.len() as u16).to_le_bytes());
        buf[16..20].copy_from_slice(&((BASE as u32).wrapping_add(offset as u32)).to_le_bytes());
        buf[20] = 57;
        buf[23] = options as u8;
        buf.extend_from_slice(data);
        buf.extend_from_slice(&[0; REPLY_SLACK]);
        buf
    }

    #[test]
    fn a_64_bit_reply_gives_its_address_status_and_data() {
        let buf = reply_64([127, 0, 0, 1], 0, b"abcdefgh");
        let reply = parse_v4(&buf, BASE).unwrap();
        assert_eq!(reply.address, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(reply.status, 0);
        assert_eq!(reply.ttl, Some(64));
        assert_eq!(&buf[reply.data], b"abcdefgh");
    }

    #[test]
    fn a_32_bit_reply_is_read_through_its_short_pointer() {
        for options in [0, 3, 8, 40] {
            let buf = reply_32([192, 0, 2, 9], status::TTL_EXPIRED_TRANSIT, options, b"xyz");
            let reply = parse_v4(&buf, BASE).unwrap();
            assert_eq!(reply.address, IpAddr::from([192, 0, 2, 9]));
            assert_eq!(reply.status, status::TTL_EXPIRED_TRANSIT);
            assert_eq!(reply.ttl, Some(57));
            assert_eq!(&buf[reply.data], b"xyz", "{options} bytes of options");
        }
    }

    #[test]
    fn data_pointing_outside_the_buffer_is_no_reply() {
        let mut buf = reply_64([127, 0, 0, 1], 0, b"abcdefgh");
        buf[12..14].copy_from_slice(&4000u16.to_le_bytes());
        assert_eq!(parse_v4(&buf, BASE), None);
        let buf = reply_64([127, 0, 0, 1], 0, b"abcdefgh");
        assert_eq!(parse_v4(&buf, BASE + 4096), None);
        assert_eq!(parse_v4(&buf[..10], BASE), None);
    }

    #[test]
    fn a_buffer_the_system_never_wrote_is_no_reply() {
        let zeroes = vec![0; 200];
        assert_eq!(parse_v4(&zeroes, BASE), None);
        assert_eq!(parse_v6(&zeroes), None);
    }

    #[test]
    fn an_error_without_data_is_read() {
        let buf = reply_64([10, 9, 8, 7], status::DEST_HOST_UNREACHABLE, b"");
        let reply = parse_v4(&buf, 0).unwrap();
        assert_eq!(reply.status, status::DEST_HOST_UNREACHABLE);
        assert!(reply.data.is_empty());
    }

    #[test]
    fn an_ipv6_reply_gives_its_address_and_data() {
        let address: Ipv6Addr = "2001:db8::42".parse().unwrap();
        let mut buf = vec![0; V6_REPLY];
        buf[6..22].copy_from_slice(&address.octets());
        buf[22..26].copy_from_slice(&3u32.to_le_bytes());
        buf[28..32].copy_from_slice(&status::TTL_EXPIRED_TRANSIT.to_le_bytes());
        buf.extend_from_slice(b"payload");
        let reply = parse_v6(&buf).unwrap();
        assert_eq!(reply.address, IpAddr::V6(address));
        assert_eq!(reply.status, status::TTL_EXPIRED_TRANSIT);
        assert_eq!(&buf[reply.data], b"payload");
        assert_eq!(parse_v6(&buf[..30]), None);
    }

    #[test]
    fn statuses_map_onto_icmp_messages() {
        let message = |icmp_type, code| Outcome::Message { icmp_type, code };
        assert_eq!(outcome(Family::V4, 0), message(0, 0));
        assert_eq!(outcome(Family::V6, 0), message(129, 0));
        assert_eq!(
            outcome(Family::V4, status::TTL_EXPIRED_TRANSIT),
            message(11, 0)
        );
        assert_eq!(
            outcome(Family::V6, status::TTL_EXPIRED_TRANSIT),
            message(3, 0)
        );
        assert_eq!(
            outcome(Family::V4, status::DEST_HOST_UNREACHABLE),
            message(3, 1)
        );
        assert_eq!(
            outcome(Family::V6, status::DEST_HOST_UNREACHABLE),
            message(1, 3)
        );
        assert_eq!(outcome(Family::V6, status::PACKET_TOO_BIG), message(2, 0));
        assert_eq!(
            outcome(Family::V4, status::REQ_TIMED_OUT),
            Outcome::TimedOut
        );
        assert_eq!(outcome(Family::V4, status::SOURCE_QUENCH), Outcome::Advice);
        assert_eq!(outcome(Family::V4, 11001), Outcome::Failed);
        assert_eq!(outcome(Family::V4, 11050), Outcome::Failed);
    }

    proptest::proptest! {
        /// No buffer makes the parsers panic, and what they return lies in the buffer.
        #[test]
        fn any_buffer_parses_without_panic(
            buf in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            base: u64,
        ) {
            if let Some(reply) = parse_v4(&buf, base) {
                proptest::prop_assert!(reply.data.end <= buf.len());
            }
            if let Some(reply) = parse_v6(&buf) {
                proptest::prop_assert!(reply.data.end <= buf.len());
            }
        }
    }
}
