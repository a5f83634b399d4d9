//! Unix: Linux (tested), macOS and FreeBSD (compiled).
//!
//! Sockets come from socket2; `sendmsg(2)` / `recvmsg(2)` are called through libc because
//! the control messages (per-packet TTL, kernel timestamps, queued ICMP errors) need the
//! `CMSG_*` macros.

use std::io;
use std::mem::{self, MaybeUninit};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::ptr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

mod errors;
#[cfg(target_os = "linux")]
mod linux;
mod mtu;
mod readiness;
mod sender;

pub(crate) use errors::{
    is_broadcast_refusal, is_out_of_files, is_send_buffer_full, is_socket_failure, open_files_limit,
};
#[cfg(target_os = "linux")]
pub(crate) use linux::{RecvBatch, keep_all_ids, keep_ids};
pub(crate) use mtu::{is_too_big, route_mtu, set_dont_fragment};
pub(crate) use readiness::{AsyncSocket, poll, poll_writable};

use super::Datagram;
use super::senders::{Senders, has_per_packet_options, sender_key};
use crate::family::Family;
use sender::open_sender;

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

/// Sets an `int` socket option with `setsockopt(2)`.
fn set_int_option(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    set_option(socket, level, name, &value)
}

/// Reads an `int` socket option with `getsockopt(2)`.
fn get_int_option(socket: &Socket, level: libc::c_int, name: libc::c_int) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for writes and outlive the call; `len` says how
    // many bytes `value` holds; the descriptor belongs to `socket`.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            level,
            name,
            ptr::from_mut(&mut value).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets a socket option from a plain-data value with `setsockopt(2)`.
fn set_option<T: Copy>(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    let len =
        libc::socklen_t::try_from(mem::size_of::<T>()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `value` points to `len` readable bytes of a `Copy` (plain data) value that
    // outlives the call; the descriptor belongs to `socket`.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            ptr::from_ref(value).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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

/// Asks for kernel receive timestamps: `SO_TIMESTAMPNS` (nanoseconds) on Linux,
/// `SO_TIMESTAMP` (microseconds) elsewhere.
fn enable_timestamps(socket: &Socket) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    let option = libc::SO_TIMESTAMPNS;
    #[cfg(not(target_os = "linux"))]
    let option = libc::SO_TIMESTAMP;
    set_int_option(socket, libc::SOL_SOCKET, option, 1)
}

/// Room for the control messages we ask for: a timestamp, the TTL / hop limit and TOS /
/// traffic class, and an extended error with its offender address (about 150 bytes in
/// all), with headroom. Aligned like `cmsghdr`.
#[repr(C, align(8))]
pub(super) struct ControlBuffer(pub(super) [MaybeUninit<u8>; 256]);

impl ControlBuffer {
    pub(super) fn new() -> ControlBuffer {
        ControlBuffer([MaybeUninit::uninit(); 256])
    }
}

/// Sends `message` to `destination` with `sendmsg(2)`, or `sendto(2)` when it needs no
/// control message. The TTL / hop limit and the TOS / traffic class travel as control
/// messages (`IP_TTL`, `IP_TOS` on Linux; `IPV6_HOPLIMIT`, `IPV6_TCLASS` everywhere), so
/// one socket serves requests with different values; IPv4 on macOS and FreeBSD, which has
/// no such options, sends them from a socket of `senders` whose own are the request's.
pub(crate) fn send_to(
    socket: &Socket,
    senders: &Senders,
    message: &[u8],
    destination: IpAddr,
    scope_id: u32,
    ttl: u8,
    traffic_class: u8,
) -> io::Result<usize> {
    let address = socket_address_of(destination, scope_id);
    let family = Family::of(&destination);
    let defaults = (DEFAULT_TTL, DEFAULT_TRAFFIC_CLASS);
    let per_packet = has_per_packet_options(family);
    if let Some(key) = sender_key(per_packet, defaults, ttl, traffic_class) {
        let mut senders = senders.lock();
        let sender = senders.get_or_open(key, || open_sender(socket, family, key))?;
        fit_send_buffer(sender, message.len())?;
        return sender.send_to(message, &address);
    }
    let mut control = ControlBuffer::new();
    let control_len = per_packet_options(&mut control, destination, ttl, traffic_class)?;
    if control_len == 0 {
        // `sendto(2)`: the kernel then builds the message header itself instead of
        // copying and checking ours (measured: a few percent of a sweep's time).
        return socket.send_to(message, &address);
    }
    let mut iov = libc::iovec {
        iov_base: message.as_ptr().cast_mut().cast(),
        iov_len: message.len(),
    };
    // SAFETY: an all-zero `msghdr` is valid (null pointers, zero lengths).
    let mut header: libc::msghdr = unsafe { mem::zeroed() };
    header.msg_name = address.as_ptr().cast_mut().cast();
    header.msg_namelen = address.len();
    header.msg_iov = &mut iov;
    header.msg_iovlen = 1;
    header.msg_control = control.0.as_mut_ptr().cast();
    header.msg_controllen = control_len as _;
    // SAFETY: every pointer in `header` points to memory that outlives the call: the
    // address, the message (only read by the kernel) and the control buffer.
    let sent = unsafe { libc::sendmsg(socket.as_raw_fd(), &header, 0) };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sent as usize)
    }
}

