//! Echo requests, the room of `ping` and `multiping`: the free functions ([`ping`],
//! [`async_ping`], [`multiping`], [`async_multiping`], [`multiping_stream`]) on the
//! process's default [`Pinger`], the same calls as its methods, their options
//! ([`PingOptions`], [`MultipingOptions`]), the job that probes one host (`job.rs`) and
//! the sweeps over several sockets (`sharded.rs`).

mod job;
mod options;
mod sharded;

use std::future::Future;

use futures::{Stream, StreamExt};

use crate::error::Result;
use crate::host::Host;
use crate::pinger::{Call, Pinger, Plan, Probing, only};
use crate::runtime::{block_on, block_on_sweep};
use crate::scheduler::{Failed, Finished};
use crate::target::Target;
pub(crate) use job::EchoJob;
pub use options::{MultipingOptions, PingOptions};

/// Pings `target` (an IP address or a name: see [`Target`]) and returns its statistics, as
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
pub fn ping(target: impl Into<Target>, options: &PingOptions) -> Result<Host> {
    block_on("ping", async_ping(target, options))
}

/// The async form of [`ping`]. All pings of a runtime share one socket per family (and
/// socket kind and source address), with one reader task routing replies to them.
///
/// The future owns what it needs (`'static`): it can be spawned.
///
/// ```no_run
/// # async fn run() -> icmplib::Result<()> {
/// use std::net::Ipv6Addr;
///
/// use icmplib::{PingOptions, async_ping};
///
/// let options = PingOptions::default().count(3);
/// let host = async_ping("::1", &options).await?;
/// assert!(host.is_alive());
/// let task = tokio::spawn(async_ping(Ipv6Addr::LOCALHOST, &options));
/// println!("{}", task.await.expect("the task")?);
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
pub fn async_ping(
    target: impl Into<Target>,
    options: &PingOptions,
) -> impl Future<Output = Result<Host>> + Send + 'static {
    Pinger::shared().ping(target, options)
}

/// Pings many hosts (IP addresses or names: any list of [`Target`]s) at once, at most
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
pub fn multiping<T: Into<Target>>(
    targets: impl IntoIterator<Item = T>,
    options: &MultipingOptions,
) -> Result<Vec<Host>> {
    block_on_sweep("multiping", async_multiping(targets, options))
}

/// The async form of [`multiping`]: every request goes through the runtime's shared
/// sockets, one per family. The future owns what it needs (`'static`): it can be spawned.
///
/// # Errors
/// As [`multiping`], with [`Error::Runtime`](crate::Error::Runtime) outside a tokio
/// runtime.
///
/// # Cancel safety
/// Cancel safe: dropping the future abandons the sweep; its requests in flight are
/// forgotten and their late replies dropped.
pub fn async_multiping<T: Into<Target>>(
    targets: impl IntoIterator<Item = T>,
    options: &MultipingOptions,
) -> impl Future<Output = Result<Vec<Host>>> + Send + 'static {
    Pinger::shared().multiping(targets, options)
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
    I::Item: Into<Target> + 'static,
    I::IntoIter: Send + 'static,
{
    Pinger::shared().multiping_stream(targets, options)
}

