//! [`multiping`], [`async_multiping`] and [`multiping_stream`]: many hosts at once, with a
//! bound on the hosts in flight, all on the runtime's shared sockets.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};

use crate::context::Context;
use crate::pacer::Pacer;
use crate::ping::{Requests, check_source_family};
use crate::runtime::block_on_sweep;
use crate::socket::{DEFAULT_PAYLOAD_SIZE, DEFAULT_TTL};
use crate::sweep::{Plan, Sweep};
use crate::{Error, Family, Host, Result};

/// Options of [`multiping`], [`async_multiping`] and [`multiping_stream`], with the
/// defaults of the Python library.
///
/// ```
/// use std::time::Duration;
/// use icmplib::MultipingOptions;
///
/// let options = MultipingOptions::default()
///     .count(1)
///     .timeout(Duration::from_secs(1))
///     .concurrent_tasks(1_000)
///     .rate_limit(20_000);
/// assert_eq!(options.interval, Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MultipingOptions {
    /// Requests per host (default 2). Must be at least 1.
    pub count: usize,
    /// Pause between a reply (or its timeout) and the next request to the same host
    /// (default 0.5 s).
    pub interval: Duration,
    /// How long to wait for each reply, from the moment its request left (default 2 s).
    pub timeout: Duration,
    /// Hosts in flight at once (default 50). Memory grows with this, not with the number
    /// of hosts.
    pub concurrent_tasks: usize,
    /// Local address to send from (default: the system chooses).
    pub source: Option<IpAddr>,
    /// For names: `None` (default) tries IPv4 then IPv6; or force one family.
    pub family: Option<Family>,
    /// Raw sockets (`true`, default) or unprivileged datagram sockets.
    pub privileged: bool,
    /// A fixed payload; `None` (default) sends `payload_size` random bytes per request.
    pub payload: Option<Vec<u8>>,
    /// Size of the random payload (default 56).
    pub payload_size: usize,
    /// IPv4 type of service / IPv6 traffic class (default 0).
    pub traffic_class: u8,
    /// Time to live / hop limit of the requests (default 64).
    pub ttl: u8,
    /// At most this many requests per second for the whole call (default: no limit), for
    /// networks that must not see bursts.
    pub rate_limit: Option<u32>,
}

impl Default for MultipingOptions {
    fn default() -> MultipingOptions {
        MultipingOptions {
            count: 2,
            interval: Duration::from_millis(500),
            timeout: Duration::from_secs(2),
            concurrent_tasks: 50,
            source: None,
            family: None,
            privileged: true,
            payload: None,
            payload_size: DEFAULT_PAYLOAD_SIZE,
            traffic_class: 0,
            ttl: DEFAULT_TTL,
            rate_limit: None,
        }
    }
}

crate::ping::setters!(MultipingOptions {
    /// Sets [`MultipingOptions::count`].
    count: usize,
    /// Sets [`MultipingOptions::interval`].
    interval: Duration,
    /// Sets [`MultipingOptions::timeout`].
    timeout: Duration,
    /// Sets [`MultipingOptions::concurrent_tasks`].
    concurrent_tasks: usize,
    /// Sets [`MultipingOptions::source`].
    source: IpAddr,
    /// Sets [`MultipingOptions::family`].
    family: Family,
    /// Sets [`MultipingOptions::privileged`].
    privileged: bool,
    /// Sets [`MultipingOptions::payload`].
    payload: Vec<u8>,
    /// Sets [`MultipingOptions::payload_size`].
    payload_size: usize,
    /// Sets [`MultipingOptions::traffic_class`].
    traffic_class: u8,
    /// Sets [`MultipingOptions::ttl`].
    ttl: u8,
    /// Sets [`MultipingOptions::rate_limit`].
    rate_limit: u32,
});

impl MultipingOptions {
    pub(crate) fn plan(&self) -> Result<Plan> {
        if self.concurrent_tasks == 0 {
            return Err(Error::invalid("concurrent_tasks must be at least 1"));
        }
        if self.rate_limit == Some(0) {
            return Err(Error::invalid(
                "rate_limit must be at least 1 request per second",
            ));
        }
        check_source_family(self.source, self.family)?;
        let requests = Requests {
            count: self.count,
            interval: self.interval,
            timeout: self.timeout,
            id: None,
            payload: self.payload.clone().map(Arc::from),
            payload_size: self.payload_size,
            ttl: self.ttl,
            traffic_class: self.traffic_class,
            pacer: self
                .rate_limit
                .map(|rate| Arc::new(Pacer::per_second(rate))),
        }
        .check()?;
        Ok(Plan {
            requests,
            family: self.family,
            concurrency: self.concurrent_tasks,
        })
    }
}

