//! A transport in memory for the tests: it records what is sent and answers with what a
//! script says, after the delay the script says, on tokio's clock. With the clock paused
//! (`tokio::time::pause`) the engine and the scheduler then run deterministically, without
//! privileges and without a network; their decoding and matching are the real ones (the
//! answers are bytes, decoded by the socket layer's decoder).

use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use futures::future::{BoxFuture, poll_fn};

use super::transport::{OnReply, Outgoing, Transport};
use crate::clock;
use crate::error::{Error, Result};
use crate::family::Family;
use crate::packet::v6;
use crate::socket::async_socket::Drained;
use crate::socket::core::SocketClass;
use crate::socket::request::IcmpRequest;
use crate::socket::sys::{Datagram, QueuedError};

mod answer;

pub(crate) use answer::Answer;

/// The identifier a datagram socket's kernel writes into requests (it owns it there).
pub(crate) const KERNEL_ID: u16 = 0xbeef;

/// What the fake does with each request that leaves: the answers to deliver.
pub(crate) type Script = Box<dyn FnMut(&IcmpRequest) -> Vec<Answer> + Send>;

/// A request that left, and when.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub request: IcmpRequest,
    pub at: Instant,
}

/// A transport in memory. Clones share it: the test keeps one to script and inspect, the
/// engine owns another.
#[derive(Clone)]
pub(crate) struct FakeTransport {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FakeTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTransport")
            .field("kind", &self.inner.kind)
            .finish_non_exhaustive()
    }
}

struct Inner {
    kind: SocketClass,
    state: Mutex<State>,
}

struct Arrival {
    bytes: Vec<u8>,
    from: IpAddr,
    queued: Option<QueuedError>,
    at: Instant,
}

#[derive(Default)]
struct State {
    script: Option<Script>,
    sent: Vec<Sent>,
    queue: VecDeque<Arrival>,
    reader: Option<Waker>,
    /// While set, sends find the send buffer full.
    full: bool,
    room: Vec<Waker>,
    /// The next read fails with this (a fatal transport error).
    failure: Option<io::ErrorKind>,
    /// Sends to this address fail at once.
    unreachable: Option<IpAddr>,
    /// Every read finds more datagrams than it may read: a flood faster than the reader.
    flood: bool,
    recv_buffer_sizes: Vec<usize>,
    /// Only the reader task reads: inline reads find another read under way.
    reader_only: bool,
    /// Datagrams read inline ([`Transport::read_now`]).
    read_inline: usize,
    /// The in-kernel identifier filter of a raw socket ([`Transport::keep_ids`]): the
    /// echo replies with other identifiers never arrive.
    kept_ids: Option<Vec<u16>>,
}

impl FakeTransport {
    /// A raw IPv6 socket's like: replies keep the identifier sent.
    pub(crate) fn raw_v6() -> FakeTransport {
        FakeTransport::new(SocketClass {
            family: Family::V6,
            privileged: true,
        })
    }

    /// A Linux datagram IPv4 socket's like: the kernel owns the identifier, errors come
    /// on the error queue.
    pub(crate) fn datagram_v4() -> FakeTransport {
        FakeTransport::new(SocketClass {
            family: Family::V4,
            privileged: false,
        })
    }

