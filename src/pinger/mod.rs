//! [`Pinger`]: the owner of the engines, and every way to probe as its methods. The free
//! functions ([`async_ping`](crate::async_ping), ...) are shorthands for the process's
//! default pinger.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use futures::{Stream, StreamExt};

use crate::engine::cache::EngineCache;
use crate::engine::{DEFAULT_RECV_BUFFER, Engine};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::host::{Hop, Host};
use crate::jobs::{EchoJob, PathMtuJob, TraceJob};
use crate::mtu::{PathMtu, PathMtuOptions};
use crate::options::{MultipingOptions, PingOptions, ProbeOptions, TracerouteOptions};
use crate::resolve::{Resolver, async_resolve};
use crate::runtime;
use crate::scheduler::{Engines, Failed, Finished, Scheduler, Settings};
use crate::socket::core::{Binding, SocketKind};
use crate::socket::dont_fragment::DontFragment;
use crate::watch::{Watch, WatchHandle, WatchOptions};

mod sharded;

/// A handle on ICMP sockets (one per family, raw or datagram, and source address, opened
/// on first use), shared by every call made through it and its clones, each socket with
/// one reader task routing the replies to the requests waiting for them.
///
/// The free functions ([`async_ping`](crate::async_ping), ...) use the process's default
/// pinger; make your own for sockets with a larger receive buffer, another resolver, or
/// to close them (drop every clone) when you are done.
///
/// # Sockets and runtimes
/// A socket belongs to the tokio runtime its calls run on: a pinger used on several
/// runtimes opens sockets on each, so that no call waits on a runtime that may be idle.
/// The sockets used last (up to four) stay open for the next call; any other closes once
/// no call uses it, so that one-off source addresses do not pile up sockets.
///
/// # Privileges and source address
/// The pinger's [`privileged`](PingerBuilder::privileged) and
/// [`source`](PingerBuilder::source) apply to every call unless its options ask for
/// something else: [`ProbeOptions::privileged`] set to `false` (datagram sockets;
/// `true` is the options' default and means the pinger's choice), or
/// [`ProbeOptions::source`] set to an address.
///
/// ```no_run
/// # async fn run() -> icmplib::Result<()> {
/// use icmplib::{PingOptions, Pinger};
///
/// let pinger = Pinger::builder().privileged(false).build();
/// let options = PingOptions::default().count(2);
/// let (a, b) = tokio::join!(pinger.ping("127.0.0.1", &options), pinger.ping("::1", &options));
/// println!("{}\n{}", a?, b?);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Pinger {
    inner: Arc<PingerInner>,
}

#[derive(Debug)]
struct PingerInner {
    privileged: bool,
    source: Option<IpAddr>,
    resolver: Option<Resolver>,
    engines: Arc<EngineCache>,
    /// The engines of a call whose options leave privileges and source to the pinger
    /// (made once: most calls use it).
    own_engines: Arc<CallEngines>,
}

/// The engines of one call: a pinger's, for one socket kind and source address.
#[derive(Debug)]
struct CallEngines {
    cache: Arc<EngineCache>,
    privileged: bool,
    source: Option<IpAddr>,
    dont_fragment: DontFragment,
    /// Which of a sweep's sockets; 0 for every other call.
    shard: u16,
}

impl Engines for CallEngines {
    /// A link-local source address belongs to an interface: the destination's.
    fn engine(&self, family: Family, scope_id: u32) -> Result<Engine> {
        let kind = SocketKind {
            family,
            privileged: self.privileged,
        };
        let source = self.source.map(|source| match source {
            IpAddr::V6(v6) if v6.is_unicast_link_local() => (source, scope_id),
            _ => (source, 0),
        });
        self.cache
            .engine(kind, source, self.dont_fragment, self.shard)
    }
}

impl Default for Pinger {
    fn default() -> Pinger {
        Pinger::builder().build()
    }
}

impl Pinger {
    /// A pinger with raw sockets and the default configuration.
    pub fn new() -> Pinger {
        Pinger::default()
    }

    /// A builder for a pinger's configuration.
    pub fn builder() -> PingerBuilder {
        PingerBuilder {
            privileged: true,
            source: None,
            recv_buffer_size: DEFAULT_RECV_BUFFER,
            resolver: None,
            binding: Binding::default(),
        }
    }

