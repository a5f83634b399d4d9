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

pub(crate) mod address;
pub(crate) mod async_socket;
pub(crate) mod blocking;
pub(crate) mod core;
pub(crate) mod dont_fragment;
pub(crate) mod kind;
pub(crate) mod limits;
pub(crate) mod received;
pub(crate) mod reply;
pub(crate) mod request;
pub(crate) mod sys;

use std::time::Duration;

use crate::error::{Error, Result};

/// Rejects a zero timeout with a clear error.
pub(crate) fn check_timeout(timeout: Duration) -> Result<()> {
    if timeout.is_zero() {
        return Err(Error::invalid("timeout must be greater than zero"));
    }
    Ok(())
}
