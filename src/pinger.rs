//! [`Pinger`]: an explicit handle on shared engines, with its own socket configuration.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::context::Context;
use crate::engine::{DEFAULT_RECV_BUFFER, Engine, EngineConfig};
use crate::multiping::{multiping_with, stream_with};
use crate::ping::ping_target;
use crate::socket::SocketKind;
use futures::Stream;

use crate::{Error, Family, Host, MultipingOptions, PingOptions, Resolver, Result};

/// A handle on one socket per family (opened on first use), shared by every call made
/// through it and its clones, with its own configuration: raw or datagram sockets, source
/// address, receive buffer size and resolver.
///
/// The free functions ([`crate::async_ping`], ...) use default engines, one per runtime
/// and configuration; a `Pinger` is for when you want your own, for instance to give
/// them a large receive buffer, or to drop them (closing the sockets) when you are done.
///
/// Its sockets belong to the tokio runtime of its first call. The `privileged` and
/// `source` fields of the options passed to its methods are ignored: the `Pinger`'s own
/// configuration applies.
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
    recv_buffer_size: usize,
    resolver: Option<Resolver>,
    engines: Mutex<HashMap<Family, Engine>>,
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
        }
    }

    /// True for raw sockets, false for datagram sockets.
    pub fn is_privileged(&self) -> bool {
        self.inner.privileged
    }

    /// Requests sent through this pinger that wait for their reply right now. Each
    /// request leaves this count when answered, timed out or abandoned (its future
    /// dropped), so it measures load and shows nothing is kept longer than it should.
    pub fn requests_in_flight(&self) -> usize {
        let engines = self
            .inner
            .engines
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        engines.values().map(Engine::in_flight).sum()
    }

    /// Pings `address`, as [`crate::async_ping`] does, on this pinger's sockets.
    ///
    /// # Errors
    /// As [`crate::async_ping`].
    ///
    /// # Cancel safety
    /// Cancel safe, as [`crate::async_ping`].
    pub async fn ping(&self, address: &str, options: &PingOptions) -> Result<Host> {
        ping_target(&Context::pinger(self), address, options).await
    }

    /// Pings many hosts, as [`crate::async_multiping`] does, on this pinger's sockets.
    ///
    /// # Errors
    /// As [`crate::async_multiping`].
    ///
    /// # Cancel safety
    /// Cancel safe, as [`crate::async_multiping`].
    pub async fn multiping<S: AsRef<str>>(
        &self,
        addresses: &[S],
        options: &MultipingOptions,
    ) -> Result<Vec<Host>> {
        multiping_with(Context::pinger(self), addresses, options).await
    }

    /// Streams the hosts of a sweep as they finish, as [`crate::multiping_stream`] does,
    /// on this pinger's sockets.
    ///
    /// # Errors
    /// As [`crate::multiping_stream`].
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
        stream_with(Context::pinger(self), targets, options)
    }

    /// Resolves `name` with this pinger's resolver (the system's if none was set).
    ///
    /// # Errors
    /// [`Error::NameLookup`] when nothing is found.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the lookup.
    pub async fn resolve(&self, name: &str, family: Option<Family>) -> Result<Vec<IpAddr>> {
        match &self.inner.resolver {
            Some(resolver) => resolver.lookup(name, family).await,
            None => crate::async_resolve(name, family).await,
        }
    }

    /// The resolver set for this pinger.
    pub(crate) fn resolver(&self) -> Option<&Resolver> {
        self.inner.resolver.as_ref()
    }

    /// The source address set for this pinger.
    pub(crate) fn source(&self) -> Option<IpAddr> {
        self.inner.source
    }

    /// This pinger's engine for `family`, opened now if needed (again if it failed).
    pub(crate) fn engine(&self, family: Family) -> Result<Engine> {
        let inner = &self.inner;
        if let Some(source) = inner.source
            && Family::of(&source) != family
        {
            return Err(Error::invalid(format!(
                "this Pinger sends from {source} and cannot reach an {family} address"
            )));
        }
        let mut engines = inner.engines.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(engine) = engines.get(&family).filter(|engine| !engine.is_closed()) {
            return Ok(engine.clone());
        }
        let engine = Engine::open(EngineConfig {
            kind: SocketKind {
                family,
                privileged: inner.privileged,
            },
            source: inner.source,
            recv_buffer_size: inner.recv_buffer_size,
        })?;
        engines.insert(family, engine.clone());
        Ok(engine)
    }
}

/// Builds a [`Pinger`].
#[derive(Debug, Clone)]
pub struct PingerBuilder {
    privileged: bool,
    source: Option<IpAddr>,
    recv_buffer_size: usize,
    resolver: Option<Resolver>,
}

impl PingerBuilder {
    /// Raw sockets (`true`, the default) or unprivileged datagram sockets.
    pub fn privileged(mut self, privileged: bool) -> Self {
        self.privileged = privileged;
        self
    }

    /// Sends from this local address (and so only to its family).
    pub fn source(mut self, source: IpAddr) -> Self {
        self.source = Some(source);
        self
    }

    /// Kernel receive buffer of each socket, in bytes (default 4 MiB; Linux caps it at
    /// `net.core.rmem_max` for processes without `CAP_NET_ADMIN`).
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
        Pinger {
            inner: Arc::new(PingerInner {
                privileged: self.privileged,
                source: self.source,
                recv_buffer_size: self.recv_buffer_size,
                resolver: self.resolver,
                engines: Mutex::new(HashMap::new()),
            }),
        }
    }
}
