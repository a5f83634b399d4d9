//! Reading a datagram with `recvmsg(2)`, from the socket or (Linux) its error queue, with
//! its source address and control messages.

use std::io;
use std::mem;

use std::os::fd::AsRawFd;
use std::ptr;

use socket2::Socket;

use super::address::socket_address;
use super::control::{ControlBuffer, read_control_messages};
use crate::socket::sys::Datagram;

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
    let mut datagram = Datagram::received(
        (received as usize).min(buf.len()),
        header.msg_flags & libc::MSG_TRUNC != 0,
        source,
    );
    // SAFETY: `header` now describes the control messages the kernel wrote into `control`
    // (msg_controllen was updated by recvmsg).
    unsafe { read_control_messages(&header, &mut datagram) };
    Ok(datagram)
}
