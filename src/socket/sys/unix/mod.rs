//! Unix: Linux (tested), macOS and FreeBSD (compiled).
//!
//! Sockets come from socket2; `sendmsg(2)` / `recvmsg(2)` are called through libc because
//! the control messages (per-packet TTL, kernel timestamps, queued ICMP errors) need the
//! `CMSG_*` macros. Here: opening a socket and its buffers; `options`: socket options and
//! interfaces; `send`, `recv` and `control`: datagrams and their control messages; `address`:
//! socket addresses;
//! `readiness`: waiting, and tokio's reactor; `errors`: what an errno means; `mtu`: Don't
//! Fragment and the route's MTU; `sender`: the sockets of a per-probe TTL where the
//! system has no per-packet option; `linux`: what only Linux has.

use std::io;

use socket2::{Domain, Protocol, Socket, Type};

mod address;
mod control;
mod errors;
#[cfg(target_os = "linux")]
mod linux;
mod mtu;
mod options;
mod readiness;
mod recv;
mod send;
mod sender;

pub(crate) use address::socket_address_of;
pub(crate) use errors::{
    is_broadcast_refusal, is_out_of_files, is_send_buffer_full, is_socket_failure, open_files_limit,
};
#[cfg(target_os = "linux")]
pub(crate) use linux::{RecvBatch, keep_all_ids, keep_ids};
pub(crate) use mtu::{is_too_big, route_mtu, set_dont_fragment};
pub(crate) use options::{
    bind_interface, interface_exists, interface_index, interface_name, set_mark,
};
pub(crate) use readiness::{AsyncSocket, poll, poll_writable};
pub(crate) use recv::{recv, recv_error_queue};
pub(crate) use send::send_to;

use crate::family::Family;
use options::set_int_option;

/// The TTL / hop limit every socket is opened with (and requests use by default).
const DEFAULT_TTL: u8 = crate::socket::request::DEFAULT_TTL;
/// The TOS / traffic class every socket is opened with.
const DEFAULT_TRAFFIC_CLASS: u8 = 0;

/// Whether an IPv4 socket of this kind delivers the IP header in front of the ICMP
/// message: raw sockets always do; datagram sockets do on macOS and FreeBSD, not on Linux.
pub(crate) fn ipv4_header_included(privileged: bool) -> bool {
    privileged || !cfg!(target_os = "linux")
}

/// Opens a non-blocking ICMP socket: raw (`SOCK_RAW`, needs root or `CAP_NET_RAW`) when
/// `privileged`, else datagram (`SOCK_DGRAM`, "ping socket").
pub(crate) fn open(family: Family, privileged: bool) -> io::Result<Socket> {
    let (domain, protocol) = match family {
        Family::V4 => (Domain::IPV4, Protocol::ICMPV4),
        Family::V6 => (Domain::IPV6, Protocol::ICMPV6),
    };
    let kind = if privileged { Type::RAW } else { Type::DGRAM };
    let socket = Socket::new(domain, kind, Some(protocol))?;
    socket.set_nonblocking(true)?;
    enable_timestamps(&socket)?;
    enable_arrival_fields(&socket, family, privileged);
    // A small send buffer: see `SEND_BUFFER`.
    socket.set_send_buffer_size(SEND_BUFFER)?;
    // The socket's own TTL and TOS are the defaults of a request, whatever the system's
    // defaults: requests that use them need no per-packet control message.
    match family {
        Family::V4 => {
            socket.set_ttl_v4(u32::from(DEFAULT_TTL))?;
            set_int_option(
                &socket,
                libc::IPPROTO_IP,
                libc::IP_TOS,
                DEFAULT_TRAFFIC_CLASS.into(),
            )?;
        }
        Family::V6 => {
            socket.set_unicast_hops_v6(u32::from(DEFAULT_TTL))?;
            set_int_option(
                &socket,
                libc::IPPROTO_IPV6,
                libc::IPV6_TCLASS,
                DEFAULT_TRAFFIC_CLASS.into(),
            )?;
        }
    }
    #[cfg(target_os = "linux")]
    if privileged {
        linux::set_type_filter(&socket, family)?;
    }
    // On a datagram socket the error queue brings the ICMP errors about its requests. On
    // a raw socket, which sees those messages themselves, it makes a send whose packet a
    // full queue of the link dropped fail with ENOBUFS, which Linux otherwise reports as
    // sent (and the request as lost): see `SEND_BUFFER`.
    #[cfg(target_os = "linux")]
    linux::enable_error_queue(&socket, family)?;
    Ok(socket)
}

