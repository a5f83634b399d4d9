//! The echo identifiers of an engine's raw socket: its own, the extra ones it takes when
//! 65,536 requests to one peer are in flight under the others, and the in-kernel filter
//! that keeps only the replies to them ([`Transport::keep_ids`]).
//!
//! Every raw socket receives a copy of every ICMP message the host receives: the filter
//! drops the echo replies to other sockets' identifiers (another shard of a sweep,
//! another pinger, another program) before they are queued. It follows the identifiers
//! requests leave with, chosen ones included: a chosen identifier stays in it while there
//! is room, and leaves it when room is needed and no request with it is in flight. Only
//! while more chosen identifiers than a filter holds ([`MAX_FILTER_IDS`]) are in flight at
//! once does the socket keep every reply, and the filter comes back when they leave.

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
    /// The raw socket's in-kernel filter.
    filter: Mutex<Filter>,
    /// Whether the filter is off for too many chosen identifiers in flight (read without
    /// the lock on every request, by [`Ids::retry`]).
    every: std::sync::atomic::AtomicBool,
}

/// What a raw socket's identifier filter keeps.
#[derive(Debug)]
struct Filter {
    state: Kept,
    /// The engine's own identifiers (its own, its extra ones): never left out.
    permanent: Vec<u16>,
    /// Calls while every reply is kept, to try the filter again every [`RETRY_EVERY`].
    waiting: u32,
}

#[derive(Debug, PartialEq)]
enum Kept {
    /// No filter: a datagram socket (the kernel matches its identifier), or a system
    /// without one.
    Nothing,
    /// The replies to these identifiers: the permanent ones, then chosen ones.
    Ids(Vec<u16>),
    /// Every reply: more chosen identifiers are in flight than a filter holds.
    Every,
}

/// While every reply is kept, the filter is tried again at one request in this many
/// (each try looks through the requests in flight for their identifiers).
const RETRY_EVERY: u32 = 64;

impl Ids {
    /// A new identifier for the engine of `transport`, whose socket keeps only the
    /// replies to it where it can (a raw socket on Linux): measured on a sweep over two
    /// raw sockets, each would otherwise read every reply of both.
    pub(super) fn new(transport: &dyn Transport) -> Ids {
        let own = next_engine_id();
        let mut state = Kept::Nothing;
        if transport.keeps_id() {
            match transport.keep_ids(Some(&[own])) {
                Ok(()) => state = Kept::Ids(vec![own]),
                Err(error) => tracing::debug!(%error, "no identifier filter on a raw socket"),
            }
            FILTERS.store(
                if state == Kept::Nothing { 2 } else { 1 },
                Ordering::Relaxed,
            );
        }
        Ids {
            own,
            extra: Mutex::new(Vec::new()),
            filter: Mutex::new(Filter {
                state,
                permanent: vec![own],
                waiting: 0,
            }),
            every: std::sync::atomic::AtomicBool::new(false),
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
            self.retry(table, transport);
            return self.own;
        }
        let mut extra = lock(&self.extra);
        if let Some(id) = extra.iter().copied().find(|id| !table.is_full(peer, *id)) {
            return id;
        }
        if extra.len() + 1 < MAX_IDS {
            let id = next_engine_id();
            if self.keep(id, true, table, transport).is_ok() {
                extra.push(id);
                return id;
            }
        }
        self.own
    }

    /// Makes sure the socket's filter keeps the replies with `id` (a raw socket's),
    /// before a request leaves with it (`permanent` for the engine's own identifiers).
    /// When the filter is full, the chosen identifiers no request in `table` uses leave
    /// it; when more chosen ones than it holds are in flight, or the system refuses the
    /// filter, it is removed and every reply kept, until [`Ids::retry`] finds room.
    ///
    /// # Errors
    /// When even the removal fails: a request with `id` would not see its answer.
    pub(super) fn keep<W>(
        &self,
        id: u16,
        permanent: bool,
        table: &PendingTable<W>,
        transport: &dyn Transport,
    ) -> io::Result<()> {
        let mut filter = lock(&self.filter);
        let mut ids = match &filter.state {
            Kept::Nothing => return Ok(()),
            Kept::Ids(ids) if ids.contains(&id) => {
                if permanent {
                    filter.permanent.push(id);
                }
                return Ok(());
            }
            Kept::Ids(ids) => ids.clone(),
            Kept::Every => {
                // Every reply is read already; looking through the requests in flight
                // for room is for one request in RETRY_EVERY.
                if permanent {
                    filter.permanent.push(id);
                }
                filter.waiting += 1;
                if !filter.waiting.is_multiple_of(RETRY_EVERY) {
                    return Ok(());
                }
                filter.permanent.clone()
            }
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
        if ids.len() > MAX_FILTER_IDS || filter.state == Kept::Every {
            let in_flight = table.ids_in_flight();
            ids.retain(|kept| {
                *kept == id || filter.permanent.contains(kept) || in_flight.contains(kept)
            });
            if filter.state == Kept::Every {
                for used in in_flight {
                    if !ids.contains(&used) {
                        ids.push(used);
                    }
                }
            }
        }
        if ids.len() <= MAX_FILTER_IDS && transport.keep_ids(Some(&ids)).is_ok() {
            if permanent && !filter.permanent.contains(&id) {
                filter.permanent.push(id);
            }
            filter.state = Kept::Ids(ids);
            self.every.store(false, Ordering::Relaxed);
            return Ok(());
        }
        if filter.state == Kept::Every {
            return Ok(());
        }
        transport.keep_ids(None).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!(
                    "cannot let the replies to identifier {id} through the raw socket's \
                     identifier filter ({error}): use another identifier"
                ),
            )
        })?;
        tracing::debug!(
            "more chosen identifiers in flight than a filter holds: every reply is read"
        );
        if permanent {
            filter.permanent.push(id);
        }
        filter.state = Kept::Every;
        filter.waiting = 0;
        self.every.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// While every reply is kept: at one call in [`RETRY_EVERY`], the filter again, if
    /// the identifiers in flight now fit in one.
    pub(super) fn retry<W>(&self, table: &PendingTable<W>, transport: &dyn Transport) {
        if !self.every.load(Ordering::Relaxed) {
            return;
        }
        let mut filter = lock(&self.filter);
        if filter.state != Kept::Every {
            return;
        }
        filter.waiting += 1;
        if !filter.waiting.is_multiple_of(RETRY_EVERY) {
            return;
        }
        let mut ids = filter.permanent.clone();
        for used in table.ids_in_flight() {
            if !ids.contains(&used) {
                ids.push(used);
            }
        }
        if ids.len() <= MAX_FILTER_IDS && transport.keep_ids(Some(&ids)).is_ok() {
            filter.state = Kept::Ids(ids);
            self.every.store(false, Ordering::Relaxed);
        }
    }
}