    /// The process's default pinger, behind the free functions.
    pub(crate) fn shared() -> &'static Pinger {
        static SHARED: OnceLock<Pinger> = OnceLock::new();
        SHARED.get_or_init(Pinger::default)
    }

    /// True for raw sockets, false for datagram sockets.
    pub fn is_privileged(&self) -> bool {
        self.inner.privileged
    }

    /// Requests sent through this pinger that wait for their reply right now. Each
    /// request leaves this count when answered, timed out or abandoned (its future
    /// dropped), so it measures load and shows nothing is kept longer than it should.
    pub fn requests_in_flight(&self) -> usize {
        self.inner.engines.in_flight()
    }

    /// The engines a call with `options` uses, and the address it sends from.
    fn engines(&self, options: &ProbeOptions) -> (Arc<dyn Engines>, Option<IpAddr>) {
        self.shard_engines(options, 0)
    }

    /// The engines of the `shard`-th socket of a sweep with `options` (0: the call's
    /// only one), and the address it sends from.
    fn shard_engines(
        &self,
        options: &ProbeOptions,
        shard: u16,
    ) -> (Arc<dyn Engines>, Option<IpAddr>) {
        let inner = &self.inner;
        let source = options.source.or(inner.source);
        let privileged = inner.privileged && options.privileged;
        let dont_fragment = options.dont_fragment;
        if source == inner.source
            && privileged == inner.privileged
            && dont_fragment == DontFragment::System
            && shard == 0
        {
            return (Arc::clone(&inner.own_engines) as Arc<dyn Engines>, source);
        }
        let engines = CallEngines {
            cache: Arc::clone(&inner.engines),
            privileged,
            source,
            dont_fragment,
            shard,
        };
        (Arc::new(engines), source)
    }

    /// A scheduler of `targets` with `settings`, each probed by the job `jobs` makes.
    fn schedule<I, J, F>(
        &self,
        options: &ProbeOptions,
        settings: impl FnOnce(Option<IpAddr>) -> Result<Settings>,
        targets: I,
        jobs: F,
    ) -> Result<Scheduler<I, J, F>>
    where
        I: Iterator,
        I::Item: AsRef<str>,
        J: crate::scheduler::Job,
        F: FnMut(usize, IpAddr) -> J,
    {
        runtime::current("icmplib's async functions")?;
        let (engines, source) = self.engines(options);
        let settings = settings(source)?;
        self.check_id(&settings, options)?;
        let resolver = self.inner.resolver.clone();
        Ok(Scheduler::new(engines, resolver, settings, targets, jobs))
    }

    /// Refuses a chosen identifier where the system chooses it: Windows' ICMP API, for
    /// unprivileged requests.
    fn check_id(&self, settings: &Settings, options: &ProbeOptions) -> Result<()> {
        if cfg!(windows) && settings.id.is_some() && !(self.inner.privileged && options.privileged)
        {
            return Err(Error::invalid(
                "on Windows, unprivileged requests get their identifier from the system: \
                 leave id unset, or use privileged = true (Administrator)",
            ));
        }
        Ok(())
    }

    /// Pings `address`, as [`async_ping`](crate::async_ping) does, on this pinger's
    /// sockets.
    ///
    /// # Errors
    /// As [`async_ping`](crate::async_ping).
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the ping; its requests in flight are
    /// forgotten and their late replies dropped.
    pub async fn ping(&self, address: &str, options: &PingOptions) -> Result<Host> {
        let probe = &options.probe;
        let mut scheduler = self.schedule(
            probe,
            |source| probe.settings(source, 1, None),
            std::iter::once(address),
            |_, _| EchoJob::new(probe),
        )?;
        let Finished { result, .. } = only(&mut scheduler).await?;
        match result {
            Ok(host) => Ok(host.with_target(address)),
            Err(failed) => Err(failed.error),
        }
    }

    /// Pings many hosts, as [`async_multiping`](crate::async_multiping) does, on this
    /// pinger's sockets.
    ///
    /// # Errors
    /// As [`async_multiping`](crate::async_multiping).
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the sweep; its requests in flight are
    /// forgotten and their late replies dropped.
    pub async fn multiping<S: AsRef<str>>(
        &self,
        addresses: &[S],
        options: &MultipingOptions,
    ) -> Result<Vec<Host>> {
        if self.socket_count(options) > 1 {
            let owned: Vec<String> = addresses.iter().map(|a| a.as_ref().to_owned()).collect();
            return self.multiping_sharded(owned, options).await;
        }
        let probe = &options.probe;
        let mut scheduler = self.schedule(
            probe,
            |source| options.settings(source),
            addresses.iter(),
            |_, _| EchoJob::new(probe),
        )?;
        let mut hosts = Vec::with_capacity(addresses.len());
        while let Some(finished) = scheduler.next().await {
            if let Err(failed) = &finished.result
                && failed.error.fails_the_call()
            {
                return Err(failed.error.clone());
            }
            hosts.push((finished.index, host(finished)));
        }
        hosts.sort_unstable_by_key(|(index, _)| *index);
        Ok(hosts.into_iter().map(|(_, host)| host).collect())
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
        I::Item: AsRef<str> + Send + 'static,
        I::IntoIter: Send + 'static,
    {
        runtime::current("multiping_stream")?;
        let probe = options.probe.clone();
        let (engines, source) = self.engines(&probe);
        let settings = options.settings(source)?;
        // Open the socket of the likely family now (a sharded sweep's first), so that a
        // permission problem is the call's error rather than every host's.
        if let Err(error) = engines.engine(settings.lookup_family().unwrap_or(Family::V4), 0)
            && error.fails_the_call()
        {
            return Err(error);
        }
        if self.socket_count(options) > 1 {
            return self
                .multiping_stream_sharded(targets.into_iter(), options)
                .map(StreamExt::right_stream);
        }
        let resolver = self.inner.resolver.clone();
        let scheduler = Scheduler::new(
            engines,
            resolver,
            settings,
            // Boxed: the scheduler holds its iterator by value, and a stream's iterator
            // may be large.
            Box::new(targets.into_iter()),
            move |_, _| EchoJob::new(&probe),
        );
        Ok(scheduler.map(host).left_stream())
    }

    /// Watches `targets` (addresses or names) without end: each is probed every
    /// [`period`](WatchOptions::period), the targets' probes spread over it, and each
    /// outcome is a [`WatchEvent`](crate::WatchEvent) on the returned stream, with the
    /// target's state changes (up, down). The [`WatchHandle`] adds and removes targets,
    /// reads their statistics ([`Stats`](crate::Stats) over the last
    /// [`window`](WatchOptions::window) probes) and stops the watch. Probes leave while
    /// the stream is polled; names are looked up again every
    /// [`resolve_every`](WatchOptions::resolve_every).
    ///
    /// ```no_run
    /// # async fn run() -> icmplib::Result<()> {
    /// use futures::StreamExt;
    /// use icmplib::{Pinger, WatchEvent, WatchOptions};
    ///
    /// let pinger = Pinger::new();
    /// let (handle, mut events) = pinger.watch(["127.0.0.1"], &WatchOptions::default())?;
    /// while let Some(event) = events.next().await {
    ///     if let WatchEvent::State { target, up, .. } = event {
    ///         println!("{target} is {}", if up { "up" } else { "down" });
    ///         handle.stop();
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for invalid options, [`Error::Runtime`] outside a tokio
    /// runtime; each target's own failures (a name that does not resolve, a socket that
    /// cannot open) are events.
    pub fn watch<I>(&self, targets: I, options: &WatchOptions) -> Result<(WatchHandle, Watch)>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        runtime::current("watch")?;
        let (engines, source) = self.engines(&options.probe);
        Watch::new(
            engines,
            self.inner.resolver.clone(),
            source,
            options,
            targets.into_iter().map(Into::into).collect(),
        )
    }

    /// Traces the route to `address`, as [`async_traceroute`](crate::async_traceroute)
    /// does, on this pinger's sockets.
    ///
    /// # Errors
    /// As [`async_traceroute`](crate::async_traceroute).
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the trace; its probes in flight are
    /// forgotten and their late answers dropped.
    pub async fn traceroute(&self, address: &str, options: &TracerouteOptions) -> Result<Vec<Hop>> {
        let mut scheduler = self.schedule(
            &options.probe,
            |source| options.settings(source),
            std::iter::once(address),
            |_, _| TraceJob::new(options),
        )?;
        let Finished { result, .. } = only(&mut scheduler).await?;
        result.map_err(|failed| failed.error)?
    }

    /// Finds the path MTU to `address`, as [`async_path_mtu`](crate::async_path_mtu)
    /// does, on this pinger's sockets (one with Don't Fragment set, opened on first use).
    ///
    /// # Errors
    /// As [`async_path_mtu`](crate::async_path_mtu).
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the search; its request in flight is
    /// forgotten and its late answer dropped.
    pub async fn path_mtu(&self, address: &str, options: &PathMtuOptions) -> Result<PathMtu> {
        let probe = options.probe();
        let mut scheduler = self.schedule(
            &probe,
            |source| options.settings(source),
            std::iter::once(address),
            |_, target| {
                PathMtuJob::new(
                    Family::of(&target),
                    probe.count,
                    options.max_probes,
                    probe.interval,
                    probe.ttl,
                )
            },
        )?;
        let Finished { result, .. } = only(&mut scheduler).await?;
        result.map_err(|failed| failed.error)?
    }

    /// Resolves `name` with this pinger's resolver (the system's if none was set).
    ///
    /// # Errors
    /// [`Error::NameLookup`] when nothing is found.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the lookup.
    pub async fn resolve(&self, name: &str, family: Option<Family>) -> Result<Vec<IpAddr>> {
        runtime::current("Pinger::resolve")?;
        match &self.inner.resolver {
            Some(resolver) => resolver.lookup(name, family).await,
            None => async_resolve(name, family).await,
        }
    }
}