/// Asks for the TTL / hop limit and TOS / traffic class of each received packet as control
/// messages: `IPV6_RECVHOPLIMIT` and `IPV6_RECVTCLASS`, and on Linux for datagram IPv4
/// sockets `IP_RECVTTL` and `IP_RECVTOS` (raw IPv4 sockets, and datagram ones elsewhere,
/// read them from the IP header in front of each packet). Best effort: a system without
/// one of these options still pings, its replies without the field.
fn enable_arrival_fields(socket: &Socket, family: Family, privileged: bool) {
    let options: &[(libc::c_int, libc::c_int)] = match family {
        #[cfg(target_os = "linux")]
        Family::V4 if !privileged => &[
            (libc::IPPROTO_IP, libc::IP_RECVTTL),
            (libc::IPPROTO_IP, libc::IP_RECVTOS),
        ],
        Family::V4 => &[],
        Family::V6 => &[
            (libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT),
            (libc::IPPROTO_IPV6, libc::IPV6_RECVTCLASS),
        ],
    };
    let _ = privileged;
    for &(level, name) in options {
        if let Err(error) = set_int_option(socket, level, name, 1) {
            tracing::debug!(%error, level, name, "a reply field cannot be asked for");
        }
    }
}

/// Asks for kernel receive timestamps: `SO_TIMESTAMPNS` (nanoseconds) on Linux,
/// `SO_TIMESTAMP` (microseconds) elsewhere.
fn enable_timestamps(socket: &Socket) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    let option = libc::SO_TIMESTAMPNS;
    #[cfg(not(target_os = "linux"))]
    let option = libc::SO_TIMESTAMP;
    set_int_option(socket, libc::SOL_SOCKET, option, 1)
}

/// The send buffer every ICMP socket is opened with (`SO_SNDBUF`; Linux doubles it).
///
/// The kernel counts a sent packet against its socket's buffer until the link has sent
/// it, so this bounds what one socket can queue in front of a slow link: a few dozen
/// small requests, which fit the queue of any link, instead of the hundreds of the
/// default buffer, which overflowed the queue of a 1 Mbit/s link (tbf, `limit 10kb`) and
/// were dropped there: silently for raw IPv4 sockets, without any error for datagram IPv6
/// sockets (measured: 4,032 requests to 1,008 live hosts, 770 to 1,142 answered, 510 to
/// 658 hosts reported dead; with this buffer, all answered and nothing dropped). A full
/// buffer makes sends wait until the link drains. Loopback frees packets as they are
/// sent, so a sweep there never waits. Requests too large for it grow it
/// ([`fit_send_buffer`]).
pub(crate) const SEND_BUFFER: usize = 8 << 10;

/// Grows the send buffer, if needed, so that a request of `len` bytes fits in it with
/// what its IP fragments cost the kernel, a request larger than a link's MTU being sent
/// as fragments all at once (Linux refuses a fragment once the socket holds more than
/// twice its buffer).
pub(crate) fn fit_send_buffer(socket: &Socket, len: usize) -> io::Result<()> {
    let wanted = len.saturating_mul(2).saturating_add(SEND_BUFFER);
    // Linux reports the doubled size it keeps.
    if socket.send_buffer_size()? / 2 < wanted {
        socket.set_send_buffer_size(wanted)?;
    }
    Ok(())
}

/// Sets the receive buffer size (`SO_RCVBUF`), forcing it past `net.core.rmem_max` with
/// `SO_RCVBUFFORCE` on Linux when the process may (`CAP_NET_ADMIN`).
pub(crate) fn set_recv_buffer_size(socket: &Socket, size: usize) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    if let Ok(value) = libc::c_int::try_from(size)
        && set_int_option(socket, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, value).is_ok()
    {
        return Ok(());
    }
    socket.set_recv_buffer_size(size)
}
