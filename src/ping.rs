//! [`ping`] and [`async_ping`]: echo requests to one host, and its statistics, on the
//! process's default [`Pinger`].

use crate::error::Result;
use crate::host::Host;
use crate::options::PingOptions;
use crate::pinger::Pinger;
use crate::runtime::block_on;

/// Pings `address` (an IP address or a name) and returns its statistics, as
/// `icmplib.ping` does: `count` requests, each waiting for its reply up to `timeout`,
/// separated by `interval`.
///
/// An ICMP error for a request (Destination Unreachable, Time Exceeded) or a failed send
/// does not fail the call: it is kept in [`Host::error`] and the request counts as lost.
///
/// Runs on a small runtime of its own; call it from ordinary threads, not from async
/// code (use [`async_ping`] there).
///
/// ```no_run
/// use icmplib::{PingOptions, ping};
///
/// let host = ping("127.0.0.1", &PingOptions::default().count(2)).unwrap();
/// println!("{host}");
/// ```
///
/// # Errors
/// [`Error::InvalidOption`](crate::Error::InvalidOption) for a zero count or timeout, a
/// payload too large or a zero TTL; [`Error::NameLookup`](crate::Error::NameLookup) for a
/// name without an address; [`Error::SocketPermission`](crate::Error::SocketPermission) and
/// [`Error::SocketAddress`](crate::Error::SocketAddress) when the socket cannot be opened;
/// [`Error::Runtime`](crate::Error::Runtime) when called within a tokio runtime.
pub fn ping(address: &str, options: &PingOptions) -> Result<Host> {
    block_on("ping", async_ping(address, options))
}

/// The async form of [`ping`]. All pings of a runtime share one socket per family (and
/// privilege and source address), with one reader task routing replies to them.
///
/// ```no_run
/// # async fn run() -> icmplib::Result<()> {
/// use icmplib::{PingOptions, async_ping};
///
/// let host = async_ping("::1", &PingOptions::default().count(3)).await?;
/// assert!(host.is_alive());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// As [`ping`], [`Error::Runtime`](crate::Error::Runtime) outside a tokio runtime.
///
/// # Cancel safety
/// Cancel safe: dropping the future abandons the ping; its requests in flight are
/// forgotten and their late replies dropped.
pub async fn async_ping(address: &str, options: &PingOptions) -> Result<Host> {
    Pinger::shared().ping(address, options).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn blocking_ping_inside_a_runtime_is_an_error_not_a_panic() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let result = runtime.block_on(async { ping("127.0.0.1", &PingOptions::default()) });
        let Err(Error::Runtime { reason }) = result else {
            panic!("{result:?}")
        };
        assert!(reason.contains("async_ping"), "{reason}");
    }
}