/// A sweep of `targets` as a stream of hosts (see [`multiping_stream`]).
pub(crate) fn stream_with<I>(
    context: Context,
    targets: I,
    options: &MultipingOptions,
) -> Result<impl Stream<Item = Host> + Send + 'static>
where
    I: IntoIterator,
    I::Item: AsRef<str> + Send + 'static,
    I::IntoIter: Send + 'static,
{
    let plan = Arc::new(options.plan()?);
    // Open the socket of the likely family now, so that a permission problem is the
    // call's error rather than every host's.
    let family = options.family.or(context.source().as_ref().map(Family::of));
    if let Err(error) = context.engine(family.unwrap_or(Family::V4))
        && error.fails_the_call()
    {
        return Err(error);
    }
    Ok(Sweep::new(context, targets.into_iter(), plan).map(|(_, outcome)| outcome.host))
}

/// A sweep of `addresses`, collected in input order (see [`async_multiping`]).
pub(crate) async fn multiping_with<S: AsRef<str>>(
    context: Context,
    addresses: &[S],
    options: &MultipingOptions,
) -> Result<Vec<Host>> {
    let plan = Arc::new(options.plan()?);
    let mut hosts = Vec::with_capacity(addresses.len());
    let mut results = Sweep::new(context, addresses.iter(), plan);
    while let Some((index, outcome)) = results.next().await {
        if let Some(error) = outcome.fatal {
            return Err(error);
        }
        hosts.push((index, outcome.host));
    }
    hosts.sort_unstable_by_key(|(index, _)| *index);
    Ok(hosts.into_iter().map(|(_, host)| host).collect())
}

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
/// [`Error::InvalidOption`] for invalid options; [`Error::SocketPermission`] and
/// [`Error::SocketAddress`] when a socket cannot be opened; [`Error::Runtime`] within a
/// tokio runtime.
pub fn multiping<S: AsRef<str>>(addresses: &[S], options: &MultipingOptions) -> Result<Vec<Host>> {
    block_on_sweep("multiping", async_multiping(addresses, options))
}

/// The async form of [`multiping`]: every request goes through the runtime's shared
/// sockets, one per family.
///
/// # Errors
/// As [`multiping`], with [`Error::Runtime`] outside a tokio runtime.
///
/// # Cancel safety
/// Cancel safe: dropping the future abandons the sweep; its requests in flight are
/// forgotten and their late replies dropped.
pub async fn async_multiping<S: AsRef<str>>(
    addresses: &[S],
    options: &MultipingOptions,
) -> Result<Vec<Host>> {
    multiping_with(
        Context::new(options.privileged, options.source),
        addresses,
        options,
    )
    .await
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
/// [`Error::InvalidOption`] for invalid options; [`Error::SocketPermission`] or
/// [`Error::SocketAddress`] when the socket cannot be opened; [`Error::Runtime`] outside
/// a tokio runtime. Failures of single targets are in their [`Host::error`].
pub fn multiping_stream<I>(
    targets: I,
    options: &MultipingOptions,
) -> Result<impl Stream<Item = Host> + Send + 'static>
where
    I: IntoIterator,
    I::Item: AsRef<str> + Send + 'static,
    I::IntoIter: Send + 'static,
{
    stream_with(
        Context::new(options.privileged, options.source),
        targets,
        options,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_options_are_refused() {
        let invalid =
            |options: MultipingOptions| matches!(options.plan(), Err(Error::InvalidOption { .. }));
        assert!(invalid(MultipingOptions::default().concurrent_tasks(0)));
        assert!(invalid(MultipingOptions::default().count(0)));
        assert!(invalid(MultipingOptions::default().timeout(Duration::ZERO)));
        assert!(invalid(MultipingOptions::default().rate_limit(0)));
        assert!(MultipingOptions::default().rate_limit(1).plan().is_ok());
    }
}
