//! Blocking ICMP sockets: [`IcmpV4Socket`] and [`IcmpV6Socket`].

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::Socket;

use super::check_timeout;
use super::core::{MAX_SEND_WAIT, SocketClass};
use super::dont_fragment::{DontFragment, set_dont_fragment};
use super::received::receive_buffer_len;
use super::reply::IcmpReply;
use super::request::IcmpRequest;
use super::sys::{self, Readiness, Senders};
use crate::clock::{self, later};
use crate::error::{Error, Result};
use crate::family::Family;

/// The state and logic both blocking sockets share.
#[derive(Debug)]
struct Blocking {
    socket: Socket,
    kind: SocketClass,
    /// Where the system has no per-packet TTL / TOS: the sockets that send with others.
    senders: Senders,
}

impl Blocking {
    fn open(family: Family, source: Option<IpAddr>, privileged: bool) -> Result<Blocking> {
        let kind = SocketClass { family, privileged };
        Ok(Blocking {
            socket: kind.open(source.map(|source| (source, 0)))?,
            kind,
            senders: Senders::default(),
        })
    }

    fn send(&self, request: &IcmpRequest) -> Result<Instant> {
        let mut buf = Vec::with_capacity(request.payload_size() + 8);
        request.validate(self.kind.family)?;
        request.encode(&mut buf);
        // A full send buffer drains in microseconds: wait until the socket is writable
        // again (`poll(2)`), for up to MAX_SEND_WAIT in all.
        let deadline = later(clock::now(), MAX_SEND_WAIT);
        loop {
            let sent_at = clock::now();
            match self
                .kind
                .send_encoded(&self.socket, &self.senders, request, &buf)
            {
                Ok(()) => return Ok(sent_at),
                Err(error) if sys::is_send_buffer_full(&error) => {
                    let left = deadline.saturating_duration_since(clock::now());
                    if left.is_zero() || !sys::poll_writable(&self.socket, left)? {
                        return Err(self.kind.send_error(&self.socket, request, error));
                    }
                }
                Err(error) => return Err(self.kind.send_error(&self.socket, request, error)),
            }
        }
    }

