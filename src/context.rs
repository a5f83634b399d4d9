//! What one call (a ping, a sweep, a traceroute) needs besides its options: where its
//! engines come from (the runtime's defaults or a [`Pinger`]'s), and how it resolves
//! names. Engines are looked up once per family and call, and opened again if one fails.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::engine::{DEFAULT_RECV_BUFFER, Engine, EngineConfig, engine_for};
use crate::resolve::{check_literal, parse_literal, resolve_target};
use crate::socket::SocketKind;
use crate::{Error, Family, Pinger, Resolver, Result};

/// Where a call's engines come from.
#[derive(Debug, Clone)]
enum Origin {
    /// The runtime's default engines for this configuration.
    Default {
        privileged: bool,
        source: Option<IpAddr>,
    },
    /// A pinger's own engines.
    Pinger(Pinger),
}

/// A call's engines and resolver. Cheap to clone; clones share the cache.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    origin: Origin,
    engines: Arc<Mutex<[Option<Engine>; 2]>>,
    resolver: Arc<OnceLock<Result<Resolver>>>,
}

impl Context {
    /// The runtime's default engines for raw (`privileged`) or datagram sockets sending
    /// from `source`.
    pub(crate) fn new(privileged: bool, source: Option<IpAddr>) -> Context {
        Context::with_origin(Origin::Default { privileged, source })
    }

    /// A pinger's engines and resolver.
    pub(crate) fn pinger(pinger: &Pinger) -> Context {
        let context = Context::with_origin(Origin::Pinger(pinger.clone()));
        if let Some(resolver) = pinger.resolver() {
            let _ = context.resolver.set(Ok(resolver.clone()));
        }
        context
    }

    fn with_origin(origin: Origin) -> Context {
        Context {
            origin,
            engines: Arc::new(Mutex::new([None, None])),
            resolver: Arc::new(OnceLock::new()),
        }
    }

    /// The local address requests are sent from, if one is set.
    pub(crate) fn source(&self) -> Option<IpAddr> {
        match &self.origin {
            Origin::Default { source, .. } => *source,
            Origin::Pinger(pinger) => pinger.source(),
        }
    }

    /// The engine for `family`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] when the source address is of the other family; the
    /// socket's error when it cannot be opened.
    pub(crate) fn engine(&self, family: Family) -> Result<Engine> {
        if let Some(source) = self.source()
            && Family::of(&source) != family
        {
            return Err(Error::invalid(format!(
                "the source address {source} cannot reach an {family} address"
            )));
        }
        let slot = match family {
            Family::V4 => 0,
            Family::V6 => 1,
        };
        let mut engines = self.engines.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(engine) = engines[slot].as_ref().filter(|engine| !engine.is_closed()) {
            return Ok(engine.clone());
        }
        let engine = match &self.origin {
            Origin::Default { privileged, source } => engine_for(EngineConfig {
                kind: SocketKind {
                    family,
                    privileged: *privileged,
                },
                source: *source,
                recv_buffer_size: DEFAULT_RECV_BUFFER,
            })?,
            Origin::Pinger(pinger) => pinger.engine(family)?,
        };
        engines[slot] = Some(engine.clone());
        Ok(engine)
    }

    /// `target` as an address of `family` when it is an address (no lookup needed);
    /// `None` for a name.
    pub(crate) fn resolve_literal(target: &str, family: Option<Family>) -> Option<Result<IpAddr>> {
        parse_literal(target).map(|address| check_literal(target, address, family))
    }

    /// Resolves `target` (an address or a name) to one address of `family`, or of the
    /// source's family, or IPv4 then IPv6.
    ///
    /// An address of the other family than the source's is returned as is: the engine
    /// then says that the source cannot reach it, which is the clearer message.
    pub(crate) async fn resolve(&self, target: &str, family: Option<Family>) -> Result<IpAddr> {
        if let Some(literal) = Context::resolve_literal(target, family) {
            return literal;
        }
        let family = family.or(self.source().as_ref().map(Family::of));
        let resolver = self.resolver.get_or_init(Resolver::system).as_ref();
        let resolver = resolver.map_err(Clone::clone)?;
        // A lookup's future is large (about 2 KiB); boxed, it costs only the names, not
        // every address of a sweep.
        Box::pin(resolve_target(target, family, Some(resolver))).await
    }
}