    fn new(kind: SocketClass) -> FakeTransport {
        FakeTransport {
            inner: Arc::new(Inner {
                kind,
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// An engine on this transport, spawned on the current runtime.
    pub(crate) fn engine(&self) -> super::Engine {
        super::Engine::start(Box::new(self.clone()), super::DEFAULT_RECV_BUFFER, None)
    }

    /// Answers each request as `script` says.
    pub(crate) fn script(&self, script: impl FnMut(&IcmpRequest) -> Vec<Answer> + Send + 'static) {
        self.state().script = Some(Box::new(script));
    }

    /// Answers every request with its echo reply after `rtt`.
    pub(crate) fn echo(&self, rtt: Duration) {
        self.script(move |request| vec![Answer::reply(request, rtt)]);
    }

    /// The requests that left so far.
    pub(crate) fn sent(&self) -> Vec<Sent> {
        self.state().sent.clone()
    }

    /// Makes the send buffer full (`true`) or gives it room again.
    pub(crate) fn set_full(&self, full: bool) {
        let room = {
            let mut state = self.state();
            state.full = full;
            if full {
                Vec::new()
            } else {
                std::mem::take(&mut state.room)
            }
        };
        room.into_iter().for_each(Waker::wake);
    }

    /// Makes the next read fail, as a socket that broke.
    pub(crate) fn fail(&self, kind: io::ErrorKind) {
        let reader = {
            let mut state = self.state();
            state.failure = Some(kind);
            state.reader.take()
        };
        if let Some(reader) = reader {
            reader.wake();
        }
    }

    /// Floods the reader (`true`): every read finds more than it may read, datagrams
    /// nobody asked for, arriving unnoticed.
    pub(crate) fn flood(&self, flood: bool) {
        self.state().flood = flood;
    }

    /// Makes sends to `address` fail at once, as with no route.
    pub(crate) fn unreachable(&self, address: IpAddr) {
        self.state().unreachable = Some(address);
    }

    /// The receive buffer sizes asked for, in order.
    pub(crate) fn recv_buffer_sizes(&self) -> Vec<usize> {
        self.state().recv_buffer_sizes.clone()
    }

    /// Only the engine's reader task reads from now on, as with a transport that has no
    /// inline reads (Windows' ICMP API) or when another read is always under way.
    pub(crate) fn reader_only(&self) {
        self.state().reader_only = true;
    }

    /// Datagrams read inline so far, by the tasks that sent requests.
    pub(crate) fn kept_ids(&self) -> Option<Vec<u16>> {
        self.state().kept_ids.clone()
    }

    pub(crate) fn read_inline(&self) -> usize {
        self.state().read_inline
    }

    /// Datagrams waiting to be read.
    pub(crate) fn queued(&self) -> usize {
        self.state().queue.len()
    }

    /// Sends `request` now: records it and schedules its answers.
    fn send_now(&self, request: &IcmpRequest) -> Result<Instant> {
        let now = clock::now();
        let answers = {
            let mut state = self.state();
            if state.unreachable == Some(request.destination()) {
                return Err(Error::from(io::Error::from(io::ErrorKind::HostUnreachable)));
            }
            let mut request = request.clone();
            if !self.inner.kind.privileged {
                request = IcmpRequest::from_parts(
                    request.destination(),
                    KERNEL_ID,
                    request.sequence(),
                    request.payload().into(),
                    request.ttl(),
                    request.traffic_class(),
                );
            }
            state.sent.push(Sent {
                request: request.clone(),
                at: now,
            });
            match state.script.as_mut() {
                Some(script) => script(&request),
                None => Vec::new(),
            }
        };
        for answer in answers {
            if answer.after.is_zero() {
                arrive(&self.inner, answer);
            } else {
                let inner = Arc::clone(&self.inner);
                tokio::spawn(async move {
                    tokio::time::sleep(answer.after).await;
                    arrive(&inner, answer);
                });
            }
        }
        Ok(now)
    }

    /// Reads up to `max` queued datagrams.
    fn read(&self, max: usize, on_reply: &mut OnReply<'_>) -> io::Result<Option<Drained>> {
        let (arrivals, checked_at, more) = {
            let mut state = self.state();
            if let Some(kind) = state.failure {
                return Err(kind.into());
            }
            if state.flood {
                drop(state);
                return Ok(Some(self.read_flood(max, on_reply)));
            }
            if state.queue.is_empty() {
                return Ok(None);
            }
            let take = state.queue.len().min(max);
            let arrivals: Vec<Arrival> = state.queue.drain(..take).collect();
            (arrivals, clock::now(), !state.queue.is_empty())
        };
        let read = arrivals.len();
        for arrival in arrivals {
            // The kernel's timestamp is on the wall clock: what it would say for a packet
            // that arrived `queued` ago, the clock being paused or not.
            let queued = clock::now().saturating_duration_since(arrival.at);
            let datagram = Datagram {
                len: arrival.bytes.len(),
                truncated: false,
                source: Some(arrival.from),
                source_scope: 0,
                timestamp: SystemTime::now().checked_sub(queued),
                queued_error: arrival.queued,
                ttl: None,
                traffic_class: None,
            };
            if let Some(received) = self.inner.kind.decode(&arrival.bytes, &datagram) {
                on_reply(&received, &arrival.bytes);
            }
        }
        Ok(Some(if more {
            Drained::Full
        } else {
            Drained::Empty { read, checked_at }
        }))
    }
}

impl FakeTransport {
    /// Reads `max` datagrams of a flood: replies to nobody's requests.
    fn read_flood(&self, max: usize, on_reply: &mut OnReply<'_>) -> Drained {
        let request = IcmpRequest::new(
            "2001:db8::dead"
                .parse()
                .unwrap_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)),
            1,
            1,
        );
        let junk = Answer::reply(&request, Duration::ZERO);
        let datagram = Datagram {
            len: junk.bytes.len(),
            truncated: false,
            source: Some(junk.from),
            source_scope: 0,
            timestamp: None,
            queued_error: None,
            ttl: None,
            traffic_class: None,
        };
        for _ in 0..max {
            if let Some(received) = self.inner.kind.decode(&junk.bytes, &datagram) {
                on_reply(&received, &junk.bytes);
            }
        }
        Drained::Full
    }
}

fn arrive(inner: &Inner, answer: Answer) {
    let reader = {
        let mut state = inner.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(ids) = &state.kept_ids
            && answer.bytes.first() == Some(&v6::ECHO_REPLY)
            && let Some(&[high, low]) = answer.bytes.get(4..6)
            && !ids.contains(&u16::from_be_bytes([high, low]))
        {
            return;
        }
        state.queue.push_back(Arrival {
            bytes: answer.bytes,
            from: answer.from,
            queued: answer.queued,
            at: clock::now(),
        });
        if answer.unnoticed {
            None
        } else {
            state.reader.take()
        }
    };
    if let Some(reader) = reader {
        reader.wake();
    }
}

impl Transport for FakeTransport {
    fn family(&self) -> Family {
        self.inner.kind.family
    }

    fn keeps_id(&self) -> bool {
        self.inner.kind.privileged
    }

    fn keep_ids(&self, ids: Option<&[u16]>) -> io::Result<()> {
        if !self.inner.kind.privileged {
            return Err(io::ErrorKind::Unsupported.into());
        }
        self.state().kept_ids = ids.map(<[u16]>::to_vec);
        Ok(())
    }

    fn try_send(&self, outgoing: Outgoing<'_>) -> Result<Option<Instant>> {
        if self.state().full {
            return Ok(None);
        }
        self.send_now(outgoing.request).map(Some)
    }

    fn send<'a>(&'a self, outgoing: Outgoing<'a>) -> BoxFuture<'a, Result<Instant>> {
        let request = outgoing.request;
        Box::pin(async move {
            poll_fn(|cx| {
                let mut state = self.state();
                if state.full {
                    state.room.push(cx.waker().clone());
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
            self.send_now(request)
        })
    }

    fn recv<'a>(
        &'a self,
        max: usize,
        on_reply: &'a mut OnReply<'_>,
    ) -> BoxFuture<'a, io::Result<Drained>> {
        Box::pin(async move {
            // As a socket's readiness does: a reader that always finds something still
            // yields now and then (tokio's budget).
            tokio::task::consume_budget().await;
            poll_fn(move |cx| {
                // Register first: an arrival between the read and the registration wakes it.
                self.state().reader = Some(cx.waker().clone());
                match self.read(max, &mut *on_reply) {
                    Ok(Some(drained)) => Poll::Ready(Ok(drained)),
                    Ok(None) => Poll::Pending,
                    Err(error) => Poll::Ready(Err(error)),
                }
            })
            .await
        })
    }

    fn try_recv(&self, max: usize, on_reply: &mut OnReply<'_>) -> io::Result<Drained> {
        let checked_at = clock::now();
        Ok(self.read(max, on_reply)?.unwrap_or(Drained::Empty {
            read: 0,
            checked_at,
        }))
    }

    /// Reads inline as a socket does, unless the script says the reader alone reads
    /// ([`FakeTransport::reader_only`]).
    fn read_now(&self, max: usize, on_reply: &mut OnReply<'_>) -> io::Result<Option<Drained>> {
        if self.state().reader_only {
            return Ok(None);
        }
        let mut read = 0;
        let drained = self.try_recv(max, &mut |received, buf| {
            read += 1;
            on_reply(received, buf);
        })?;
        self.state().read_inline += read;
        Ok(Some(drained))
    }

    fn set_recv_buffer_size(&self, bytes: usize) -> Result<()> {
        self.state().recv_buffer_sizes.push(bytes);
        Ok(())
    }
}
