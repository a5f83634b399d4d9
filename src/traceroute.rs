//! [`traceroute`] and [`async_traceroute`]: the routers on the path to a host, found with
//! echo requests of growing TTL, privileged or not, one hop at a time or all at once, on
//! the process's default [`Pinger`].

use crate::error::Result;
use crate::host::Hop;
use crate::options::TracerouteOptions;
use crate::pinger::Pinger;
use crate::runtime::block_on;

/// Traces the route to `address` (an IP address or a name), as `icmplib.traceroute`
/// does: echo requests with TTL `first_hop`, `first_hop + 1`, ... up to `max_hops`, until
/// the host answers or a router reports it unreachable (that hop then carries the
/// [`Error::DestinationUnreachable`](crate::Error::DestinationUnreachable)). Hops that
/// never answered are left out; hops come sorted by distance.
///
/// Works unprivileged on Linux too (`privileged = false`): the Time Exceeded messages of
/// datagram sockets are read from the socket's error queue.
///
/// ```no_run
/// use icmplib::{TracerouteOptions, traceroute};
///
/// for hop in traceroute("127.0.0.1", &TracerouteOptions::default()).unwrap() {
///     println!("{hop}");
/// }
/// ```
///
/// # Errors
/// [`Error::InvalidOption`](crate::Error::InvalidOption) for invalid options (`first_hop`
/// 0, `max_hops` below it, a zero count or timeout);
/// [`Error::NameLookup`](crate::Error::NameLookup); socket errors
/// ([`Error::SocketPermission`](crate::Error::SocketPermission), a failed send);
/// [`Error::Runtime`](crate::Error::Runtime) within a tokio runtime.
pub fn traceroute(address: &str, options: &TracerouteOptions) -> Result<Vec<Hop>> {
    block_on("traceroute", async_traceroute(address, options))
}

/// The async form of [`traceroute`], on the runtime's shared sockets: any number of
/// traceroutes and pings run at once without taking each other's replies.
///
/// # Errors
/// As [`traceroute`], with [`Error::Runtime`](crate::Error::Runtime) outside a tokio
/// runtime.
///
/// # Cancel safety
/// Cancel safe: dropping the future abandons the trace; its probes in flight are
/// forgotten and their late answers dropped.
pub async fn async_traceroute(address: &str, options: &TracerouteOptions) -> Result<Vec<Hop>> {
    Pinger::shared().traceroute(address, options).await
}