/// The one target of a scheduler made for one (borrowed: a future that held the
/// scheduler would double the size of the caller's future).
async fn only<S: Stream + Unpin>(scheduler: &mut S) -> Result<S::Item> {
    scheduler.next().await.ok_or(Error::SocketUnavailable)
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

/// Builds a [`Pinger`].
#[derive(Debug, Clone)]
pub struct PingerBuilder {
    privileged: bool,
    source: Option<IpAddr>,
    recv_buffer_size: usize,
    resolver: Option<Resolver>,
    binding: Binding,
}

impl PingerBuilder {
    /// Raw sockets (`true`, the default) or unprivileged datagram sockets.
    pub fn privileged(mut self, privileged: bool) -> Self {
        self.privileged = privileged;
        self
    }

    /// Sends from this local address (and so only to its family), unless a call's
    /// options name another.
    pub fn source(mut self, source: IpAddr) -> Self {
        self.source = Some(source);
        self
    }

    /// Sends every probe by the network interface `name` (an uplink, a VRF device), and
    /// takes answers from it only: `SO_BINDTODEVICE` on Linux (unprivileged since Linux
    /// 5.7), `IP_BOUND_IF` / `IPV6_BOUND_IF` on macOS; elsewhere the sockets fail to open
    /// with [`Error::InvalidOption`] saying so, as for an interface that does not exist.
    ///
    /// ```
    /// use icmplib::Pinger;
    ///
    /// let pinger = Pinger::builder().interface("eth1").build();
    /// ```
    pub fn interface(mut self, name: impl Into<String>) -> Self {
        self.binding.interface = Some(name.into());
        self
    }

    /// Marks every probe with `mark` (`SO_MARK`, Linux) for policy routing (`ip rule
    /// fwmark`) and firewall rules. Needs `CAP_NET_ADMIN`: without it the sockets fail to
    /// open with [`Error::InvalidOption`] saying so.
    pub fn mark(mut self, mark: u32) -> Self {
        self.binding.mark = Some(mark);
        self
    }

    /// Kernel receive buffer of each socket, in bytes (default 4 MiB; Linux caps it at
    /// `net.core.rmem_max` for processes without `CAP_NET_ADMIN`). It grows with the
    /// requests in flight.
    pub fn recv_buffer_size(mut self, bytes: usize) -> Self {
        self.recv_buffer_size = bytes;
        self
    }

    /// Resolves names with this resolver instead of the system's.
    pub fn resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// The pinger. No socket is opened until its first use.
    pub fn build(self) -> Pinger {
        let engines = EngineCache::new(self.recv_buffer_size, self.binding);
        let own_engines = Arc::new(CallEngines {
            cache: Arc::clone(&engines),
            privileged: self.privileged,
            source: self.source,
            dont_fragment: DontFragment::System,
            shard: 0,
        });
        Pinger {
            inner: Arc::new(PingerInner {
                privileged: self.privileged,
                source: self.source,
                resolver: self.resolver,
                engines,
                own_engines,
            }),
        }
    }
}