/// Writes the TTL and TOS control messages for `sendmsg` and returns their length (none
/// when the request uses the socket's own values).
fn per_packet_options(
    control: &mut ControlBuffer,
    destination: IpAddr,
    ttl: u8,
    traffic_class: u8,
) -> io::Result<usize> {
    if ttl == DEFAULT_TTL && traffic_class == DEFAULT_TRAFFIC_CLASS {
        return Ok(0);
    }
    let options = match destination {
        IpAddr::V4(_) => [
            (libc::IPPROTO_IP, libc::IP_TTL, ttl),
            (libc::IPPROTO_IP, libc::IP_TOS, traffic_class),
        ],
        IpAddr::V6(_) => [
            (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT, ttl),
            (libc::IPPROTO_IPV6, libc::IPV6_TCLASS, traffic_class),
        ],
    };
    let int_len = mem::size_of::<libc::c_int>() as libc::c_uint;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(int_len) } as usize;
    let total = space * options.len();
    if total > control.0.len() {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    // SAFETY: an all-zero `msghdr` is valid; it only describes `control` to the CMSG macros.
    let mut header: libc::msghdr = unsafe { mem::zeroed() };
    header.msg_control = control.0.as_mut_ptr().cast();
    header.msg_controllen = total as _;
    // SAFETY: `header` describes `control`, which holds `total` bytes, room for every
    // control message written below; CMSG_FIRSTHDR / CMSG_NXTHDR stay inside it and each
    // header and its `int` are written (unaligned-safe) before the next one is computed.
    unsafe {
        ptr::write_bytes(control.0.as_mut_ptr(), 0, total);
        let mut cmsg = libc::CMSG_FIRSTHDR(&header);
        for (level, kind, value) in options {
            if cmsg.is_null() {
                return Err(io::ErrorKind::InvalidInput.into());
            }
            (*cmsg).cmsg_level = level;
            (*cmsg).cmsg_type = kind;
            (*cmsg).cmsg_len = libc::CMSG_LEN(int_len) as _;
            ptr::write_unaligned(
                libc::CMSG_DATA(cmsg).cast::<libc::c_int>(),
                libc::c_int::from(value),
            );
            cmsg = libc::CMSG_NXTHDR(&header, cmsg);
        }
    }
    Ok(total)
}

/// The socket address of `address` (port 0), with the scope (interface) a link-local IPv6
/// address needs.
pub(crate) fn socket_address_of(address: IpAddr, scope_id: u32) -> SockAddr {
    match address {
        IpAddr::V4(v4) => SockAddr::from(SocketAddr::new(IpAddr::V4(v4), 0)),
        IpAddr::V6(v6) => SockAddr::from(std::net::SocketAddrV6::new(v6, 0, 0, scope_id)),
    }
}

/// Binds `socket` to the network interface `name`: its probes leave by it and its answers
/// come from it (`SO_BINDTODEVICE` on Linux, `IP_BOUND_IF` / `IPV6_BOUND_IF` on macOS).
pub(crate) fn bind_interface(socket: &Socket, family: Family, name: &str) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let _ = family;
        socket.bind_device(Some(name.as_bytes()))
    }
    #[cfg(target_vendor = "apple")]
    {
        let index = interface_index(name)
            .and_then(std::num::NonZeroU32::new)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))?;
        match family {
            Family::V4 => socket.bind_device_by_index_v4(Some(index)),
            Family::V6 => socket.bind_device_by_index_v6(Some(index)),
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
    {
        let _ = (socket, family, name);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "binding to an interface is not supported on this system: give a source address",
        ))
    }
}

