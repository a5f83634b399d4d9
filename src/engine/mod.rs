//! The engine: one [`Transport`] (on this machine, one ICMP socket), one reader task (the
//! demultiplexer) and the table of requests waiting for an answer.
//!
//! Any number of tasks send through one [`Engine`]: each request is registered in the
//! [`PendingTable`](pending::PendingTable) under a key no other request in flight uses,
//! then sent. The reader task reads the transport, and so does a task that just sent
//! requests ([`Engine::read_inline`]), one read at a time: each datagram is decoded and
//! the answer handed to the request's waiter when its peer, identifier, sequence and
//! payload all match. A request that times out or is abandoned removes its
//! entry, so late answers are dropped and the table only holds what is in flight.
//!
//! Before a request is declared timed out, its answer may still wait in the socket
//! buffer, the reader being behind (a burst of thousands of replies). The one rule for
//! that lives here: [`Engine::poll_drained`] is ready once the reader has read everything
//! that arrived before a deadline, and asks the reader to read now when it has not.
//!
//! The engine knows nothing of ping statistics: it sends probes and returns answers.

mod answered;
pub(crate) mod cache;
#[cfg(windows)]
mod icmp_api;
mod ids;
mod inbox;
mod pending;
mod reader;
pub(crate) mod transport;

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_flow;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::{Notify, oneshot};

use crate::clock;
use crate::error::{Error, Result};
use crate::packet::{Kind, keep_flow_sum};
use crate::socket::async_socket::Drained;
use crate::socket::received::Received;
use crate::socket::request::IcmpRequest;
use answered::Answered;
use ids::Ids;
pub(crate) use ids::raw_filters_work;
use inbox::Waiter;
pub(crate) use inbox::{Inbox, Token};
pub(crate) use pending::Ticket;
use pending::{Key, PendingTable};
use transport::{Outgoing, Transport};

/// Default kernel receive buffer of an engine's socket: room for thousands of replies.
pub(crate) const DEFAULT_RECV_BUFFER: usize = 4 << 20;

/// Receive buffer room per request in flight: a small reply costs the kernel about a
/// kilobyte of buffer accounting (its `truesize`), with headroom.
const BUFFER_PER_REQUEST: usize = 2048;

/// The receive buffer is not grown beyond this.
const MAX_RECV_BUFFER: usize = 256 << 20;

/// Datagrams one read takes at most, by the reader or inline.
const BATCH: usize = 256;

/// How long after a task read answers inline (see [`Engine::read_inline`]) the reader
/// leaves the reading to such tasks, reading only now and then behind them.
const ATTENDED: Duration = Duration::from_millis(10);

/// One probe to send: an echo request whose sequence number the engine chooses.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub destination: IpAddr,
    /// The interface of a link-local IPv6 destination (its zone); 0 for none.
    pub scope_id: u32,
    /// The identifier to send (raw sockets); `None` for the engine's own.
    pub id: Option<u16>,
    pub payload: Arc<[u8]>,
    pub ttl: u8,
    /// The one's complement sum the sequence number and payload keep (ICMP-Paris: the
    /// first two payload bytes compensate once the sequence number is chosen); `None`
    /// for the payload as it is.
    pub flow: Option<u16>,
    pub traffic_class: u8,
    /// How long an answer is wanted after the probe left.
    pub timeout: Duration,
    /// Whether a second reply to the probe is handed over as a duplicate; when not (the
    /// last probe of a target), the engine remembers nothing of its answer, and a second
    /// reply is dropped as one for nobody.
    pub duplicates: bool,
}

/// `payload` with its first two bytes set so that `sequence` and the payload sum to `sum`
/// (see [`keep_flow_sum`]); as it is when too short to hold them.
fn flow_payload(payload: &[u8], sum: u16, sequence: u16) -> Arc<[u8]> {
    let mut bytes = payload.to_vec();
    keep_flow_sum(sequence, &mut bytes, sum);
    bytes.into()
}

/// A handle on an engine; cheap to clone. The reader task stops when the last handle is
/// dropped, and the transport closes with it.
#[derive(Debug, Clone)]
pub(crate) struct Engine {
    handle: Arc<Handle>,
}

#[derive(Debug)]
struct Handle {
    core: Arc<Core>,
    /// Dropped with the last handle, which tells the reader task to stop.
    _stop: oneshot::Sender<()>,
}

