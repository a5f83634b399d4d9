//! [`multiping`], [`async_multiping`] and [`multiping_stream`]: many hosts at once, with a
//! bound on the hosts in flight, on the process's default [`Pinger`].

use futures::Stream;

use crate::error::Result;
use crate::host::Host;
use crate::options::MultipingOptions;
use crate::pinger::Pinger;
use crate::runtime::block_on_sweep;

/// Pings many hosts (IP addresses or names) at once, at most
/// [`concurrent_tasks`](MultipingOptions::concurrent_tasks) in flight, and returns them
/// in the order given, as `icmplib.multiping` does.
///
/// A target that fails on its own (a name that does not resolve, a send error) comes back
/// not alive with the reason in [`Host::error`]; only a failure of the whole call is an
/// `Err`. Runs on a runtime of its own, with two worker threads when the machine has more
/// than one CPU (the replies are then read on one core while the requests leave from
/// another); from async code use [`async_multiping`].
///
/// ```no_run
/// use icmplib::{MultipingOptions, multiping};
///
/// let hosts = multiping(&["127.0.0.1", "::1", "localhost"], &MultipingOptions::default()).unwrap();
/// for host in hosts {
///     println!("{host}");
/// }
/// ```
///
/// # Errors
/// [`Error::InvalidOption`](crate::Error::InvalidOption) for invalid options;
/// [`Error::SocketPermission`](crate::Error::SocketPermission) and
/// [`Error::SocketAddress`](crate::Error::SocketAddress) when a socket cannot be opened;
/// [`Error::Runtime`](crate::Error::Runtime) within a tokio runtime.
pub fn multiping<S: AsRef<str>>(addresses: &[S], options: &MultipingOptions) -> Result<Vec<Host>> {
    block_on_sweep("multiping", async_multiping(addresses, options))
}

/// The async form of [`multiping`]: every request goes through the runtime's shared
/// sockets, one per family.
///
/// # Errors
/// As [`multiping`], with [`Error::Runtime`](crate::Error::Runtime) outside a tokio
/// runtime.
///
/// # Cancel safety
/// Cancel safe: dropping the future abandons the sweep; its requests in flight are
/// forgotten and their late replies dropped.
pub async fn async_multiping<S: AsRef<str>>(
    addresses: &[S],
    options: &MultipingOptions,
) -> Result<Vec<Host>> {
    Pinger::shared().multiping(addresses, options).await
}

/// Pings the targets of any iterator and yields each [`Host`] as it finishes (not in
/// input order), pulling targets only as room frees up: memory stays bounded by
/// [`concurrent_tasks`](MultipingOptions::concurrent_tasks), so a sweep of millions of
/// addresses never holds them all. Must be called within a tokio runtime.
///
/// ```no_run
/// # async fn run() -> icmplib::Result<()> {
/// use futures::StreamExt;
/// use icmplib::{MultipingOptions, multiping_stream};
///
/// // 127.1.0.1 to 127.1.255.254, produced lazily.
/// let targets = (1u32..65_535).map(|i| std::net::Ipv4Addr::from(0x7f01_0000 + i).to_string());
/// let options = MultipingOptions::default().count(1).concurrent_tasks(1_000);
/// let mut hosts = std::pin::pin!(multiping_stream(targets, &options)?);
/// let mut alive = 0;
/// while let Some(host) = hosts.next().await {
///     alive += usize::from(host.is_alive());
/// }
/// println!("{alive} hosts alive");
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// [`Error::InvalidOption`](crate::Error::InvalidOption) for invalid options;
/// [`Error::SocketPermission`](crate::Error::SocketPermission) or
/// [`Error::SocketAddress`](crate::Error::SocketAddress) when the socket cannot be opened;
/// [`Error::Runtime`](crate::Error::Runtime) outside a tokio runtime. Failures of single
/// targets are in their [`Host::error`].
pub fn multiping_stream<I>(
    targets: I,
    options: &MultipingOptions,
) -> Result<impl Stream<Item = Host> + Send + 'static>
where
    I: IntoIterator,
    I::Item: AsRef<str> + Send + 'static,
    I::IntoIter: Send + 'static,
{
    Pinger::shared().multiping_stream(targets, options)
}
