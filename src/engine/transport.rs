//! The backend seam below the engine: a [`Transport`] carries encoded echo requests out and
//! brings back what may answer them, decoded into [`Received`]. The engine above it owns
//! the table of requests in flight, the matching and the one reader task; a transport only
//! moves packets.
//!
//! [`SocketTransport`] is the ICMP socket of this machine (raw or datagram). The tests use
//! a scripted transport in memory (`fake.rs`), so that the engine and the scheduler run
//! without privileges, without a network and in virtual time. Another system's backend
//! (Windows' `IcmpSendEcho2`) plugs in here too: it turns each completed request into a
//! `Received` of its own.

use std::fmt;
use std::io;
use std::sync::{Mutex, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::error::Result;
use crate::family::Family;
use crate::socket::async_socket::{AsyncIcmpSocket, Drained};
use crate::socket::received::Received;
use crate::socket::request::IcmpRequest;
use crate::socket::sys::{Readiness, RecvBatch};

/// What a transport hands each datagram that may answer a request to, with the buffer its
/// payload lies in.
pub(crate) type OnReply<'a> = dyn FnMut(&Received, &[u8]) + Send + 'a;

/// A request on its way out: the request, its encoding, and how long an answer is
/// wanted after it left (a backend that waits for answers itself, as Windows' ICMP API
/// does, waits as long).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outgoing<'a> {
    pub request: &'a IcmpRequest,
    pub message: &'a [u8],
    // Read by the backends that wait for answers themselves (Windows' ICMP API).
    #[cfg_attr(not(windows), allow(dead_code))]
    pub wait: Duration,
}

