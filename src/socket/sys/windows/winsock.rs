//! Raw winsock ICMP sockets (`privileged = true`, Administrator): opening, sending with a
//! TTL of its own, reading, and what winsock's errors mean. The options this crate sets
//! on Unix only (interface, mark, Don't Fragment, the route's MTU) are refused here.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::sync::{Mutex, PoisonError};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use windows_sys::Win32::Networking::WinSock::{
    WSAEACCES, WSAEAFNOSUPPORT, WSAEFAULT, WSAEINVAL, WSAEMFILE, WSAEMSGSIZE, WSAENOBUFS,
    WSAENOTSOCK, WSAEPROTONOSUPPORT,
};

use crate::family::Family;
use crate::socket::sys::{Datagram, Senders};

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
    _senders: &Senders,
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

/// See [`interface_index`]: not known here.
pub(crate) fn interface_exists(_: u32) -> Option<bool> {
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
        Ok((len, source)) => {
            let scope = source
                .as_socket_ipv6()
                .map_or(0, |address| address.scope_id());
            let source = source.as_socket().map(|address| (address.ip(), scope));
            Ok(Datagram::received(len, false, source))
        }
        Err(error) if error.raw_os_error() == Some(WSAEMSGSIZE) => {
            Ok(Datagram::received(buf.len(), true, None))
        }
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

/// A send refused for its size (`WSAEMSGSIZE`).
pub(crate) fn is_too_big(error: &io::Error) -> bool {
    error.raw_os_error() == Some(WSAEMSGSIZE)
}
