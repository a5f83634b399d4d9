//! The shared engine: one ICMP socket, one receive task (the demultiplexer) and the table
//! of requests waiting for a reply.
//!
//! Any number of tasks send through one [`Engine`]; each request is registered in the
//! [`PendingTable`](pending::PendingTable) under a key no other request in flight uses,
//! then sent. The receive task drains the socket, decodes each datagram and hands the
//! reply to the request's waiter when its peer, identifier, sequence and payload all
//! match: the request's own channel ([`Engine::send`]), or the inbox of the sweep that
//! sent it ([`Engine::launch`]). A request that times out or is abandoned removes its
//! entry, so late replies are dropped and the table only holds what is in flight.
//!
//! The engine knows nothing of ping statistics: it sends probes and returns replies.

mod driver;
mod pending;
mod registry;
mod waiter;

use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::socket::{
    AsyncIcmpSocket, Drained, IcmpReply, IcmpRequest, Received, RecvBatch, SocketKind, later,
};
use crate::{Error, Result};
use pending::{Key, PendingTable};

pub(crate) use pending::Ticket;
pub(crate) use registry::engine_for;
use waiter::Waiter;
pub(crate) use waiter::{Inbox, Token};

/// Default kernel receive buffer of an engine's socket: room for thousands of replies.
pub(crate) const DEFAULT_RECV_BUFFER: usize = 4 << 20;

/// Receive buffer room per request in flight: a small reply costs the kernel about a
/// kilobyte of buffer accounting (its `truesize`), with headroom.
const BUFFER_PER_REQUEST: usize = 2048;

/// The receive buffer is not grown beyond this.
const MAX_RECV_BUFFER: usize = 256 << 20;

/// Largest datagram read: an echo reply with the largest payload and an IPv4 header.
pub(crate) const DATAGRAM_BUFFER_LEN: usize = 65_536 + 60;

/// Datagrams a request whose timeout expired reads at most on its own (see
/// [`Core::catch_up`]).
const CATCH_UP_MAX: usize = 65_536;

/// How to open an engine's socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct EngineConfig {
    pub kind: SocketKind,
    pub source: Option<IpAddr>,
    pub recv_buffer_size: usize,
}

/// One probe to send: an echo request whose sequence number the engine chooses.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub destination: IpAddr,
    /// The identifier to send (raw sockets); `None` for the engine's own.
    pub id: Option<u16>,
    pub payload: Arc<[u8]>,
    pub ttl: u8,
    pub traffic_class: u8,
}

/// A handle on a shared engine; cheap to clone. The receive task stops when the last
/// handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Engine {
    handle: Arc<Handle>,
}

#[derive(Debug)]
struct Handle {
    core: Arc<Core>,
    /// Dropped with the last handle, which tells the receive task to stop.
    _stop: oneshot::Sender<()>,
}

/// What the engine's handles, its receive task and its requests in flight share.
#[derive(Debug)]
pub(crate) struct Core {
    socket: AsyncIcmpSocket,
    table: Mutex<PendingTable<Waiter>>,
    /// The identifier of requests that do not ask for one (raw sockets).
    id: u16,
    /// The receive buffer size asked for so far.
    recv_buffer: AtomicUsize,
    /// Held by whoever reads the socket (the receive task, or a request catching up) from
    /// the read until the datagrams read are handed out: a reader that finds the socket
    /// empty then knows nothing read earlier is still on its way to its request.
    reading: Mutex<()>,
    /// When the socket was last seen empty, in nanoseconds since `epoch`: every reply
    /// that arrived before was handed to its request.
    drained_at: AtomicU64,
    epoch: Instant,
    /// Set once the table is closed: checked by every call that looks up its engine,
    /// without taking the table's lock.
    closed: AtomicBool,
}

