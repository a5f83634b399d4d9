//! Windows: raw winsock sockets (`privileged = true`, Administrator) for the low-level
//! sockets and the engine (`winsock`, `readiness`), and the ICMP helper API
//! (`icmp_api`) for unprivileged probes, which use no socket on Windows.
//!
//! What Windows cannot do, and how it shows:
//! - no datagram ICMP sockets (`SOCK_DGRAM` + ICMP is refused): an unprivileged
//!   low-level socket fails to open with an error that says to use `privileged = true`;
//! - no per-packet TTL or TOS: the TTL is set on the socket (`IP_TTL` /
//!   `IPV6_UNICAST_HOPS`) before each send that needs another one, under a lock, so that
//!   concurrent sends keep their own; the traffic class is refused before this layer;
//! - no kernel receive timestamps: replies are stamped when read;
//! - no error queue: ICMP errors arrive as packets on the raw socket, as on Linux.

// Declared everywhere: its pure parts (reading a reply buffer, the table of requests in
// flight) are unit-tested on every system; the rest is Windows only.
pub(crate) mod icmp_api;
#[cfg(windows)]
mod readiness;
#[cfg(windows)]
mod winsock;

#[cfg(windows)]
pub(crate) use readiness::{AsyncSocket, poll, poll_writable};
#[cfg(windows)]
pub(crate) use winsock::*;