/// What the engine's handles, its reader task and its requests in flight share.
#[derive(Debug)]
pub(crate) struct Core {
    transport: Box<dyn Transport>,
    table: Mutex<PendingTable<Waiter>>,
    /// The last requests answered, for duplicates.
    answered: Mutex<Answered>,
    /// The identifiers of its requests (raw sockets) and their filter.
    ids: Ids,
    /// The receive buffer size asked for so far.
    recv_buffer: AtomicUsize,
    progress: Progress,
    /// Set once the table is closed: checked by every call that looks up its engine,
    /// without taking the table's lock.
    closed: AtomicBool,
    /// Told when the engine closes (its owner drops it then).
    on_close: Option<OnClose>,
}

/// What to do when an engine closes.
pub(crate) struct OnClose(pub(crate) Box<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for OnClose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnClose")
    }
}

/// How far the reader got: when it last found the transport empty, and who waits for it
/// to get further.
struct Progress {
    /// When the transport was last found empty, in nanoseconds since `epoch`: every
    /// answer that arrived before was handed to its request.
    drained_at: AtomicU64,
    epoch: Instant,
    /// Tasks waiting for the reader to drain past their deadline.
    waiters: Mutex<Vec<Waker>>,
    /// Asks the reader to read now.
    wanted: Notify,
    /// When a task that sent requests last read their answers itself
    /// ([`Engine::read_inline`]), in nanoseconds since `epoch`.
    read_inline_at: AtomicU64,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("drained_at", &self.drained_at)
            .finish_non_exhaustive()
    }
}

impl Progress {
    fn new() -> Progress {
        Progress {
            drained_at: AtomicU64::new(0),
            epoch: clock::now(),
            waiters: Mutex::new(Vec::new()),
            wanted: Notify::new(),
            read_inline_at: AtomicU64::new(0),
        }
    }

    fn nanos(&self, instant: Instant) -> u64 {
        let since = instant.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(since).unwrap_or(u64::MAX)
    }

    /// True while tasks that sent requests read their answers themselves: one did within
    /// [`ATTENDED`] of `now`.
    fn attended(&self, now: Instant) -> bool {
        let read_at = self.read_inline_at.load(Ordering::Acquire);
        read_at != 0 && self.nanos(now).saturating_sub(read_at) < ATTENDED.as_nanos() as u64
    }

    /// True when the transport was found empty at or after `instant`.
    fn drained_since(&self, instant: Instant) -> bool {
        self.drained_at.load(Ordering::Acquire) >= self.nanos(instant)
    }

    /// Records that the transport was found empty at `checked_at`, and wakes the tasks
    /// waiting for that.
    fn drained(&self, checked_at: Instant) {
        self.drained_at
            .fetch_max(self.nanos(checked_at), Ordering::AcqRel);
        self.wake_all();
    }

    fn wake_all(&self) {
        let waiters = std::mem::take(&mut *lock(&self.waiters));
        for waker in waiters {
            waker.wake();
        }
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked: every operation
/// on the engine's shared state is a single update.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Core {
    fn table(&self) -> MutexGuard<'_, PendingTable<Waiter>> {
        lock(&self.table)
    }

    /// Hands `received` to the request it answers, if one waits for it.
    fn dispatch(&self, received: &Received, buf: &[u8]) {
        let key = Key {
            peer: received.peer,
            id: if self.transport.keeps_id() {
                received.id
            } else {
                0
            },
            sequence: received.sequence,
        };
        let waiter = self
            .table()
            .complete(&key, |payload| received.payload_is(payload, buf));
        let family = self.transport.family();
        let echo_payload = (received.kind == Kind::EchoReply)
            .then(|| received.payload.clone().and_then(|range| buf.get(range)))
            .flatten();
        match (waiter, echo_payload) {
            (Some((inbox, token, true)), Some(payload)) => {
                lock(&self.answered).record(key, &inbox, token, payload);
                inbox.deliver(token, Ok(received.to_reply(family)));
            }
            (Some((inbox, token, _)), _) => inbox.deliver(token, Ok(received.to_reply(family))),
            (None, payload) => {
                let duplicate =
                    payload.and_then(|payload| lock(&self.answered).duplicate(&key, payload));
                match duplicate {
                    Some((inbox, token)) => {
                        inbox.deliver_duplicate(token, received.to_reply(family));
                    }
                    None => tracing::trace!(
                        peer = %received.peer,
                        id = received.id,
                        sequence = received.sequence,
                        "answer for no request in flight"
                    ),
                }
            }
        }
    }

