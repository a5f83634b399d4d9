//! The names of the routers a trace meets: reverse lookups (PTR) through the call's
//! resolver, asynchronous, cached, each bounded by its own timeout — never in the way of
//! a probe: a trace asks for a name and goes on; the name comes with a later round, or
//! not at all.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};

use crate::resolve::Resolver;

/// How long a reverse lookup may take: a name server that does not answer costs a name,
/// nothing else.
pub(crate) const NAME_TIMEOUT: Duration = Duration::from_secs(2);

/// Reverse lookups in flight at most; addresses beyond wait for a later ask.
const MAX_PENDING: usize = 32;

/// Names kept at most (a long trace over a path in flux meets new routers without end).
const MAX_CACHED: usize = 4_096;

/// A lookup in flight: the address and its name, if found in time.
type Pending = BoxFuture<'static, (IpAddr, Option<Arc<str>>)>;

/// The names of addresses: found, not found, or being looked up.
pub(crate) struct Names {
    resolver: Resolver,
    /// Looked up: the name, or `None` for an address without one (or a lookup that failed).
    cache: HashMap<IpAddr, Option<Arc<str>>>,
    pending: FuturesUnordered<Pending>,
    asked: HashSet<IpAddr>,
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Names")
            .field("cached", &self.cache.len())
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Names {
    pub(crate) fn new(resolver: Resolver) -> Names {
        Names {
            resolver,
            cache: HashMap::new(),
            pending: FuturesUnordered::new(),
            asked: HashSet::new(),
        }
    }

    /// The name of `address` if known; otherwise its lookup starts (when there is room),
    /// and a later call may know it.
    pub(crate) fn get(&mut self, address: IpAddr) -> Option<Arc<str>> {
        if let Some(known) = self.cache.get(&address) {
            return known.clone();
        }
        if self.pending.len() < MAX_PENDING {
            self.ask(address);
        }
        None
    }

    /// The name of `address` if a lookup found it; nothing is asked.
    pub(crate) fn known(&self, address: IpAddr) -> Option<Arc<str>> {
        self.cache.get(&address).cloned().flatten()
    }

    /// Starts the lookup of `address`, unless it is under way.
    fn ask(&mut self, address: IpAddr) {
        if !self.cache.contains_key(&address) && self.asked.insert(address) {
            let resolver = self.resolver.clone();
            self.pending.push(Box::pin(async move {
                let name = tokio::time::timeout(NAME_TIMEOUT, resolver.reverse(address))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten();
                (address, name.map(Arc::from))
            }));
        }
    }

    /// Takes the lookups that ended; true when one did. Wakes the task when the next one
    /// ends.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> bool {
        let mut ended = false;
        while let Poll::Ready(Some((address, name))) = self.pending.poll_next_unpin(cx) {
            self.asked.remove(&address);
            if self.cache.len() >= MAX_CACHED {
                self.cache.clear();
            }
            self.cache.insert(address, name);
            ended = true;
        }
        ended
    }

    /// Looks up the names of `addresses` at once, all within [`NAME_TIMEOUT`]; those not
    /// found by then stay unknown.
    pub(crate) async fn all(&mut self, addresses: impl IntoIterator<Item = IpAddr>) {
        for address in addresses {
            self.ask(address);
        }
        let deadline = tokio::time::Instant::now() + NAME_TIMEOUT;
        while !self.pending.is_empty() {
            match tokio::time::timeout_at(deadline, self.pending.next()).await {
                Ok(Some((address, name))) => {
                    self.asked.remove(&address);
                    self.cache.insert(address, name);
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
}