/// Sends requests and reads what comes back: the engine's reader task, and the tasks that
/// sent requests, one read at a time.
pub(crate) trait Transport: fmt::Debug + Send + Sync + 'static {
    /// The family of the requests it carries.
    fn family(&self) -> Family;

    /// True when replies carry the identifier the request was sent with (raw sockets);
    /// false when the kernel chooses it (datagram sockets), so that replies are matched
    /// without it.
    fn keeps_id(&self) -> bool;

    /// True when a request leaves with the sequence number the engine chose (sockets);
    /// false when the system chooses it (Windows' ICMP API): a flow-stable probe's
    /// payload, made for the engine's number, would keep no checksum, and is sent as it
    /// is.
    fn keeps_sequence(&self) -> bool {
        true
    }

    /// Sends `message`, the encoding of `request`, if there is room now: when it left, or
    /// `None` when the send buffer is full. An answer is wanted for `wait` after that (a
    /// backend that waits for answers itself, as Windows' ICMP API does, waits as long).
    ///
    /// # Errors
    /// The send's error (no route, a broadcast refused, ...).
    fn try_send(&self, outgoing: Outgoing<'_>) -> Result<Option<Instant>>;

    /// Sends `message`, waiting for room in the send buffer (readiness) up to a bound;
    /// returns when it left.
    fn send<'a>(&'a self, outgoing: Outgoing<'a>) -> BoxFuture<'a, Result<Instant>>;

    /// Waits until something can be read, then reads what is there, up to about `max`
    /// datagrams: [`Drained::Empty`] once it found nothing more, [`Drained::Full`] when it
    /// stopped at `max`. Errors are fatal for the transport.
    fn recv<'a>(
        &'a self,
        max: usize,
        on_reply: &'a mut OnReply<'_>,
    ) -> BoxFuture<'a, io::Result<Drained>>;

    /// Reads what is there now, without waiting, as [`Transport::recv`] does.
    fn try_recv(&self, max: usize, on_reply: &mut OnReply<'_>) -> io::Result<Drained>;

    /// As [`Transport::try_recv`], for a task that sent requests and reads their answers
    /// on its own thread: `None`, without reading, when another read is under way, or
    /// when the transport delivers answers on its own (the default).
    fn read_now(&self, _max: usize, _on_reply: &mut OnReply<'_>) -> io::Result<Option<Drained>> {
        Ok(None)
    }

    /// The reader drains on its own for a while: readiness events are not needed until
    /// its next [`Transport::recv`].
    fn pause_readiness(&self) {}

    /// Asks for a receive buffer of `bytes`, for a burst of replies.
    ///
    /// # Errors
    /// When the system refuses; the engine goes on with the buffer it has.
    fn set_recv_buffer_size(&self, bytes: usize) -> Result<()>;

    /// Keeps only the echo replies with one of `ids` (1 to 256 identifiers) in the kernel,
    /// or every reply again for `None`: each raw socket receives a copy of every reply
    /// the host receives, and this drops the others' before they are queued. Other
    /// messages (ICMP errors) all pass.
    ///
    /// # Errors
    /// `Unsupported` (the default) where there is no such filter: every reply is read.
    fn keep_ids(&self, _ids: Option<&[u16]>) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// Largest datagram read: an echo reply with the largest payload and an IPv4 header.
const DATAGRAM_BUFFER_LEN: usize = 65_536 + 60;

/// This machine's ICMP socket as a transport.
#[derive(Debug)]
pub(crate) struct SocketTransport {
    socket: AsyncIcmpSocket,
    /// Read into by whoever reads; locked only inside a read, never across a wait. Its
    /// holder is the one reader of the moment: a read that found the socket empty has
    /// handed out everything that arrived before (see `Engine::read_inline`).
    batch: Mutex<RecvBatch>,
}

impl SocketTransport {
    pub(crate) fn new(socket: AsyncIcmpSocket) -> SocketTransport {
        SocketTransport {
            socket,
            batch: Mutex::new(RecvBatch::new(DATAGRAM_BUFFER_LEN)),
        }
    }

    fn drain(
        &self,
        readiness: Readiness,
        max: usize,
        on_reply: &mut OnReply<'_>,
    ) -> io::Result<Drained> {
        let mut batch = self.batch.lock().unwrap_or_else(PoisonError::into_inner);
        self.socket.drain(&mut batch, readiness, max, on_reply)
    }
}

impl Transport for SocketTransport {
    fn family(&self) -> Family {
        self.socket.family()
    }

    fn keeps_id(&self) -> bool {
        self.socket.is_privileged()
    }

    fn try_send(&self, outgoing: Outgoing<'_>) -> Result<Option<Instant>> {
        self.socket
            .try_send_encoded(outgoing.request, outgoing.message)
    }

    fn send<'a>(&'a self, outgoing: Outgoing<'a>) -> BoxFuture<'a, Result<Instant>> {
        Box::pin(self.socket.send_encoded(outgoing.request, outgoing.message))
    }

    fn recv<'a>(
        &'a self,
        max: usize,
        on_reply: &'a mut OnReply<'_>,
    ) -> BoxFuture<'a, io::Result<Drained>> {
        Box::pin(self.socket.wait_readable(move |readiness| {
            match self.drain(readiness, max, &mut *on_reply)? {
                // Nothing was there after all: wait for the next readiness.
                Drained::Empty { read: 0, .. } => Err(io::ErrorKind::WouldBlock.into()),
                drained => Ok(drained),
            }
        }))
    }

    fn try_recv(&self, max: usize, on_reply: &mut OnReply<'_>) -> io::Result<Drained> {
        let readiness = Readiness {
            readable: true,
            error: true,
        };
        self.drain(readiness, max, on_reply)
    }

    fn read_now(&self, max: usize, on_reply: &mut OnReply<'_>) -> io::Result<Option<Drained>> {
        let mut batch = match self.batch.try_lock() {
            Ok(batch) => batch,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return Ok(None),
        };
        // A raw socket's error queue holds nothing that answers a request (the socket sees
        // the ICMP errors themselves), and a pending error still shows in a normal read:
        // no need to look there first, a system call per read. A datagram socket's errors
        // come only from there.
        let readiness = Readiness {
            readable: true,
            error: !self.socket.is_privileged(),
        };
        self.socket
            .drain(&mut batch, readiness, max, on_reply)
            .map(Some)
    }

    fn pause_readiness(&self) {
        self.socket.pause_readiness();
    }

    fn set_recv_buffer_size(&self, bytes: usize) -> Result<()> {
        self.socket.set_recv_buffer_size(bytes)
    }

    fn keep_ids(&self, ids: Option<&[u16]>) -> io::Result<()> {
        if !self.socket.is_privileged() {
            // A datagram socket only gets its own replies.
            return Err(io::ErrorKind::Unsupported.into());
        }
        self.socket.keep_ids(ids)
    }
}
