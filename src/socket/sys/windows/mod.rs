//! Windows: raw winsock sockets (`privileged = true`, Administrator) for the low-level
//! sockets and the engine. Unprivileged probes do not use sockets on Windows: they go
//! through the ICMP helper API (`super::icmp_api`).
//!
//! What Windows cannot do, and how it shows:
//! - no datagram ICMP sockets (`SOCK_DGRAM` + ICMP is refused): an unprivileged
//!   low-level socket fails to open with an error that says to use `privileged = true`;
//! - no per-packet TTL or TOS: the TTL is set on the socket (`IP_TTL` /
//!   `IPV6_UNICAST_HOPS`) before each send that needs another one, under a lock, so that
//!   concurrent sends keep their own; the traffic class is refused before this layer;
//! - no kernel receive timestamps: replies are stamped when read;
//! - no error queue: ICMP errors arrive as packets on the raw socket, as on Linux.
//!
//! Readiness comes from tokio's Windows reactor: the socket is handed to it as a
//! `UdpSocket` (the reactor polls any winsock socket through AFD; only the readiness
//! of that type is used, never its UDP methods).

use std::io;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::os::windows::io::{AsRawSocket, FromRawSocket};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::Interest;
use windows_sys::Win32::Networking::WinSock::{
    POLLERR, POLLHUP, POLLRDNORM, POLLWRNORM, SOCKET, WSAEACCES, WSAEAFNOSUPPORT, WSAEFAULT,
    WSAEINVAL, WSAEMFILE, WSAEMSGSIZE, WSAENOBUFS, WSAENOTSOCK, WSAEPROTONOSUPPORT, WSAPOLLFD,
    WSAPoll,
};

use super::{Datagram, Readiness};
use crate::family::Family;

/// Raw IPv4 sockets deliver the IP header in front of the ICMP message. Windows has no
/// datagram ICMP sockets; for them (only the tests' fake transport, which models Linux's)
/// the answer is Linux's.
pub(crate) fn ipv4_header_included(privileged: bool) -> bool {
    privileged
}

/// Opens a non-blocking raw ICMP socket. Windows has no unprivileged ICMP socket.
pub(crate) fn open(family: Family, privileged: bool) -> io::Result<Socket> {
    if !privileged {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "Windows has no unprivileged ICMP sockets: open the low-level sockets with \
             privileged = true (as Administrator); ping, multiping and traceroute work \
             without privileges through the ICMP helper API",
        ));
    }
    let (domain, protocol) = match family {
        Family::V4 => (Domain::IPV4, Protocol::ICMPV4),
        Family::V6 => (Domain::IPV6, Protocol::ICMPV6),
    };
    let socket = Socket::new(domain, Type::RAW, Some(protocol)).map_err(|error| {
        if matches!(
            error.raw_os_error(),
            Some(WSAEPROTONOSUPPORT | WSAEAFNOSUPPORT)
        ) {
            io::Error::new(
                io::ErrorKind::Unsupported,
                format!("this system has no raw {family} sockets ({error})"),
            )
        } else {
            error
        }
    })?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// The TTL last set on each socket is not remembered: one lock for every raw socket of
/// the process keeps a socket's TTL and the send that needs it together.
static SEND: Mutex<()> = Mutex::new(());

/// Sends `message` to `destination` with this TTL / hop limit. `traffic_class` is 0
/// here (others are refused above).
pub(crate) fn send_to(
    socket: &Socket,
    _senders: &super::Senders,
    message: &[u8],
    destination: IpAddr,
    scope_id: u32,
    ttl: u8,
    _traffic_class: u8,
) -> io::Result<usize> {
    let address = socket_address_of(destination, scope_id);
    let _send = SEND.lock().unwrap_or_else(PoisonError::into_inner);
    match destination {
        IpAddr::V4(_) => socket.set_ttl_v4(u32::from(ttl))?,
        IpAddr::V6(_) => socket.set_unicast_hops_v6(u32::from(ttl))?,
    }
    socket.send_to(message, &address)
}

/// The socket address of `address`, with its zone for a link-local IPv6 address.
pub(crate) fn socket_address_of(address: IpAddr, scope_id: u32) -> SockAddr {
    match address {
        IpAddr::V4(_) => SockAddr::from(SocketAddr::new(address, 0)),
        IpAddr::V6(v6) => SockAddr::from(SocketAddrV6::new(v6, 0, 0, scope_id)),
    }
}

/// Zones by name are not looked up on Windows: give the interface's number (`fe80::1%12`).
pub(crate) fn interface_index(_: &str) -> Option<u32> {
    None
}

/// See [`interface_index`]: zones show as numbers.
pub(crate) fn interface_name(_: u32) -> Option<String> {
    None
}

/// Reads one datagram (`recvfrom`); a datagram longer than `buf` is reported truncated.
pub(crate) fn recv(socket: &Socket, buf: &mut [u8]) -> io::Result<Datagram> {
    // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout, and `recv_from` only
    // writes initialised bytes into the buffer.
    let uninit = unsafe { &mut *(std::ptr::from_mut(buf) as *mut [MaybeUninit<u8>]) };
    match socket.recv_from(uninit) {
        Ok((len, source)) => Ok(Datagram {
            len,
            truncated: false,
            source: source.as_socket().map(|address| address.ip()),
            source_scope: source
                .as_socket_ipv6()
                .map_or(0, |address| address.scope_id()),
            timestamp: None,
            queued_error: None,
            ttl: None,
            traffic_class: None,
        }),
        Err(error) if error.raw_os_error() == Some(WSAEMSGSIZE) => Ok(Datagram {
            len: buf.len(),
            truncated: true,
            source: None,
            source_scope: 0,
            timestamp: None,
            queued_error: None,
            ttl: None,
            traffic_class: None,
        }),
        Err(error) => Err(error),
    }
}

