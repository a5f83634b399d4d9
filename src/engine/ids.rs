//! The echo identifiers of an engine's raw socket: its own, the extra ones it takes when
//! 65,536 requests to one peer are in flight under the others, and the in-kernel filter
//! that keeps only the replies to them ([`Transport::keep_ids`]).
//!
//! Every raw socket receives a copy of every ICMP message the host receives: the filter
//! drops the echo replies to other sockets' identifiers (another shard of a sweep,
//! another pinger, another program) before they are queued. It follows the identifiers
//! requests leave with, chosen ones included; past [`MAX_FILTER_IDS`], it goes.

use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, AtomicU16, Ordering};
use std::sync::{Mutex, OnceLock};

use super::inbox::Waiter;
use super::lock;
use super::pending::PendingTable;
use super::transport::Transport;
use crate::socket::sys::MAX_FILTER_IDS;

/// Identifiers an engine of a raw socket uses at most: requests in flight to one peer at
/// most, in units of 65,536.
const MAX_IDS: usize = 16;

/// Whether the last raw socket opened took the identifier filter: 0 before any, 1 when it
/// did, 2 when the system refused it.
static FILTERS: AtomicU8 = AtomicU8::new(0);

/// Whether raw sockets take the identifier filter here, as the last one opened did;
/// `None` before any was opened.
pub(crate) fn raw_filters_work() -> Option<bool> {
    match FILTERS.load(Ordering::Relaxed) {
        0 => None,
        state => Some(state == 1),
    }
}

/// A process-wide source of identifiers, starting at a random value, so that engines in
/// one process use different identifiers on their raw sockets.
fn next_engine_id() -> u16 {
    static NEXT: OnceLock<AtomicU16> = OnceLock::new();
    NEXT.get_or_init(|| AtomicU16::new(rand::random()))
        .fetch_add(1, Ordering::Relaxed)
}

/// An engine's identifiers.
#[derive(Debug)]
pub(super) struct Ids {
    /// The identifier of requests that do not ask for one (raw sockets).
    pub(super) own: u16,
    /// More identifiers, taken (raw sockets) when 65,536 requests to one peer are in
    /// flight under the others: each one gives room for 65,536 more.
    extra: Mutex<Vec<u16>>,
    /// The identifiers whose echo replies the raw socket's in-kernel filter keeps: the
    /// own one, then the extra and the chosen ones. `None` when the socket keeps every
    /// reply (datagram sockets, systems without the filter, more identifiers than a
    /// filter holds).
    kept: Mutex<Option<Vec<u16>>>,
}

impl Ids {
    /// A new identifier for the engine of `transport`, whose socket keeps only the
    /// replies to it where it can (a raw socket on Linux): measured on a sweep over two
    /// raw sockets, each would otherwise read every reply of both.
    pub(super) fn new(transport: &dyn Transport) -> Ids {
        let own = next_engine_id();
        let mut kept = None;
        if transport.keeps_id() {
            match transport.keep_ids(Some(&[own])) {
                Ok(()) => kept = Some(vec![own]),
                Err(error) => tracing::debug!(%error, "no identifier filter on a raw socket"),
            }
            FILTERS.store(if kept.is_some() { 1 } else { 2 }, Ordering::Relaxed);
        }
        Ids {
            own,
            extra: Mutex::new(Vec::new()),
            kept: Mutex::new(kept),
        }
    }

    /// The identifier for a request to `peer` that asks for none, on a raw socket: the
    /// engine's own, or, once 65,536 requests to `peer` are in flight under it, another
    /// one taken from the process's identifiers (so no other engine uses it), up to
    /// [`MAX_IDS`] in all; then the own one, whose insert says why it fails.
    pub(super) fn free(
        &self,
        table: &PendingTable<Waiter>,
        peer: IpAddr,
        transport: &dyn Transport,
    ) -> u16 {
        if !table.is_full(peer, self.own) {
            return self.own;
        }
        let mut extra = lock(&self.extra);
        if let Some(id) = extra.iter().copied().find(|id| !table.is_full(peer, *id)) {
            return id;
        }
        if extra.len() + 1 < MAX_IDS {
            let id = next_engine_id();
            if self.keep(id, transport).is_ok() {
                extra.push(id);
                return id;
            }
        }
        self.own
    }

    /// Makes sure the socket's filter keeps the replies with `id` (a raw socket's),
    /// before a request leaves with it: added to the filter, or, past the identifiers a
    /// filter holds or when that fails, the filter is removed and every reply kept.
    ///
    /// # Errors
    /// When even the removal fails: a request with `id` would not see its answer.
    pub(super) fn keep(&self, id: u16, transport: &dyn Transport) -> io::Result<()> {
        let mut kept = lock(&self.kept);
        let Some(ids) = kept.as_mut() else {
            return Ok(());
        };
        if ids.contains(&id) {
            return Ok(());
        }
        ids.push(id);
        if ids.len() <= MAX_FILTER_IDS && transport.keep_ids(Some(ids)).is_ok() {
            return Ok(());
        }
        ids.pop();
        transport.keep_ids(None).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!(
                    "cannot let the replies to identifier {id} through the raw socket's \
                     identifier filter ({error}): use another identifier"
                ),
            )
        })?;
        *kept = None;
        Ok(())
    }
}