    /// Requests waiting for an answer.
    fn in_flight(&self) -> usize {
        self.table().len()
    }

    /// Grows the receive buffer with the requests in flight, so that a burst of replies
    /// is not dropped by the kernel before the reader gets to it.
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
        if claimed && let Err(error) = self.transport.set_recv_buffer_size(grown) {
            tracing::debug!(%error, grown, "cannot grow the receive buffer");
        }
    }

    /// Closes the table with `error`, tells every waiter, and wakes the tasks waiting for
    /// the reader (it will not get further).
    fn close(&self, error: Error) {
        let waiters = self.table().close(error.clone());
        self.closed.store(true, Ordering::Release);
        for (inbox, token, _) in waiters {
            inbox.deliver(token, Err(error.clone()));
        }
        self.progress.wake_all();
        if let Some(OnClose(on_close)) = &self.on_close {
            on_close();
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// Runs `encode_and_send` with an empty buffer to encode a request into: the calling
/// thread's own, kept from one request to the next (an allocation per request was 1 % of
/// a loopback sweep's CPU), or a new one should the thread's be in use.
fn with_message_buffer<T>(encode_and_send: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    thread_local! {
        static MESSAGE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    MESSAGE.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut message) => {
            message.clear();
            let result = encode_and_send(&mut message);
            // A large request's room is not kept for the small ones that follow.
            if message.capacity() > 4_096 {
                *message = Vec::new();
            }
            result
        }
        Err(_) => encode_and_send(&mut Vec::new()),
    })
}

impl Engine {
    /// An engine on `transport`, with a receive buffer of `recv_buffer_size` asked for
    /// (a smaller one is not fatal: unprivileged processes are capped by
    /// `net.core.rmem_max`; replies may then be dropped under heavy load). Spawns the
    /// reader task on the current runtime; `on_close` is called when the engine closes.
    pub(crate) fn start(
        transport: Box<dyn Transport>,
        recv_buffer_size: usize,
        on_close: Option<OnClose>,
    ) -> Engine {
        if let Err(error) = transport.set_recv_buffer_size(recv_buffer_size) {
            tracing::debug!(%error, "cannot set the receive buffer size");
        }
        let ids = Ids::new(transport.as_ref());
        let core = Arc::new(Core {
            transport,
            table: Mutex::new(PendingTable::new(rand::random())),
            answered: Mutex::new(Answered::default()),
            ids,
            recv_buffer: AtomicUsize::new(recv_buffer_size),
            progress: Progress::new(),
            closed: AtomicBool::new(false),
            on_close,
        });
        let (stop, stopped) = oneshot::channel();
        // The guard is made here, not in the task: a task dropped before its first poll
        // (its runtime shutting down) still closes the table.
        tokio::spawn(reader::run(reader::CloseOnExit(Arc::clone(&core)), stopped));
        Engine {
            handle: Arc::new(Handle { core, _stop: stop }),
        }
    }

    /// True once the engine cannot be used any more (its transport failed, or its reader
    /// stopped with its runtime).
    pub(crate) fn is_closed(&self) -> bool {
        self.handle.core.is_closed()
    }

    /// Why the engine closed, once it did (its socket failed, its runtime shut down).
    pub(crate) fn closed_error(&self) -> Option<Error> {
        self.handle.core.table().closed().cloned()
    }