impl Core {
    fn table(&self) -> MutexGuard<'_, PendingTable<Waiter>> {
        // The table stays consistent even if a holder panicked: every operation on it is
        // a single map update.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Hands `received` to the request it answers, if one waits for it.
    fn dispatch(&self, received: &Received, buf: &[u8]) {
        let privileged = self.socket.is_privileged();
        let key = Key {
            peer: received.peer,
            id: if privileged { received.id } else { 0 },
            sequence: received.sequence,
        };
        let waiter = self
            .table()
            .complete(&key, |payload| received.payload_is(payload, buf));
        match waiter {
            Some(waiter) => waiter.deliver(Ok(received.to_reply(self.socket.family()))),
            None => tracing::trace!(
                peer = %received.peer,
                id = received.id,
                sequence = received.sequence,
                "reply for no request in flight"
            ),
        }
    }

    /// Requests waiting for a reply.
    fn in_flight(&self) -> usize {
        self.table().len()
    }

    /// Records that the socket was found empty at `now`.
    fn mark_drained(&self, now: Instant) {
        let nanos =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        self.drained_at.fetch_max(nanos, Ordering::Relaxed);
    }

    /// True when the socket was found empty at or after `instant`.
    fn drained_since(&self, instant: Instant) -> bool {
        let nanos = u64::try_from(instant.saturating_duration_since(self.epoch).as_nanos())
            .unwrap_or(u64::MAX);
        self.drained_at.load(Ordering::Relaxed) >= nanos
    }

    /// Makes sure every reply that arrived before `deadline` was handed out: when the
    /// receive task is behind (a burst of thousands of replies), the calling task reads
    /// the socket itself instead of declaring its request timed out while its reply waits
    /// in the buffer.
    fn catch_up(&self, deadline: Instant) {
        if self.drained_since(deadline) {
            return;
        }
        thread_local! {
            static BATCH: RefCell<Option<RecvBatch>> = const { RefCell::new(None) };
        }
        BATCH.with_borrow_mut(|batch| {
            let batch = batch.get_or_insert_with(|| RecvBatch::new(DATAGRAM_BUFFER_LEN));
            let result =
                self.socket
                    .try_drain(batch, &self.reading, CATCH_UP_MAX, |received, buf| {
                        self.dispatch(received, buf)
                    });
            if let Ok(Drained::Empty { checked_at, .. }) = result {
                self.mark_drained(checked_at);
            }
        });
    }

    /// Grows the receive buffer with the requests in flight, so that a burst of replies
    /// is not dropped by the kernel before the receive task reads it.
    fn reserve_buffer(&self, in_flight: usize) {
        let wanted = in_flight
            .saturating_mul(BUFFER_PER_REQUEST)
            .min(MAX_RECV_BUFFER);
        let current = self.recv_buffer.load(Ordering::Relaxed);
        if wanted <= current {
            return;
        }
        let grown = wanted
            .saturating_mul(2)
            .next_power_of_two()
            .min(MAX_RECV_BUFFER);
        let claimed = self
            .recv_buffer
            .compare_exchange(current, grown, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        if claimed && let Err(error) = self.socket.set_recv_buffer_size(grown) {
            tracing::debug!(%error, grown, "cannot grow the receive buffer");
        }
    }

    /// Closes the table with `error` and tells every waiter.
    fn close(&self, error: Error) {
        let waiters = self.table().close(error.clone());
        self.closed.store(true, Ordering::Release);
        for waiter in waiters {
            waiter.deliver(Err(error.clone()));
        }
    }
}

/// A process-wide source of identifiers, starting at a random value, so that engines in
/// one process (one per runtime and kind) use different identifiers on their raw sockets.
fn next_engine_id() -> u16 {
    static NEXT: OnceLock<AtomicU16> = OnceLock::new();
    NEXT.get_or_init(|| AtomicU16::new(rand::random()))
        .fetch_add(1, Ordering::Relaxed)
}

impl Engine {
    /// Opens the socket and spawns the receive task on the current runtime.
    pub fn open(config: EngineConfig) -> Result<Engine> {
        let socket =
            AsyncIcmpSocket::new(config.kind.family, config.source, config.kind.privileged)?;
        // A smaller buffer than asked for is not fatal (unprivileged processes are capped
        // by net.core.rmem_max); replies may then be dropped under heavy load.
        if let Err(error) = socket.set_recv_buffer_size(config.recv_buffer_size) {
            tracing::debug!(%error, "cannot set the receive buffer size");
        }
        let core = Arc::new(Core {
            socket,
            table: Mutex::new(PendingTable::new(rand::random())),
            id: next_engine_id(),
            recv_buffer: AtomicUsize::new(config.recv_buffer_size),
            reading: Mutex::new(()),
            drained_at: AtomicU64::new(0),
            epoch: Instant::now(),
            closed: AtomicBool::new(false),
        });
        let (stop, stopped) = oneshot::channel();
        // The guard is made here, not in the task: a task dropped before its first poll
        // (its runtime shutting down) still closes the table.
        tokio::spawn(driver::run(driver::CloseOnExit(Arc::clone(&core)), stopped));
        Ok(Engine {
            handle: Arc::new(Handle { core, _stop: stop }),
        })
    }

