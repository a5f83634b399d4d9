//! Low-level ICMP sockets: [`IcmpV4Socket`] and [`IcmpV6Socket`] (blocking) and
//! [`AsyncIcmpSocket`] (tokio), with the [`IcmpRequest`] they send and the [`IcmpReply`]
//! they receive.
//!
//! Each comes in two kinds:
//! - **privileged** (`SOCK_RAW`): needs root or `CAP_NET_RAW`; sees every ICMP message
//!   for the host and matches replies by address, identifier and sequence number.
//! - **unprivileged** (`SOCK_DGRAM`, a "ping socket", Linux and macOS): needs the
//!   process's group in `net.ipv4.ping_group_range` on Linux; the kernel picks the
//!   identifier and delivers only this socket's replies, and ICMP errors arrive on the
//!   socket's error queue (`IP_RECVERR` / `IPV6_RECVERR`), which is read for you.

mod async_socket;
mod blocking;
mod kind;
mod reply;
mod request;
pub(crate) mod sys;

pub(crate) use sys::RecvBatch;

use std::time::{Duration, Instant};

pub use async_socket::AsyncIcmpSocket;
pub(crate) use async_socket::Drained;
pub use blocking::{IcmpV4Socket, IcmpV6Socket};
pub(crate) use kind::{Received, SocketKind};
pub use reply::IcmpReply;
pub use request::{DEFAULT_PAYLOAD_SIZE, DEFAULT_TTL, IcmpRequest};
pub(crate) use request::{check_payload_size, random_payload};

use crate::{Error, Result};

/// What a wait too long to add to the clock is cut to: a year.
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// `wait` after `start`: a deadline, or when a wait is due. A wait too long for the clock
/// (`Duration::MAX`) lasts as good as forever instead of overflowing.
pub(crate) fn later(start: Instant, wait: Duration) -> Instant {
    start.checked_add(wait).unwrap_or_else(|| start + FOREVER)
}

/// Rejects a zero timeout with a clear error.
pub(crate) fn check_timeout(timeout: Duration) -> Result<()> {
    if timeout.is_zero() {
        return Err(Error::invalid("timeout must be greater than zero"));
    }
    Ok(())
}
