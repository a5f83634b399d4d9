//! [`Pinger`]: the owner of the engines, and every way to probe as its methods. The free
//! functions ([`async_ping`](crate::async_ping), ...) are shorthands for the process's
//! default pinger.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use crate::engine::cache::EngineCache;
use crate::engine::{DEFAULT_RECV_BUFFER, Engine};
use crate::error::Result;
use crate::family::Family;
use crate::resolve::{Resolver, async_resolve};
use crate::runtime;
use crate::scheduler::Engines;
use crate::socket::core::{Binding, SocketKind};
use crate::socket::dont_fragment::DontFragment;

mod setup;
pub(crate) mod shards;

#[cfg(test)]
pub(crate) use setup::prepare;
pub(crate) use setup::{Call, Plan, Probing, only};

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
/// something else: [`ProbeOptions::privileged`](crate::ProbeOptions::privileged) set to `false` (datagram sockets;
/// `true` is the options' default and means the pinger's choice), or
/// [`ProbeOptions::source`](crate::ProbeOptions::source) set to an address.
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

    /// Resolves `name` with this pinger's resolver (the system's if none was set).
    ///
    /// # Errors
    /// [`Error::NameLookup`](crate::Error::NameLookup) when nothing is found.
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
    /// with [`Error::InvalidOption`](crate::Error::InvalidOption) saying so, as for an interface that does not exist.
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
    /// open with [`Error::InvalidOption`](crate::Error::InvalidOption) saying so.
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