/// Marks the packets of `socket` for policy routing and filtering (`SO_MARK`, Linux).
pub(crate) fn set_mark(socket: &Socket, mark: u32) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return socket.set_mark(mark);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (socket, mark);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "routing marks (SO_MARK) exist on Linux only",
        ))
    }
}

/// The index of the network interface named `name` (`if_nametoindex(3)`).
pub(crate) fn interface_index(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

/// The name of the network interface of index `index` (`if_indextoname(3)`).
pub(crate) fn interface_name(index: u32) -> Option<String> {
    let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `name` has room for IF_NAMESIZE bytes, as the call requires.
    let found = unsafe { libc::if_indextoname(index, name.as_mut_ptr()) };
    if found.is_null() {
        return None;
    }
    // SAFETY: on success the kernel wrote a NUL-terminated name into `name`.
    let name = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

/// Reads one datagram into `buf` without blocking (`WouldBlock` when there is none).
pub(crate) fn recv(socket: &Socket, buf: &mut [u8]) -> io::Result<Datagram> {
    recv_with_flags(socket, buf, 0)
}

/// Reads one entry of the error queue (Linux `MSG_ERRQUEUE`) without blocking:
/// `WouldBlock` when it is empty, and always on systems without an error queue.
pub(crate) fn recv_error_queue(socket: &Socket, buf: &mut [u8]) -> io::Result<Datagram> {
    #[cfg(target_os = "linux")]
    return recv_with_flags(socket, buf, libc::MSG_ERRQUEUE);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (socket, buf);
        Err(io::ErrorKind::WouldBlock.into())
    }
}

fn recv_with_flags(socket: &Socket, buf: &mut [u8], flags: libc::c_int) -> io::Result<Datagram> {
    // SAFETY: an all-zero `sockaddr_storage` is a valid (AF_UNSPEC) address.
    let mut name: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut control = ControlBuffer::new();
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero `msghdr` is valid (null pointers, zero lengths).
    let mut header: libc::msghdr = unsafe { mem::zeroed() };
    header.msg_name = ptr::from_mut(&mut name).cast();
    header.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    header.msg_iov = &mut iov;
    header.msg_iovlen = 1;
    header.msg_control = control.0.as_mut_ptr().cast();
    header.msg_controllen = control.0.len() as _;
    // SAFETY: `header` points to the address storage, the caller's buffer and the control
    // buffer, all writable for their stated lengths and alive for the call.
    let received =
        unsafe { libc::recvmsg(socket.as_raw_fd(), &mut header, flags | libc::MSG_DONTWAIT) };
    if received < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel wrote `msg_namelen` bytes of a socket address into `name`.
    let source =
        unsafe { socket_address(ptr::from_ref(&name).cast(), header.msg_namelen as usize) };
    let mut datagram = Datagram {
        len: (received as usize).min(buf.len()),
        truncated: header.msg_flags & libc::MSG_TRUNC != 0,
        source: source.map(|(address, _)| address),
        source_scope: source.map_or(0, |(_, scope)| scope),
        timestamp: None,
        queued_error: None,
        ttl: None,
        traffic_class: None,
    };
    // SAFETY: `header` now describes the control messages the kernel wrote into `control`
    // (msg_controllen was updated by recvmsg).
    unsafe { read_control_messages(&header, &mut datagram) };
    Ok(datagram)
}

/// Reads the IP address of the socket address at `address` (`len` bytes long), with the
/// scope (interface) of an IPv6 address (0 for none).
///
/// # Safety
/// `address` must point to `len` readable bytes.
pub(super) unsafe fn socket_address(address: *const u8, len: usize) -> Option<(IpAddr, u32)> {
    if len < mem::size_of::<libc::sockaddr>() {
        return None;
    }
    // SAFETY: at least `sizeof(sockaddr)` bytes are readable (checked above).
    let family = libc::c_int::from(
        unsafe { ptr::read_unaligned(address.cast::<libc::sockaddr>()) }.sa_family,
    );
    match family {
        libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the length covers a `sockaddr_in`, and the family says it is one.
            let v4 = unsafe { ptr::read_unaligned(address.cast::<libc::sockaddr_in>()) };
            Some((
                IpAddr::V4(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr))),
                0,
            ))
        }
        libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the length covers a `sockaddr_in6`, and the family says it is one.
            let v6 = unsafe { ptr::read_unaligned(address.cast::<libc::sockaddr_in6>()) };
            Some((
                IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr)),
                v6.sin6_scope_id,
            ))
        }
        _ => None,
    }
}

