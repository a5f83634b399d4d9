//! The sans-IO ICMP codec: bytes in, typed messages out, and back. No sockets, no clocks.
//!
//! - [`checksum`] and [`icmpv6_checksum`]: the Internet checksum (RFC 1071) and the ICMPv6
//!   pseudo-header checksum.
//! - [`emit_echo`]: write an echo request or reply.
//! - [`Message::parse`]: read any ICMPv4 / ICMPv6 message; errors (Destination
//!   Unreachable, Time Exceeded, ...) come with the echo request they quote, found by
//!   reading the quoted IP header (its length taken from the packet, options allowed).
//! - [`Ipv4Header::parse`]: strip the IPv4 header that raw IPv4 sockets deliver.
//!
//! Parsing never panics, whatever the bytes: every length is checked before use, and a
//! property test runs the parsers over arbitrary input.
//!
//! ```
//! use icmplib::Family;
//! use icmplib::packet::{Body, Ipv4Header, Message};
//!
//! // An echo reply as a raw IPv4 socket receives it (captured with tcpdump on loopback).
//! let packet = [
//!     0x45, 0x00, 0x00, 0x24, 0x6a, 0x2d, 0x00, 0x00, 0x40, 0x01, 0x12, 0xaa,
//!     0x7f, 0x00, 0x00, 0x01, 0x7f, 0x00, 0x00, 0x01, // IPv4 header
//!     0x00, 0x00, 0xae, 0xca, 0x10, 0x34, 0x00, 0x01, // ICMP echo reply header
//!     0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // payload
//! ];
//! let (ip, icmp) = Ipv4Header::parse(&packet).unwrap();
//! assert_eq!(ip.source.to_string(), "127.0.0.1");
//! let message = Message::parse(Family::V4, icmp).unwrap();
//! assert!(matches!(message.body, Body::EchoReply(echo) if echo.id == 0x1034 && echo.sequence == 1));
//! ```

mod checksum;
mod icmp;
mod ip;

pub use checksum::{checksum, icmpv6_checksum};
pub use icmp::{
    Body, Echo, EchoKind, HEADER_LEN, Kind, Message, Original, emit_echo, is_packet_too_big,
    parse_request_header, v4, v6,
};
pub use ip::{IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN, Ipv4Header, Ipv6Header};

/// IP protocol number of ICMP.
pub const IPPROTO_ICMP: u8 = 1;
/// IP protocol number (next header) of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;

/// Why bytes could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Fewer bytes than the headers need.
    #[error("truncated packet")]
    Truncated,
    /// The checksum does not match the bytes.
    #[error("bad checksum")]
    Checksum,
    /// A field holds a value that cannot be right.
    #[error("malformed packet: {0}")]
    Malformed(&'static str),
}

#[cfg(test)]
mod tests;
