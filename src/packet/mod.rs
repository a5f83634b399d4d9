//! The sans-IO ICMP codec: bytes in, typed messages out, and back. No sockets, no clocks.
//!
//! Built like smoltcp's wire module: for each header a *view* over a byte buffer
//! ([`Ipv4Packet`], [`Ipv6Packet`], [`IcmpPacket`]) whose `new_checked` makes sure every
//! field is there before any accessor reads it, and a *representation* with the fields as
//! values that parses from bytes and emits them back ([`Ipv4Header`], [`Ipv6Header`],
//! [`Message`]); `parse(emit(x)) == x` for each, a property test checks it.
//!
//! - [`checksum`] and [`icmpv6_checksum`]: the Internet checksum (RFC 1071) and the ICMPv6
//!   pseudo-header checksum.
//! - [`Message`]: any ICMPv4 / ICMPv6 message, parsed or emitted: echo request and reply,
//!   Destination Unreachable, Time Exceeded, Packet Too Big / Fragmentation Needed, other
//!   errors. Errors carry the datagram they quote as a [`Quote`], its length read from the
//!   quoted IP header (options allowed) and any RFC 4884 extension structure (MPLS labels,
//!   ...) kept apart; [`Quote::request`] finds the echo request in it.
//! - [`emit_echo`]: write an echo request or reply without building a [`Message`].
//! - [`Ipv4Header`] / [`Ipv6Header`]: the IP headers that raw IPv4 sockets deliver, that
//!   errors quote and that a TUN device reads and writes.
//! - [`split_stripped_quote`]: the quote a datagram socket's error queue returns.
//!
//! Parsing never panics, whatever the bytes: every length is checked before use, and a
//! property test runs the parsers over arbitrary input.
//!
//! ```
//! use icmplib::Family;
//! use icmplib::packet::{Ipv4Header, Message};
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
//! assert!(matches!(message, Message::EchoReply(echo) if echo.id == 0x1034 && echo.sequence == 1));
//! ```

mod checksum;
mod echo;
mod extension;
mod icmp;
mod ipv4;
mod ipv6;
mod message;
mod quote;

pub use checksum::{FLOW_BYTES, checksum, icmpv6_checksum, keep_flow_sum};
pub use echo::{Echo, EchoKind, emit_echo, parse_request_header};
pub use extension::{
    ExtensionObject, ExtensionObjects, MPLS_CLASS, MPLS_INCOMING_STACK, MplsLabel, parse_extensions,
};
pub use icmp::{HEADER_LEN, IcmpPacket, Kind, is_packet_too_big, v4, v6};
pub use ipv4::{IPV4_MAX_HEADER_LEN, IPV4_MIN_HEADER_LEN, Ipv4Header, Ipv4Packet};
pub use ipv6::{IPV6_HEADER_LEN, Ipv6Header, Ipv6Packet, UpperLayer};
pub use message::Message;
pub use quote::{
    Original, Quote, QuoteLayout, RFC4884_MIN_QUOTE, is_extension_structure, split_stripped_quote,
};

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
#[cfg(test)]
mod tests_rfc4884;
