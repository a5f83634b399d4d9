//! The engines of one owner (a `Pinger`): one per runtime, socket kind, source address
//! and Don't Fragment setting, opened on first use.
//!
//! An engine belongs to the runtime that drives it: its reader task runs there, so a call
//! made on another runtime gets an engine of its own rather than waiting on a runtime that
//! may be idle. The engines used last are kept open for the next call even when idle
//! ([`KEPT`]); any other engine lives only as long as a call uses it, so a one-off source
//! address does not pin a socket and a task for the life of its runtime. Engines of a
//! runtime that shut down close with their reader task and are dropped here at once.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, Weak};

use tokio::runtime::Id;

use super::transport::{SocketTransport, Transport};
use super::{Engine, Handle, OnClose, lock};
use crate::error::Result;
use crate::runtime;
use crate::socket::async_socket::AsyncIcmpSocket;
use crate::socket::core::{Binding, SocketClass, check_source};
use crate::socket::dont_fragment::DontFragment;

/// Engines kept open while idle: both families, raw and datagram, on one runtime. A
/// sweep's extra sockets (shards above 0) are never kept: they close with their sweep.
const KEPT: usize = 4;

/// Which engine: the runtime it runs on, and how its socket is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct EngineKey {
    runtime: Id,
    kind: SocketClass,
    /// The source address and, for a link-local one, its interface.
    source: Option<(IpAddr, u32)>,
    /// A socket per setting: IPv4 has no per-packet form of it.
    dont_fragment: DontFragment,
    /// Which of a sweep's sockets (see `MultipingOptions::sockets`); 0 for every other
    /// call.
    shard: u16,
}

/// The engines of one owner.
#[derive(Debug)]
pub(crate) struct EngineCache {
    recv_buffer_size: usize,
    /// Where every socket of these engines is tied (a pinger's interface and mark).
    binding: Binding,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Every engine open, found again while anybody uses it.
    live: HashMap<EngineKey, Weak<Handle>>,
    /// The engines used last, most recent first: kept open when idle.
    kept: VecDeque<Engine>,
}

impl State {
    /// Makes `engine` the most recently used one.
    fn keep(&mut self, engine: &Engine) {
        if let Some(front) = self.kept.front()
            && Arc::ptr_eq(&front.handle, &engine.handle)
        {
            return;
        }
        self.kept
            .retain(|kept| !Arc::ptr_eq(&kept.handle, &engine.handle));
        self.kept.push_front(engine.clone());
        // The one dropped here closes once the calls using it are done.
        self.kept.truncate(KEPT);
    }

    /// Forgets the engines that closed or that nobody uses any more.
    fn prune(&mut self) {
        self.kept.retain(|engine| !engine.is_closed());
        self.live.retain(|_, handle| {
            handle
                .upgrade()
                .is_some_and(|handle| !handle.core.is_closed())
        });
    }
}

impl EngineCache {
    /// An empty cache whose engines ask for a receive buffer of `recv_buffer_size`, their
    /// sockets tied as `binding` says.
    pub(crate) fn new(recv_buffer_size: usize, binding: Binding) -> Arc<EngineCache> {
        Arc::new(EngineCache {
            recv_buffer_size,
            binding,
            state: Mutex::new(State::default()),
        })
    }

    /// The current runtime's engine for sockets of `kind` sending from `source` (with the
    /// interface of a link-local address) with `dont_fragment`, the `shard`-th of its kind
    /// (a sweep over several sockets), opened now if there is none (or it failed).
    ///
    /// # Errors
    /// [`Error::Runtime`] outside a tokio runtime; [`Error::InvalidOption`] for a source
    /// of the other family; the socket's error when it cannot be opened.
    pub(crate) fn engine(
        self: &Arc<Self>,
        kind: SocketClass,
        source: Option<(IpAddr, u32)>,
        dont_fragment: DontFragment,
        shard: u16,
    ) -> Result<Engine> {
        let runtime = runtime::current("icmplib's async functions")?;
        if let Some((source, _)) = source {
            check_source(kind.family, source)?;
        }
        let key = EngineKey {
            runtime: runtime.id(),
            kind,
            source,
            dont_fragment,
            shard,
        };
        let mut state = lock(&self.state);
        // An engine closed while another call held the cache (its own prune was skipped)
        // goes now.
        state.kept.retain(|engine| !engine.is_closed());
        let found = state
            .live
            .get(&key)
            .and_then(Weak::upgrade)
            .map(|handle| Engine { handle })
            .filter(|engine| !engine.is_closed());
        let engine = match found {
            Some(engine) => engine,
            None => {
                let engine = self.open(key)?;
                state.prune();
                state.live.insert(key, Arc::downgrade(&engine.handle));
                engine
            }
        };
        if shard == 0 {
            state.keep(&engine);
        }
        Ok(engine)
    }

    fn open(self: &Arc<Self>, key: EngineKey) -> Result<Engine> {
        let transport = transport(key, &self.binding)?;
        let cache = Arc::downgrade(self);
        // A closed engine (its runtime shut down, its socket failed) is dropped at once,
        // closing its socket, rather than at the next lookup.
        let on_close = OnClose(Box::new(move || {
            if let Some(cache) = cache.upgrade() {
                cache.prune();
            }
        }));
        Ok(Engine::start(
            transport,
            self.recv_buffer_size,
            Some(on_close),
        ))
    }

    /// Drops the engines that closed. Skipped when the cache is busy (an engine may close
    /// while a lookup holds it); the next lookup drops them then.
    fn prune(&self) {
        if let Ok(mut state) = self.state.try_lock() {
            state.prune();
        }
    }

    /// Requests in flight on all of these engines.
    pub(crate) fn in_flight(&self) -> usize {
        let state = lock(&self.state);
        state
            .live
            .values()
            .filter_map(Weak::upgrade)
            .map(|handle| handle.core.in_flight())
            .sum()
    }
}

/// The transport of an engine of `kind`: this system's ICMP socket; on Windows without
/// privileges, the ICMP helper API (Windows has no unprivileged ICMP socket).
fn transport(key: EngineKey, binding: &Binding) -> Result<Box<dyn Transport>> {
    let EngineKey { kind, source, .. } = key;
    #[cfg(windows)]
    if !kind.privileged {
        if !binding.is_none() {
            crate::socket::limits::check(crate::socket::limits::Capability::Binding, false)?;
        }
        return Ok(Box::new(super::icmp_api::IcmpApiTransport::open(
            kind.family,
            source,
        )?));
    }
    let socket = AsyncIcmpSocket::open(kind.family, source, kind.privileged)?;
    socket.bind(binding)?;
    socket.set_dont_fragment(key.dont_fragment)?;
    Ok(Box::new(SocketTransport::new(socket)))
}
