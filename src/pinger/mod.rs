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
use crate::socket::core::{Binding, SocketClass};
use crate::socket::dont_fragment::DontFragment;
use crate::socket::kind::{self, SocketKind};

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
/// The pinger's [`socket_kind`](PingerBuilder::socket_kind) (automatic by default: raw
/// sockets where the process may open them, else datagram ones) and
/// [`source`](PingerBuilder::source) apply to every call unless its options ask for
/// something else: [`ProbeOptions::socket_kind`](crate::ProbeOptions::socket_kind) set to
/// raw or datagram (its default, automatic, means the pinger's choice), or
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
    socket_kind: SocketKind,
    /// What [`SocketKind::Auto`] stood for here (raw: `true`), once found.
    detected: OnceLock<bool>,
    source: Option<IpAddr>,
    resolver: Option<Resolver>,
    engines: Arc<EngineCache>,
    /// The engines of a call whose options leave the source to the pinger, on raw
    /// sockets (`[1]`) or datagram ones (`[0]`): made once, most calls use them.
    own_engines: [Arc<CallEngines>; 2],
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
        let kind = SocketClass {
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
            socket_kind: SocketKind::Auto,
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

    /// The kind of socket this pinger's calls use unless their options force one: raw or
    /// datagram, as configured, or as found for [`SocketKind::Auto`] (by opening a socket
    /// of each kind once, the first time it is asked).
    ///
    /// ```no_run
    /// use icmplib::Pinger;
    ///
    /// match Pinger::new().socket_kind() {
    ///     Ok(kind) => println!("pinging with {kind} sockets"),
    ///     Err(error) => eprintln!("{error}"),
    /// }
    /// ```
    ///
    /// # Errors
    /// [`Error::SocketPermission`](crate::Error::SocketPermission) when the pinger's kind
    /// is automatic and the process may open neither kind; the message names both ways.
    pub fn socket_kind(&self) -> Result<SocketKind> {
        self.privileged(SocketKind::Auto)
            .map(SocketKind::from_privileged)
    }

    /// Raw (`true`) or datagram (`false`) sockets for a call whose options ask for
    /// `asked`: what they force, else the pinger's kind, found once if automatic.
    pub(crate) fn privileged(&self, asked: SocketKind) -> Result<bool> {
        let inner = &self.inner;
        if let Some(privileged) = asked.or(inner.socket_kind).privileged() {
            return Ok(privileged);
        }
        if let Some(privileged) = inner.detected.get() {
            return Ok(*privileged);
        }
        // Not kept when neither kind is allowed: the system may admit one later.
        let privileged = kind::detect()?;
        Ok(*inner.detected.get_or_init(|| privileged))
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
    socket_kind: SocketKind,
    source: Option<IpAddr>,
    recv_buffer_size: usize,
    resolver: Option<Resolver>,
    binding: Binding,
}

impl PingerBuilder {
    /// The kind of socket of the pinger's calls (unless their options force one):
    /// [`SocketKind::Auto`] (the default) opens a raw socket where the process may, else a
    /// datagram socket where the system admits it.
    pub fn socket_kind(mut self, kind: SocketKind) -> Self {
        self.socket_kind = kind;
        self
    }

    /// Forces raw sockets (`true`) or datagram sockets (`false`): a shorthand for
    /// [`socket_kind`](Self::socket_kind).
    pub fn privileged(self, privileged: bool) -> Self {
        self.socket_kind(SocketKind::from_privileged(privileged))
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
        let own_engines = [false, true].map(|privileged| {
            Arc::new(CallEngines {
                cache: Arc::clone(&engines),
                privileged,
                source: self.source,
                dont_fragment: DontFragment::System,
                shard: 0,
            })
        });
        Pinger {
            inner: Arc::new(PingerInner {
                socket_kind: self.socket_kind,
                detected: OnceLock::new(),
                source: self.source,
                resolver: self.resolver,
                engines,
                own_engines,
            }),
        }
    }
}