/// Walks the control messages of a received datagram for its timestamp and, on Linux,
/// its queued ICMP error.
///
/// # Safety
/// `header` must describe a control buffer the kernel filled in by `recvmsg`.
pub(super) unsafe fn read_control_messages(header: &libc::msghdr, datagram: &mut Datagram) {
    // SAFETY (whole loop): CMSG_FIRSTHDR / CMSG_NXTHDR return null or a header that lies
    // inside the control buffer; the data of each message is read only after checking
    // that its length covers the type read, with unaligned reads.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(header) };
    while !cmsg.is_null() {
        let (level, kind, len) = unsafe {
            (
                (*cmsg).cmsg_level,
                (*cmsg).cmsg_type,
                (*cmsg).cmsg_len as usize,
            )
        };
        let data = unsafe { libc::CMSG_DATA(cmsg) };
        let data_len = len.saturating_sub(unsafe { libc::CMSG_LEN(0) } as usize);
        if level == libc::SOL_SOCKET {
            datagram.timestamp = unsafe { timestamp(kind, data, data_len) }.or(datagram.timestamp);
        }
        unsafe { arrival_field(level, kind, data, data_len, datagram) };
        #[cfg(target_os = "linux")]
        if (level == libc::SOL_IP && kind == libc::IP_RECVERR)
            || (level == libc::SOL_IPV6 && kind == libc::IPV6_RECVERR)
        {
            datagram.queued_error = unsafe { linux::extended_error(data, data_len) };
        }
        cmsg = unsafe { libc::CMSG_NXTHDR(header, cmsg) };
    }
}

/// Reads a TTL / hop limit or TOS / traffic class control message into `datagram`.
///
/// # Safety
/// `data` must point to `len` readable bytes.
unsafe fn arrival_field(
    level: libc::c_int,
    kind: libc::c_int,
    data: *const u8,
    len: usize,
    datagram: &mut Datagram,
) {
    // SAFETY: read only when the length covers an int.
    let int = || {
        (len >= mem::size_of::<libc::c_int>())
            .then(|| unsafe { ptr::read_unaligned(data.cast::<libc::c_int>()) })
            .and_then(|value| u8::try_from(value).ok())
    };
    if level == libc::IPPROTO_IPV6 && kind == libc::IPV6_HOPLIMIT {
        datagram.ttl = int();
    } else if level == libc::IPPROTO_IPV6 && kind == libc::IPV6_TCLASS {
        datagram.traffic_class = int();
    }
    #[cfg(target_os = "linux")]
    if level == libc::SOL_IP && kind == libc::IP_TTL {
        datagram.ttl = int();
    } else if level == libc::SOL_IP && kind == libc::IP_TOS && len >= 1 {
        // SAFETY: one byte is readable (checked).
        datagram.traffic_class = Some(unsafe { *data });
    }
}

/// Reads a kernel timestamp control message.
///
/// # Safety
/// `data` must point to `len` readable bytes.
unsafe fn timestamp(kind: libc::c_int, data: *const u8, len: usize) -> Option<SystemTime> {
    #[cfg(target_os = "linux")]
    if kind == libc::SCM_TIMESTAMPNS && len >= mem::size_of::<libc::timespec>() {
        // SAFETY: the length covers a `timespec`.
        let ts = unsafe { ptr::read_unaligned(data.cast::<libc::timespec>()) };
        let since_epoch = Duration::new(
            u64::try_from(ts.tv_sec).ok()?,
            u32::try_from(ts.tv_nsec).ok()?,
        );
        return UNIX_EPOCH.checked_add(since_epoch);
    }
    #[cfg(not(target_os = "linux"))]
    if kind == libc::SCM_TIMESTAMP && len >= mem::size_of::<libc::timeval>() {
        // SAFETY: the length covers a `timeval`.
        let tv = unsafe { ptr::read_unaligned(data.cast::<libc::timeval>()) };
        let micros = u32::try_from(tv.tv_usec).ok()?;
        let since_epoch = Duration::new(u64::try_from(tv.tv_sec).ok()?, micros.checked_mul(1000)?);
        return UNIX_EPOCH.checked_add(since_epoch);
    }
    None
}