    /// True once the engine cannot be used any more (its socket failed, or its receive
    /// task stopped with its runtime).
    pub fn is_closed(&self) -> bool {
        self.handle.core.closed.load(Ordering::Acquire)
    }

    /// Registers `probe` with `waiter` in the table and encodes it.
    fn register(&self, probe: &Probe, waiter: Waiter) -> Result<(Ticket, IcmpRequest, Vec<u8>)> {
        let core = &self.handle.core;
        let privileged = core.socket.is_privileged();
        let id = probe.id.unwrap_or(core.id);
        let (ticket, in_flight) = {
            let mut table = core.table();
            let ticket = table.insert(
                probe.destination,
                if privileged { id } else { 0 },
                Arc::clone(&probe.payload),
                waiter,
            )?;
            (ticket, table.len())
        };
        core.reserve_buffer(in_flight);
        let request = IcmpRequest::from_parts(
            probe.destination,
            id,
            ticket.key.sequence,
            Arc::clone(&probe.payload),
            probe.ttl,
            probe.traffic_class,
        );
        let mut message = Vec::with_capacity(probe.payload.len() + 8);
        request.encode(&mut message);
        Ok((ticket, request, message))
    }

    /// Registers `probe` and sends it. The returned [`InFlight`] waits for the reply.
    ///
    /// # Errors
    /// The engine's error once it is closed; the send error (no route, broadcast, ...).
    pub async fn send(&self, probe: &Probe) -> Result<InFlight> {
        let core = &self.handle.core;
        let (waiter, reply) = oneshot::channel();
        let (ticket, request, message) = self.register(probe, Waiter::Channel(waiter))?;
        // From here on, dropping `registration` (on error or cancellation) removes the entry.
        let registration = Registration {
            core: Arc::clone(core),
            ticket,
            settled: false,
        };
        let sent_at = match core.socket.try_send_encoded(&request, &message)? {
            Some(sent_at) => sent_at,
            // Boxed: the wait for room in the send buffer is rare, and its state would
            // make every request in flight larger (a sweep holds thousands).
            None => Box::pin(core.socket.send_encoded(&request, &message)).await?,
        };
        Ok(InFlight {
            registration,
            reply,
            sent_at,
        })
    }

    /// Registers `probe` and sends it if the send buffer has room; its reply (or the
    /// engine's error) goes to `inbox` under `token`. The caller owns the returned ticket:
    /// it [forgets](Engine::forget) it when it gives up on the request before a reply.
    ///
    /// # Errors
    /// The engine's error once it is closed; the send error (the request is then
    /// forgotten already).
    pub fn launch(&self, probe: &Probe, inbox: &Arc<Inbox>, token: Token) -> Result<Launched> {
        let core = &self.handle.core;
        let waiter = Waiter::Inbox(Arc::clone(inbox), token);
        let (ticket, request, message) = self.register(probe, waiter)?;
        let sending = match core.socket.try_send_encoded(&request, &message) {
            Ok(Some(sent_at)) => Sending::Sent(sent_at),
            Ok(None) => {
                let core = Arc::clone(core);
                Sending::Blocked(Box::pin(async move {
                    core.socket.send_encoded(&request, &message).await
                }))
            }
            Err(error) => {
                self.forget(&ticket);
                return Err(error);
            }
        };
        Ok(Launched { ticket, sending })
    }