impl Pinger {
    /// Pings `target`, as [`async_ping`](crate::async_ping) does, on this pinger's
    /// sockets. The future owns what it needs (`'static`): it can be spawned.
    ///
    /// # Errors
    /// As [`async_ping`](crate::async_ping).
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the ping; its requests in flight are
    /// forgotten and their late replies dropped.
    pub fn ping(
        &self,
        target: impl Into<Target>,
        options: &PingOptions,
    ) -> impl Future<Output = Result<Host>> + Send + 'static {
        let (pinger, target, probe) = (self.clone(), target.into(), options.probe.clone());
        async move {
            let call = pinger.set_up(Plan::new(Probing::Ping, &probe))?;
            let mut scheduler =
                call.schedule(std::iter::once(target.clone()), |_, _| EchoJob::new(&probe));
            Ok(only(&mut scheduler).await?.with_target(target.as_str()))
        }
    }

    /// Pings many hosts, as [`async_multiping`](crate::async_multiping) does, on this
    /// pinger's sockets. The future owns what it needs (`'static`): it can be spawned.
    ///
    /// # Errors
    /// As [`async_multiping`](crate::async_multiping).
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the sweep; its requests in flight are
    /// forgotten and their late replies dropped.
    pub fn multiping<T: Into<Target>>(
        &self,
        targets: impl IntoIterator<Item = T>,
        options: &MultipingOptions,
    ) -> impl Future<Output = Result<Vec<Host>>> + Send + 'static {
        let pinger = self.clone();
        let targets: Vec<Target> = targets.into_iter().map(Into::into).collect();
        let options = options.clone();
        async move {
            let call = pinger.set_up_sweep(Probing::Sweep, &options)?;
            if sharded::socket_count(&call, &options) > 1 {
                return pinger.multiping_sharded(call, targets, &options).await;
            }
            let probe = &options.probe;
            let scheduler = call.schedule(targets.iter(), |_, _| EchoJob::new(probe));
            Ok(in_order(
                gather(scheduler, |finished| finished.index).await?,
            ))
        }
    }

    /// Streams the hosts of a sweep as they finish, as
    /// [`multiping_stream`](crate::multiping_stream) does, on this pinger's sockets.
    ///
    /// # Errors
    /// As [`multiping_stream`](crate::multiping_stream).
    pub fn multiping_stream<I>(
        &self,
        targets: I,
        options: &MultipingOptions,
    ) -> Result<impl Stream<Item = Host> + Send + 'static>
    where
        I: IntoIterator,
        I::Item: Into<Target> + 'static,
        I::IntoIter: Send + 'static,
    {
        let call = self.set_up_sweep(Probing::Stream, options)?;
        let targets = targets.into_iter().map(Into::<Target>::into);
        if sharded::socket_count(&call, options) > 1 {
            let merged = self.multiping_stream_sharded(call, targets, options);
            return Ok(merged.right_stream());
        }
        let probe = options.probe.clone();
        let scheduler = call.schedule(
            // Boxed: the scheduler holds its iterator by value, and a stream's iterator
            // may be large.
            Box::new(targets.into_iter()),
            move |_, _| EchoJob::new(&probe),
        );
        Ok(scheduler.map(host).left_stream())
    }

    /// Sets up a sweep with `options` as `probing`.
    fn set_up_sweep(&self, probing: Probing, options: &MultipingOptions) -> Result<Call> {
        options.check()?;
        self.set_up(Plan {
            concurrency: options.concurrent_tasks,
            rate_limit: options.rate_limit,
            ..Plan::new(probing, &options.probe)
        })
    }
}

/// The host a sweep's target came to: its statistics, or the reason it could not be
/// pinged.
fn host<T: AsRef<str>>(finished: Finished<T, Host>) -> Host {
    let target = finished.target.as_ref();
    let host = match finished.result {
        Ok(host) => host,
        Err(Failed { error, address }) => {
            let address = address.map_or_else(|| target.to_owned(), |a| a.to_string());
            Host::new(address, 0, Vec::new()).with_error(Some(error))
        }
    };
    host.with_target(target)
}

/// The hosts of a sweep's targets as they finish, each with its place among the targets
/// (`place`): the first failure of the whole call ([`Error::fails_the_call`]) ends it.
///
/// # Errors
/// That failure.
///
/// [`Error::fails_the_call`]: crate::Error::fails_the_call
async fn gather<S, T>(
    mut finished: S,
    place: impl Fn(&Finished<T, Host>) -> usize,
) -> Result<Vec<(usize, Host)>>
where
    S: Stream<Item = Finished<T, Host>> + Unpin,
    T: AsRef<str>,
{
    let mut hosts = Vec::new();
    while let Some(done) = finished.next().await {
        if let Err(failed) = &done.result
            && failed.error.fails_the_call()
        {
            return Err(failed.error.clone());
        }
        hosts.push((place(&done), host(done)));
    }
    Ok(hosts)
}

/// The hosts of a sweep in the order of their targets.
fn in_order(mut hosts: Vec<(usize, Host)>) -> Vec<Host> {
    hosts.sort_unstable_by_key(|(place, _)| *place);
    hosts.into_iter().map(|(_, host)| host).collect()
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
