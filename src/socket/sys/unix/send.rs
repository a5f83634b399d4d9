//! Sending a request: `sendmsg(2)` with its TTL and TOS as control messages, `sendto(2)`
//! when it needs none, or a socket of its own where the system has no per-packet option
//! ([`Senders`]).

use std::io;
use std::mem;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

use socket2::Socket;

use super::address::socket_address_of;
use super::control::{ControlBuffer, per_packet_options};
use super::sender::open_sender;
use super::{DEFAULT_TRAFFIC_CLASS, DEFAULT_TTL, fit_send_buffer};
use crate::family::Family;
use crate::socket::sys::senders::{Senders, has_per_packet_options, sender_key};

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