    /// Forgets a request [launched](Engine::launch) and not answered (timed out, or
    /// abandoned): a late reply then finds nothing. Does nothing if it was answered.
    pub fn forget(&self, ticket: &Ticket) {
        self.handle.core.table().remove(ticket);
    }

    /// Hands out every reply that arrived before `deadline` and may still wait in the
    /// socket buffer (see [`InFlight::reply`]): call before declaring a request timed out.
    pub fn catch_up(&self, deadline: Instant) {
        self.handle.core.catch_up(deadline);
    }

    /// Requests in flight: registered and not yet answered, timed out or dropped.
    pub fn in_flight(&self) -> usize {
        self.handle.core.in_flight()
    }

    #[cfg(test)]
    fn core(&self) -> &Arc<Core> {
        &self.handle.core
    }
}

/// A request [launched](Engine::launch) for an inbox.
pub(crate) struct Launched {
    pub ticket: Ticket,
    pub sending: Sending,
}

/// Whether a launched request left.
pub(crate) enum Sending {
    /// It left at this instant.
    Sent(Instant),
    /// The send buffer was full: this future sends it once there is room, and returns
    /// when it left.
    Blocked(futures::future::BoxFuture<'static, Result<Instant>>),
}

/// Removes its request from the table when dropped, unless a reply took it already.
#[derive(Debug)]
struct Registration {
    core: Arc<Core>,
    ticket: Ticket,
    /// Set once the request's channel got a value or was closed: whoever sent or closed
    /// it removed the entry first, so there is nothing to remove (and no lock to take).
    settled: bool,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if !self.settled {
            self.core.table().remove(&self.ticket);
        }
    }
}

/// A request that was sent and waits for its reply.
#[derive(Debug)]
pub(crate) struct InFlight {
    registration: Registration,
    reply: oneshot::Receiver<Result<IcmpReply>>,
    sent_at: Instant,
}

impl InFlight {
    /// When the request left, on the monotonic clock.
    pub fn sent_at(&self) -> Instant {
        self.sent_at
    }

    /// Waits for the reply (an echo reply or an ICMP error about the request) until
    /// `timeout` after the request left.
    ///
    /// # Errors
    /// [`Error::TimeoutExceeded`] when none came in time; the engine's error if its socket
    /// failed meanwhile.
    pub async fn reply(mut self, timeout: Duration) -> Result<IcmpReply> {
        let deadline = later(self.sent_at, timeout);
        let waited = tokio::time::timeout_at(deadline.into(), &mut self.reply).await;
        // The channel settles only after its entry left the table (see `Core::dispatch`
        // and `Core::close`).
        let (settled, result) = match waited {
            // Received after the deadline, before the timer fired (it rounds up to the
            // millisecond): too late all the same.
            Ok(Ok(Ok(reply))) if reply.time() > deadline => {
                (true, Err(Error::TimeoutExceeded { timeout }))
            }
            Ok(Ok(result)) => (true, result),
            // The receive task went away without a word: its runtime is shutting down.
            Ok(Err(_)) => (true, Err(Error::SocketUnavailable)),
            Err(_) => {
                // The reply may have arrived in time and still wait in the socket buffer.
                self.registration.core.catch_up(deadline);
                match self.reply.try_recv() {
                    Ok(Ok(reply)) if reply.time() <= deadline => (true, Ok(reply)),
                    Ok(Err(error)) => (true, Err(error)),
                    Ok(Ok(_)) => (true, Err(Error::TimeoutExceeded { timeout })),
                    Err(oneshot::error::TryRecvError::Closed) => {
                        (true, Err(Error::TimeoutExceeded { timeout }))
                    }
                    Err(oneshot::error::TryRecvError::Empty) => {
                        (false, Err(Error::TimeoutExceeded { timeout }))
                    }
                }
            }
        };
        self.registration.settled = settled;
        drop(self.registration);
        result
    }
}

#[cfg(test)]
mod tests;
