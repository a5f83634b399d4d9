//! Operating-system specifics behind one interface, which every backend provides in
//! full and `cfg` chooses here:
//!
//! - `open(family, privileged)`: an ICMP socket, raw or datagram, non-blocking, with
//!   kernel receive timestamps on (`SO_TIMESTAMPNS` / `SO_TIMESTAMP`), and on Linux an
//!   in-kernel type filter (raw) or the error queue (datagram, `IP_RECVERR`);
//! - `send_to`: one datagram (`sendmsg(2)`) with a per-packet TTL / hop limit and TOS /
//!   traffic class (from a socket of its own where the system has no per-packet option:
//!   `senders`); `fit_send_buffer`: room in `SO_SNDBUF` for a large request;
//! - `recv` / `recv_error_queue`: one datagram (`recvmsg(2)`) with its source, kernel
//!   timestamp, arrival TTL and TOS and, from the error queue (`MSG_ERRQUEUE`), the ICMP
//!   error the kernel attached to it; `RecvBatch`: many per call (`recvmmsg(2)` on Linux);
//! - `poll` / `poll_writable`: wait for a blocking socket (`poll(2)`, `WSAPoll`);
//!   `AsyncSocket`: the socket registered with tokio;
//! - `bind_interface`, `set_mark` (`SO_MARK`), `set_dont_fragment`, `route_mtu`,
//!   `set_recv_buffer_size`; `interface_index` / `interface_name` / `interface_exists`: zones;
//! - `keep_ids` / `keep_all_ids`: the in-kernel identifier filter of a raw socket
//!   (`SO_ATTACH_FILTER`, Linux; refused elsewhere);
//! - `is_out_of_files`, `is_too_big`, ...: what an error of the system means.
//!
//! The backends: `unix/` (Linux, macOS, FreeBSD: socket2 and libc; what only Linux has,
//! the type and identifier filters, the error queue and `recvmmsg`, in `unix/linux/`);
//! `windows/` (raw winsock sockets, and the ICMP helper API, `IcmpSendEcho2Ex` /
//! `Icmp6SendEcho2`, that the engine uses without privileges: `windows/icmp_api/`);
//! `other.rs` (any other system: sockets refused as unsupported). Beside them,
//! `fallback.rs` reads one datagram per call and sets no identifier filter, on every
//! system but Linux.
//!
//! The only `unsafe` code of the crate lives here, each block with its `// SAFETY:` note.
#![allow(unsafe_code)]

use std::io;
use std::net::IpAddr;
use std::time::SystemTime;

// Used by the Unix backend only; compiled (and its pool tested) everywhere.
#[cfg_attr(not(unix), allow(dead_code))]
mod senders;
pub(crate) use senders::Senders;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

// Declared everywhere for the unit tests of its pure parts (see `windows/mod.rs`).
pub(crate) mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

#[cfg(not(any(unix, windows)))]
mod other;
#[cfg(not(any(unix, windows)))]
pub(crate) use other::*;

// The options only Unix has, refused by Windows and any other system.
#[cfg(not(unix))]
mod refused;
#[cfg(not(unix))]
pub(crate) use refused::*;

// Batch reads and the identifier filter: Linux's are in `unix/linux/`.
#[cfg(not(target_os = "linux"))]
mod fallback;
#[cfg(not(target_os = "linux"))]
pub(crate) use fallback::{RecvBatch, keep_all_ids, keep_ids};

/// Datagram `index` of a batch's last read, with its slot of `slot` bytes in `buffers`
/// (its bytes are the first `datagram.len`).
fn datagram_in<'a>(
    datagrams: &'a [Datagram],
    buffers: &'a [u8],
    slot: usize,
    index: usize,
) -> (&'a Datagram, &'a [u8]) {
    let start = index * slot;
    (&datagrams[index], &buffers[start..start + slot])
}

/// Identifiers one filter keeps at most (an engine's own, its extra and the chosen ones
/// in use): 256, a program of about 270 instructions (the kernel takes 4,096).
pub(crate) const MAX_FILTER_IDS: usize = 256;

/// Refuses, for `keep_ids`, no identifier or more than [`MAX_FILTER_IDS`].
fn check_filter_ids(ids: &[u16]) -> io::Result<()> {
    if ids.is_empty() || ids.len() > MAX_FILTER_IDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an identifier filter keeps 1 to 256 identifiers",
        ));
    }
    Ok(())
}

/// One datagram read from a socket; its bytes are in the caller's buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Datagram {
    /// Bytes written to the buffer.
    pub len: usize,
    /// The datagram was longer than the buffer (`MSG_TRUNC`).
    pub truncated: bool,
    /// The sender's address (for the error queue: the destination of our request).
    pub source: Option<IpAddr>,
    /// The interface of a link-local IPv6 sender (its zone); 0 for none.
    pub source_scope: u32,
    /// Kernel receive timestamp (wall clock), when the OS gave one.
    pub timestamp: Option<SystemTime>,
    /// For a datagram read from the error queue: the ICMP error attached to it.
    pub queued_error: Option<QueuedError>,
    /// The TTL / hop limit the packet arrived with, when the system said (`IP_TTL`,
    /// `IPV6_HOPLIMIT` control messages; a raw IPv4 socket reads it from the header).
    pub ttl: Option<u8>,
    /// The TOS / traffic class it arrived with, when the system said (`IP_TOS`,
    /// `IPV6_TCLASS`).
    pub traffic_class: Option<u8>,
}

impl Datagram {
    /// A datagram of `len` bytes (`truncated` when it was longer) from `source` (with its
    /// scope), before its control messages are read.
    pub(crate) fn received(len: usize, truncated: bool, source: Option<(IpAddr, u32)>) -> Datagram {
        Datagram {
            len,
            truncated,
            source: source.map(|(address, _)| address),
            source_scope: source.map_or(0, |(_, scope)| scope),
            timestamp: None,
            queued_error: None,
            ttl: None,
            traffic_class: None,
        }
    }
}

/// An ICMP error the kernel queued on a datagram socket (Linux `IP_RECVERR`): the bytes
/// of the datagram are the start of the request that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueuedError {
    /// True when the error came from an ICMP / ICMPv6 message (not a local error).
    pub from_icmp: bool,
    /// ICMP type of the message.
    pub icmp_type: u8,
    /// ICMP code of the message.
    pub code: u8,
    /// The address that sent the message (a router, or the destination).
    pub offender: Option<IpAddr>,
    /// The message's extra field (`ee_info`): the MTU for Fragmentation Needed and
    /// Packet Too Big, 0 when there is none.
    pub info: u32,
}

/// What a blocking wait found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Readiness {
    /// Data can be read.
    pub readable: bool,
    /// The socket has a pending error (or something on its error queue).
    pub error: bool,
}