/// Windows has no error queue: nothing is ever there.
pub(crate) fn recv_error_queue(_: &Socket, _: &mut [u8]) -> io::Result<Datagram> {
    Err(io::ErrorKind::WouldBlock.into())
}

/// Sets `SO_RCVBUF`.
pub(crate) fn set_recv_buffer_size(socket: &Socket, size: usize) -> io::Result<()> {
    socket.set_recv_buffer_size(size)
}

/// Nothing to fit: Windows takes any datagram a raw socket may send.
pub(crate) fn fit_send_buffer(_: &Socket, _: usize) -> io::Result<()> {
    Ok(())
}

fn wsa_poll(socket: &Socket, events: i16, timeout: Duration) -> io::Result<i16> {
    let mut fd = WSAPOLLFD {
        fd: socket.as_raw_socket() as SOCKET,
        events,
        revents: 0,
    };
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid WSAPOLLFD for a socket that stays open during the call.
    let ready = unsafe { WSAPoll(&mut fd, 1, millis) };
    if ready < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd.revents)
}

/// Waits up to `timeout` for the socket to be readable (`WSAPoll`).
pub(crate) fn poll(socket: &Socket, timeout: Duration) -> io::Result<Readiness> {
    let revents = wsa_poll(socket, POLLRDNORM, timeout)?;
    Ok(Readiness {
        readable: revents & (POLLRDNORM | POLLHUP) != 0,
        error: revents & POLLERR != 0,
    })
}

/// Waits up to `timeout` for room in the send buffer; true when there is.
pub(crate) fn poll_writable(socket: &Socket, timeout: Duration) -> io::Result<bool> {
    Ok(wsa_poll(socket, POLLWRNORM, timeout)? & POLLWRNORM != 0)
}

/// A socket registered with tokio's reactor.
#[derive(Debug)]
pub(crate) struct AsyncSocket {
    /// Owns the socket handle; gives readiness.
    registration: tokio::net::UdpSocket,
    /// The same handle, for the socket calls; never closed through this.
    socket: ManuallyDrop<Socket>,
}

impl AsyncSocket {
    /// Registers `socket` (already non-blocking) with the current runtime's reactor.
    pub(crate) fn new(socket: Socket) -> io::Result<AsyncSocket> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "no tokio runtime to register the socket with",
            ));
        }
        let raw = socket.as_raw_socket();
        let std_socket = std::net::UdpSocket::from(socket);
        let registration =
            match std::panic::catch_unwind(move || tokio::net::UdpSocket::from_std(std_socket)) {
                Ok(registration) => registration?,
                Err(_) => return Err(crate::error::Error::missing_io_driver()),
            };
        // SAFETY: `raw` is the handle `registration` owns, which stays open until
        // `registration` is dropped; the view is never dropped (ManuallyDrop), so it
        // closes nothing, and it lives no longer than `self`.
        let socket = ManuallyDrop::new(unsafe { Socket::from_raw_socket(raw) });
        Ok(AsyncSocket {
            registration,
            socket,
        })
    }

    /// Nothing to pause: readiness costs no wake-up here worth saving.
    pub(crate) fn pause_readiness(&self) {}

    /// The socket.
    pub(crate) fn get_ref(&self) -> &Socket {
        &self.socket
    }

    /// Waits until the socket is readable, then calls `read`; `read` returning
    /// `WouldBlock` clears the readiness and waits again.
    pub(crate) async fn read_with<R>(
        &self,
        mut read: impl FnMut(&Socket, Readiness) -> io::Result<R>,
    ) -> io::Result<R> {
        let readiness = Readiness {
            readable: true,
            error: false,
        };
        loop {
            self.registration.readable().await?;
            match self
                .registration
                .try_io(Interest::READABLE, || read(&self.socket, readiness))
            {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                result => return result,
            }
        }
    }

    /// Calls `write`, and again each time the socket becomes writable while the send
    /// buffer is full, until `deadline`; then returns the error that said it was full.
    pub(crate) async fn write_with<R>(
        &self,
        deadline: Instant,
        mut write: impl FnMut(&Socket) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            // A full buffer as WouldBlock, so that tokio clears the readiness and the wait
            // below waits (WSAENOBUFS would leave it set: a busy loop).
            let attempt = self.registration.try_io(Interest::WRITABLE, || {
                write(&self.socket).map_err(|error| {
                    if is_send_buffer_full(&error) {
                        io::ErrorKind::WouldBlock.into()
                    } else {
                        error
                    }
                })
            });
            let error = match attempt {
                Err(error) if is_send_buffer_full(&error) => error,
                result => return result,
            };
            match tokio::time::timeout_at(deadline.into(), self.registration.writable()).await {
                Ok(ready) => ready?,
                Err(_elapsed) => return Err(error),
            }
        }
    }
}

/// `WSAEMFILE`: no more sockets for this process.
pub(crate) fn is_out_of_files(error: &io::Error) -> bool {
    error.raw_os_error() == Some(WSAEMFILE)
}

/// Windows does not say.
pub(crate) fn open_files_limit() -> Option<u64> {
    None
}

/// True for errors that say the socket itself cannot work.
pub(crate) fn is_socket_failure(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(WSAENOTSOCK | WSAEFAULT | WSAEINVAL)
    )
}

/// True when a send failed for want of buffer room (`WSAEWOULDBLOCK`, `WSAENOBUFS`).
pub(crate) fn is_send_buffer_full(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock || error.raw_os_error() == Some(WSAENOBUFS)
}

/// True for the error a send to a broadcast address gives without `SO_BROADCAST`.
pub(crate) fn is_broadcast_refusal(error: &io::Error) -> bool {
    error.raw_os_error() == Some(WSAEACCES)
}
