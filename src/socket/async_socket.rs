//! [`AsyncIcmpSocket`]: an ICMP socket driven by the tokio reactor.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::check_timeout;
use super::core::{MAX_SEND_WAIT, Queues, SocketClass};
use super::dont_fragment::{DontFragment, set_dont_fragment};
use super::received::{ReadAt, Received, receive_buffer_len};
use super::reply::IcmpReply;
use super::request::IcmpRequest;
use super::sys::{self, AsyncSocket, RecvBatch, Senders};
use crate::clock::{self, later};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::runtime;

/// An asynchronous ICMPv4 or ICMPv6 socket (a socket2 socket in a tokio `AsyncFd`).
///
/// This is the low-level building block; the ping functions share one
/// such socket per family among all the pings of a runtime.
///
/// ```no_run
/// # async fn run() -> icmplib::Result<()> {
/// use std::time::Duration;
/// use icmplib::{AsyncIcmpSocket, Family, IcmpRequest};
///
/// let socket = AsyncIcmpSocket::new(Family::V4, None, true)?;
/// let request = IcmpRequest::new("127.0.0.1".parse().unwrap(), 7, 1);
/// let sent = socket.send(&request).await?;
/// let reply = socket.receive(Some(&request), Duration::from_secs(2)).await?;
/// reply.raise_for_status()?;
/// println!("{reply} in {:?}", reply.time() - sent);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncIcmpSocket {
    inner: AsyncSocket,
    kind: SocketClass,
    /// Where the system has no per-packet TTL / TOS: the sockets that send with others.
    senders: Senders,
}

impl AsyncIcmpSocket {
    /// Opens a socket of `family`: raw (`privileged`, needs root or `CAP_NET_RAW`) or
    /// datagram (unprivileged), bound to `source` when given. Must be called within a
    /// tokio runtime with its I/O and time drivers enabled (`enable_all`, as
    /// `#[tokio::main]` does).
    ///
    /// # Errors
    /// [`Error::SocketPermission`], [`Error::SocketAddress`], [`Error::InvalidOption`]
    /// for a source of the other family, [`Error::Runtime`] outside a runtime.
    pub fn new(
        family: Family,
        source: Option<IpAddr>,
        privileged: bool,
    ) -> Result<AsyncIcmpSocket> {
        AsyncIcmpSocket::open(family, source.map(|source| (source, 0)), privileged)
    }

    /// As [`AsyncIcmpSocket::new`], with the scope of the source: the interface a
    /// link-local IPv6 source address belongs to (0 for none).
    pub(crate) fn open(
        family: Family,
        source: Option<(IpAddr, u32)>,
        privileged: bool,
    ) -> Result<AsyncIcmpSocket> {
        runtime::current("AsyncIcmpSocket::new")?;
        let kind = SocketClass { family, privileged };
        let socket = kind.open(source)?;
        Ok(AsyncIcmpSocket {
            inner: AsyncSocket::new(socket)?,
            kind,
            senders: Senders::default(),
        })
    }

    /// Ties the socket to an interface and / or a routing mark (a pinger's engines).
    pub(crate) fn bind(&self, binding: &crate::socket::core::Binding) -> Result<()> {
        self.senders
            .changing(|| binding.apply(self.inner.get_ref(), self.kind.family))
    }

    /// Whether requests from this socket may be fragmented (see [`DontFragment`]):
    /// `IP_MTU_DISCOVER` (IPv4), `IPV6_MTU_DISCOVER` and `IPV6_DONTFRAG` (IPv6) on Linux.
    /// A request then larger than the path MTU fails with [`Error::PacketTooBig`]: from
    /// [`AsyncIcmpSocket::send`] when this host refuses it, as the reply to it when a
    /// router does.
    ///
    /// # Errors
    /// [`Error::InvalidOption`](crate::Error::InvalidOption) where the system has no such
    /// option (Windows).
    pub fn set_dont_fragment(&self, setting: DontFragment) -> Result<()> {
        self.senders
            .changing(|| set_dont_fragment(self.inner.get_ref(), self.kind.family, setting))
    }