    /// Registers `probe` for `inbox` under `token` and sends it if the send buffer has
    /// room; its answer (or the engine's error) goes to `inbox`. The caller owns the
    /// returned ticket: it [forgets](Engine::forget) it when it gives up on the request
    /// before an answer.
    ///
    /// # Errors
    /// The engine's error once it is closed; [`Error::InvalidOption`] when every sequence
    /// number to this peer is in flight; the send error (the request is then forgotten
    /// already).
    pub(crate) fn launch(
        &self,
        probe: &Probe,
        inbox: &Arc<Inbox>,
        token: Token,
    ) -> Result<Launched> {
        let core = &self.handle.core;
        let keeps_id = core.transport.keeps_id();
        // A flow-stable probe's payload is made once its sequence number is chosen.
        let mut payload = Arc::clone(&probe.payload);
        let flow = probe.flow.filter(|_| core.transport.keeps_sequence());
        let (ticket, id, in_flight) = {
            let mut table = core.table();
            let id = match probe.id {
                Some(id) if keeps_id => {
                    core.ids.keep(id, false, &table, core.transport.as_ref())?;
                    id
                }
                Some(id) => id,
                None if keeps_id => {
                    core.ids
                        .free(&table, probe.destination, core.transport.as_ref())
                }
                None => core.ids.own,
            };
            let ticket = table.insert_with(
                probe.destination,
                if keeps_id { id } else { 0 },
                |sequence| {
                    if let Some(sum) = flow {
                        payload = flow_payload(&probe.payload, sum, sequence);
                    }
                    Arc::clone(&payload)
                },
                (Arc::clone(inbox), token, probe.duplicates),
            )?;
            (ticket, id, table.len())
        };
        core.reserve_buffer(in_flight);
        let request = IcmpRequest::from_parts(
            probe.destination,
            id,
            ticket.key.sequence,
            payload,
            probe.ttl,
            probe.traffic_class,
        )
        .with_scope_id(probe.scope_id);
        let wait = probe.timeout;
        let sent = with_message_buffer(|message| {
            request.encode(message);
            // The buffer stays for the next request; one that must wait takes a copy.
            let sent = core.transport.try_send(Outgoing {
                request: &request,
                message,
                wait,
            });
            sent.map(|sent| sent.ok_or_else(|| message.clone()))
        });
        let sending = match sent {
            Ok(Ok(sent_at)) => Sending::Sent(sent_at),
            // Boxed: the wait for room in the send buffer is rare, and its state would
            // make every request in flight larger (a sweep holds thousands).
            Ok(Err(message)) => {
                let core = Arc::clone(core);
                Sending::Blocked(Box::pin(async move {
                    let outgoing = Outgoing {
                        request: &request,
                        message: &message,
                        wait,
                    };
                    core.transport.send(outgoing).await
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
    /// abandoned): a late answer then finds nothing. Does nothing if it was answered.
    pub(crate) fn forget(&self, ticket: &Ticket) {
        self.handle.core.table().remove(ticket);
    }

    /// Ready once every answer that arrived before `deadline` was handed out (the reader
    /// found the transport empty at or after it), or once the engine closed: a request
    /// whose deadline passed may then be declared timed out. When not, asks the reader to
    /// read now and wakes `cx` when it has.
    pub(crate) fn poll_drained(&self, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
        let core = &self.handle.core;
        let progress = &core.progress;
        if progress.drained_since(deadline) || core.is_closed() {
            return Poll::Ready(());
        }
        {
            let mut waiters = lock(&progress.waiters);
            if !waiters.iter().any(|waker| waker.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
        }
        // The reader may have got there meanwhile, before it could see the waker.
        if progress.drained_since(deadline) || core.is_closed() {
            return Poll::Ready(());
        }
        progress.wanted.notify_one();
        Poll::Pending
    }

    /// Reads the answers that are there now, on the caller's thread, and hands them out:
    /// for a task that just sent requests. On a multi-thread runtime the reader task runs
    /// on another worker, and each batch it hands over costs a wake-up across threads;
    /// read here, a sweep sends and reads on one thread as a plain loop would (measured:
    /// the CPU of a loopback sweep at 1,000 in flight fell from 2.7 to 1.3 times the
    /// raw-socket loop's; see `benches/sweep.rs`). While tasks read inline, the reader
    /// reads only now and then, behind them. True when something was read.
    ///
    /// A read that found the transport empty counts as the reader's would: it held the
    /// transport's one read (no other read was under way), so everything that arrived
    /// before was handed out. Reads nothing when another read is under way, or the
    /// transport has none of its own (Windows' ICMP API).
    pub(crate) fn read_inline(&self) -> bool {
        let core = &self.handle.core;
        if core.is_closed() || core.in_flight() == 0 {
            return false;
        }
        let read = core
            .transport
            .read_now(BATCH, &mut |received, buf| core.dispatch(received, buf));
        let drained = match read {
            Ok(Some(drained)) => drained,
            // Another read is under way, or the reader will meet the error itself.
            Ok(None) | Err(_) => return false,
        };
        let progress = &core.progress;
        let now = clock::now();
        progress
            .read_inline_at
            .fetch_max(progress.nanos(now).max(1), Ordering::AcqRel);
        match drained {
            Drained::Empty { read, checked_at } => {
                progress.drained(checked_at);
                read > 0
            }
            Drained::Full => true,
        }
    }

    /// Requests in flight: registered and not yet answered, timed out or forgotten.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
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
    Blocked(BoxFuture<'static, Result<Instant>>),
}