    fn receive(&self, request: Option<&IcmpRequest>, timeout: Duration) -> Result<IcmpReply> {
        check_timeout(timeout)?;
        let deadline = later(clock::now(), timeout);
        let mut buf = vec![0u8; receive_buffer_len(request)];
        // Look at what is already queued before waiting.
        let mut readiness = Readiness {
            readable: true,
            error: true,
        };
        loop {
            match self.kind.read(&self.socket, &mut buf, readiness) {
                Ok(datagram) => {
                    let answer = self.kind.decode(&buf, &datagram).filter(|received| {
                        request.is_none_or(|request| {
                            received.answers(request, self.kind.privileged, &buf)
                        })
                    });
                    if let Some(received) = answer {
                        return Ok(received.to_reply(self.kind.family));
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Err(error.into()),
            }
            let remaining = deadline.saturating_duration_since(clock::now());
            if remaining.is_zero() {
                return Err(Error::TimeoutExceeded { timeout });
            }
            readiness = sys::poll(&self.socket, remaining)?;
        }
    }
}

macro_rules! blocking_socket {
    ($(#[$meta:meta])* $name:ident, $address:ty, $family:expr) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name {
            inner: Blocking,
        }

        impl $name {
            /// Opens a socket: raw (`privileged`, needs root or `CAP_NET_RAW`) or datagram
            /// (unprivileged; on Linux the process's group must be in
            /// `net.ipv4.ping_group_range`), bound to `source` when given.
            ///
            /// # Errors
            /// [`Error::SocketPermission`] when the process may not open this kind of
            /// socket, [`Error::SocketAddress`] when `source` is not an address of this
            /// machine.
            pub fn new(source: Option<$address>, privileged: bool) -> Result<$name> {
                let source = source.map(IpAddr::from);
                Ok($name {
                    inner: Blocking::open($family, source, privileged)?,
                })
            }

            /// The family of the socket.
            pub fn family(&self) -> Family {
                self.inner.kind.family
            }

            /// Whether requests from this socket may be fragmented (see
            /// [`DontFragment`]); a request then larger than the path MTU fails with
            /// [`Error::PacketTooBig`](crate::Error::PacketTooBig).
            ///
            /// # Errors
            /// [`Error::InvalidOption`](crate::Error::InvalidOption) where the system has
            /// no such option (Windows).
            pub fn set_dont_fragment(&self, setting: DontFragment) -> Result<()> {
                let inner = &self.inner;
                inner
                    .senders
                    .changing(|| set_dont_fragment(&inner.socket, inner.kind.family, setting))
            }

            /// True for a raw socket, false for a datagram socket.
            pub fn is_privileged(&self) -> bool {
                self.inner.kind.privileged
            }

            /// The local address (for a datagram socket, the port is the identifier the
            /// kernel writes into requests, once one was sent).
            pub fn local_addr(&self) -> Result<SocketAddr> {
                let address = self.inner.socket.local_addr()?;
                address
                    .as_socket()
                    .ok_or_else(|| io::Error::other("not an IP socket").into())
            }

            /// Sets the size of the kernel receive buffer (`SO_RCVBUF`; Linux doubles it
            /// and caps it at `net.core.rmem_max` unless the process is privileged).
            pub fn set_recv_buffer_size(&self, size: usize) -> Result<()> {
                Ok(sys::set_recv_buffer_size(&self.inner.socket, size)?)
            }

            /// The size of the kernel receive buffer.
            pub fn recv_buffer_size(&self) -> Result<usize> {
                Ok(self.inner.socket.recv_buffer_size()?)
            }

            /// Sends `request` and returns when it was sent, on the monotonic clock.
            ///
            /// # Errors
            /// [`Error::InvalidOption`] for a request of the other family, a payload too
            /// large or a zero TTL; [`Error::SocketBroadcast`] for a broadcast address on
            /// a socket without broadcast; [`Error::Socket`] for other failures (no
            /// route to the destination, ...).
            pub fn send(&self, request: &IcmpRequest) -> Result<Instant> {
                self.inner.send(request)
            }

            /// Waits up to `timeout` for a reply to `request`, or for any reply (echo
            /// reply or ICMP error) when `request` is `None`.
            ///
            /// A reply to `request` comes from its destination (or, for an error, quotes
            /// it), carries its identifier (raw sockets) and sequence number and, for an
            /// echo reply, its payload; other packets are skipped. A matching error
            /// message is returned as a reply: call [`IcmpReply::raise_for_status`].
            ///
            /// # Errors
            /// [`Error::TimeoutExceeded`] when nothing matching arrived in time;
            /// [`Error::InvalidOption`] for a zero timeout.
            pub fn receive(&self, request: Option<&IcmpRequest>, timeout: Duration) -> Result<IcmpReply> {
                self.inner.receive(request, timeout)
            }
        }

        #[cfg(unix)]
        impl std::os::fd::AsRawFd for $name {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.inner.socket.as_raw_fd()
            }
        }
    };
}

blocking_socket!(
    /// A blocking ICMPv4 socket, as `ICMPv4Socket` of the Python library.
    ///
    /// ```no_run
    /// # fn main() -> icmplib::Result<()> {
    /// use std::time::Duration;
    /// use icmplib::{IcmpRequest, IcmpV4Socket};
    ///
    /// let socket = IcmpV4Socket::new(None, false)?; // unprivileged
    /// let request = IcmpRequest::new("127.0.0.1".parse().unwrap(), 1, 1);
    /// let sent = socket.send(&request)?;
    /// let reply = socket.receive(Some(&request), Duration::from_secs(1))?;
    /// println!("{reply}: {:?}", reply.time() - sent);
    /// # Ok(())
    /// # }
    /// ```
    IcmpV4Socket,
    Ipv4Addr,
    Family::V4
);

blocking_socket!(
    /// A blocking ICMPv6 socket, as `ICMPv6Socket` of the Python library.
    ///
    /// ```no_run
    /// # fn main() -> icmplib::Result<()> {
    /// use std::time::Duration;
    /// use icmplib::{IcmpRequest, IcmpV6Socket};
    ///
    /// let socket = IcmpV6Socket::new(None, true)?; // raw: root or CAP_NET_RAW
    /// let request = IcmpRequest::new("::1".parse().unwrap(), 1, 1);
    /// socket.send(&request)?;
    /// socket.receive(Some(&request), Duration::from_secs(1))?.raise_for_status()?;
    /// # Ok(())
    /// # }
    /// ```
    IcmpV6Socket,
    Ipv6Addr,
    Family::V6
);

impl IcmpV4Socket {
    /// Allows (or forbids) sending to broadcast addresses (`SO_BROADCAST`).
    pub fn set_broadcast(&self, broadcast: bool) -> Result<()> {
        let inner = &self.inner;
        Ok(inner
            .senders
            .changing(|| inner.socket.set_broadcast(broadcast))?)
    }

    /// True when sending to broadcast addresses is allowed.
    pub fn broadcast(&self) -> Result<bool> {
        Ok(self.inner.socket.broadcast()?)
    }
}