    /// The family of the socket.
    pub fn family(&self) -> Family {
        self.kind.family
    }

    /// True for a raw socket, false for a datagram socket.
    pub fn is_privileged(&self) -> bool {
        self.kind.privileged
    }

    /// The local address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        let address = self.inner.get_ref().local_addr()?;
        address
            .as_socket()
            .ok_or_else(|| io::Error::other("not an IP socket").into())
    }

    /// Allows (or forbids) sending to broadcast addresses (IPv4 `SO_BROADCAST`).
    pub fn set_broadcast(&self, broadcast: bool) -> Result<()> {
        let socket = self.inner.get_ref();
        Ok(self.senders.changing(|| socket.set_broadcast(broadcast))?)
    }

    /// True when sending to broadcast addresses is allowed.
    pub fn broadcast(&self) -> Result<bool> {
        Ok(self.inner.get_ref().broadcast()?)
    }

    /// Sets the size of the kernel receive buffer (`SO_RCVBUF`, or `SO_RCVBUFFORCE` above
    /// `net.core.rmem_max` when the process may).
    pub fn set_recv_buffer_size(&self, size: usize) -> Result<()> {
        Ok(sys::set_recv_buffer_size(self.inner.get_ref(), size)?)
    }

    /// The size of the kernel receive buffer.
    pub fn recv_buffer_size(&self) -> Result<usize> {
        Ok(self.inner.get_ref().recv_buffer_size()?)
    }

    /// Keeps only the echo replies with one of `ids` (1 to 256) in the kernel, or all of
    /// them again for `None` (a raw socket on Linux; see `sys::keep_ids`).
    pub(crate) fn keep_ids(&self, ids: Option<&[u16]>) -> io::Result<()> {
        let socket = self.inner.get_ref();
        match ids {
            Some(ids) => sys::keep_ids(socket, self.kind.family, ids),
            None => sys::keep_all_ids(socket),
        }
    }

    /// Sends `request`, waiting for room in the send buffer if needed, and returns when it
    /// was sent, on the monotonic clock.
    ///
    /// # Errors
    /// As [`crate::IcmpV4Socket::send`].
    ///
    /// # Cancel safety
    /// Cancel safe: if the future is dropped before it completes, the request was not sent.
    pub async fn send(&self, request: &IcmpRequest) -> Result<Instant> {
        request.validate(self.kind.family)?;
        let mut buf = Vec::with_capacity(request.payload_size() + 8);
        request.encode(&mut buf);
        self.send_encoded(request, &buf).await
    }

    /// Waits up to `timeout` for a reply to `request`, or for any reply (echo reply or
    /// ICMP error) when `request` is `None`. Matching is that of
    /// [`crate::IcmpV4Socket::receive`]; packets that do not match are consumed and skipped.
    ///
    /// # Errors
    /// [`Error::TimeoutExceeded`] when nothing matching arrived in time;
    /// [`Error::InvalidOption`] for a zero timeout.
    ///
    /// # Cancel safety
    /// Cancel safe: a matching reply is consumed only by the call that returns it. Packets
    /// that do not match are consumed either way.
    pub async fn receive(
        &self,
        request: Option<&IcmpRequest>,
        timeout: Duration,
    ) -> Result<IcmpReply> {
        check_timeout(timeout)?;
        let mut buf = vec![0u8; receive_buffer_len(request)];
        let wait = async {
            loop {
                let received = self.recv_decoded(&mut buf).await?;
                let Some(received) = received else { continue };
                if request
                    .is_none_or(|request| received.answers(request, self.kind.privileged, &buf))
                {
                    return Ok(received.to_reply(self.kind.family));
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or(Err(Error::TimeoutExceeded { timeout }))
    }

    /// Waits for the next datagram and decodes it (`None` when it is not a reply).
    async fn recv_decoded(&self, buf: &mut [u8]) -> Result<Option<Received>> {
        let datagram = self
            .inner
            .read_with(|socket, readiness| self.kind.read(socket, buf, readiness))
            .await?;
        Ok(self.kind.decode(buf, &datagram))
    }

    /// Sends a request already validated and encoded into `message` if the send buffer
    /// has room now: `Ok(None)` when it has not (then use
    /// [`AsyncIcmpSocket::send_encoded`]), else when the request left.
    pub(crate) fn try_send_encoded(
        &self,
        request: &IcmpRequest,
        message: &[u8],
    ) -> Result<Option<Instant>> {
        let socket = self.inner.get_ref();
        let sent_at = clock::now();
        match self
            .kind
            .send_encoded(socket, &self.senders, request, message)
        {
            Ok(()) => Ok(Some(sent_at)),
            Err(error) if sys::is_send_buffer_full(&error) => Ok(None),
            Err(error) => Err(self.kind.send_error(socket, request, error)),
        }
    }

    /// Sends a request already validated and encoded into `message`, waiting for room in
    /// the send buffer (readiness, for up to a second); returns when it left.
    pub(crate) async fn send_encoded(
        &self,
        request: &IcmpRequest,
        message: &[u8],
    ) -> Result<Instant> {
        let socket = self.inner.get_ref();
        let deadline = later(clock::now(), MAX_SEND_WAIT);
        self.inner
            .write_with(deadline, |socket| {
                let sent_at = clock::now();
                self.kind
                    .send_encoded(socket, &self.senders, request, message)
                    .map(|()| sent_at)
            })
            .await
            .map_err(|error| self.kind.send_error(socket, request, error))
    }

    /// Waits until the socket is readable or has an error pending, then calls `read` with
    /// what was ready; `read` returning `WouldBlock` waits again. For a reader that drains
    /// the socket with [`AsyncIcmpSocket::drain`].
    pub(crate) async fn wait_readable<R>(
        &self,
        mut read: impl FnMut(sys::Readiness) -> io::Result<R>,
    ) -> io::Result<R> {
        self.inner.read_with(|_, readiness| read(readiness)).await
    }

    /// Stops readiness events until the next wait for a datagram: for a reader that
    /// drains the socket on its own during a burst.
    pub(crate) fn pause_readiness(&self) {
        self.inner.pause_readiness();
    }

    /// Reads what is queued now, without waiting: up to about `max` datagrams from the
    /// socket's queues (see [`Queues`]; `readiness` says whether the error queue signalled),
    /// many per system call into `batch`, handing the replies to `on_reply`.
    ///
    /// The replies go out in the order they arrived, whichever queue they sat in: an ICMP
    /// error read from the error queue waits until the echo replies that arrived before it
    /// are handed out, so that a request's first answer wins (a host's reply followed by an
    /// error about the same request counts as answered).
    pub(crate) fn drain(
        &self,
        batch: &mut RecvBatch,
        readiness: sys::Readiness,
        max: usize,
        on_reply: &mut dyn FnMut(&Received, &[u8]),
    ) -> io::Result<Drained> {
        let socket = self.inner.get_ref();
        let mut queues = Queues::new(readiness);
        let mut errors = QueuedErrors::default();
        let mut read = 0;
        let mut drained = Drained::Full;
        // Bounded even if the socket kept returning errors without data.
        for _ in 0..max + 8 {
            if read >= max {
                break;
            }
            let checked_at = clock::now();
            let mut from_error_queue = false;
            let result = queues.read(|error_queue| {
                from_error_queue = error_queue;
                if error_queue {
                    batch.recv_error_queue(socket)
                } else {
                    batch.recv(socket)
                }
            });
            match result {
                Ok(count) => {
                    read += count;
                    // A raw socket sees the ICMP messages themselves; their copies on its
                    // error queue are only read to be dropped, not decoded.
                    if from_error_queue && self.kind.privileged {
                        continue;
                    }
                    let read_at = ReadAt::now();
                    for index in 0..count {
                        let (datagram, bytes) = batch.get(index);
                        let Some(received) = self.kind.decode_read_at(bytes, datagram, read_at)
                        else {
                            continue;
                        };
                        if from_error_queue {
                            errors.keep(received, &bytes[..datagram.len]);
                        } else {
                            errors.hand_out_before(received.time, on_reply);
                            on_reply(&received, bytes);
                        }
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    drained = Drained::Empty { read, checked_at };
                    break;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    errors.hand_out_all(on_reply);
                    return Err(error);
                }
            }
        }
        errors.hand_out_all(on_reply);
        Ok(drained)
    }
}

/// ICMP errors read from a datagram socket's error queue, held until the replies that
/// arrived before them were handed out. Few: errors are rare, and a drain holds them for
/// the length of one read.
#[derive(Default)]
struct QueuedErrors {
    /// By arrival, each with a copy of its bytes.
    errors: std::collections::VecDeque<(Received, Vec<u8>)>,
}

impl QueuedErrors {
    fn keep(&mut self, received: Received, bytes: &[u8]) {
        let place = self
            .errors
            .partition_point(|(kept, _)| kept.time <= received.time);
        self.errors.insert(place, (received, bytes.to_vec()));
    }

    /// Hands out the errors that arrived at or before `time`.
    fn hand_out_before(&mut self, time: Instant, on_reply: &mut dyn FnMut(&Received, &[u8])) {
        while self
            .errors
            .front()
            .is_some_and(|(error, _)| error.time <= time)
        {
            if let Some((error, bytes)) = self.errors.pop_front() {
                on_reply(&error, &bytes);
            }
        }
    }

    fn hand_out_all(&mut self, on_reply: &mut dyn FnMut(&Received, &[u8])) {
        for (error, bytes) in self.errors.drain(..) {
            on_reply(&error, &bytes);
        }
    }
}

/// How a drain of the socket ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drained {
    /// The socket had nothing more to read when checked at `checked_at`: everything that
    /// arrived before was read (`read` datagrams by this drain).
    Empty {
        /// Datagrams read before the socket was found empty.
        read: usize,
        /// When it was found empty.
        checked_at: Instant,
    },
    /// The maximum was read; there may be more.
    Full,
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for AsyncIcmpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.get_ref().as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::packet::Kind;

    fn received(kind: Kind, time: Instant) -> Received {
        Received {
            source: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            source_scope: 0,
            peer: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            id: 7,
            sequence: 1,
            icmp_type: 0,
            code: 0,
            kind,
            payload: None,
            quote_unbounded: false,
            bytes: 0,
            time,
            ttl: None,
            traffic_class: None,
            mtu: None,
            mpls: Box::default(),
        }
    }

    /// A datagram socket's two queues read error queue first (as a drain does when the
    /// socket signalled an error): the reply that arrived before the error is handed out
    /// first all the same, and an error that arrived before a reply goes first.
    #[test]
    fn held_errors_go_out_in_the_order_of_arrival() {
        let start = Instant::now();
        let at = |micros| start + Duration::from_micros(micros);
        let mut errors = QueuedErrors::default();
        errors.keep(received(Kind::DestinationUnreachable, at(20)), &[]);
        errors.keep(received(Kind::DestinationUnreachable, at(5)), &[]);
        let mut out = Vec::new();
        let mut on_reply = |received: &Received, _: &[u8]| out.push((received.kind, received.time));
        // The reply read next arrived at 10 µs: the error of 5 µs goes before it, the one
        // of 20 µs after.
        errors.hand_out_before(at(10), &mut on_reply);
        on_reply(&received(Kind::EchoReply, at(10)), &[]);
        errors.hand_out_all(&mut on_reply);
        assert_eq!(
            out,
            [
                (Kind::DestinationUnreachable, at(5)),
                (Kind::EchoReply, at(10)),
                (Kind::DestinationUnreachable, at(20)),
            ]
        );
    }
}
