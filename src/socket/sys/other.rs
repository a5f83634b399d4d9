//! Any system but Unix and Windows: every socket fails to open with an "unsupported"
//! error, so nothing below `open` is ever reached; the options this crate sets are
//! refused, or unknown.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use socket2::Socket;

use super::{Datagram, Readiness, Senders};
use crate::family::Family;

fn unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "ICMP sockets are not supported on this platform yet",
    )
}

pub(crate) fn ipv4_header_included(_privileged: bool) -> bool {
    true
}

pub(crate) fn open(_family: Family, _privileged: bool) -> io::Result<Socket> {
    Err(unsupported())
}

pub(crate) fn send_to(
    _: &Socket,
    _: &Senders,
    _: &[u8],
    _: IpAddr,
    _: u32,
    _: u8,
    _: u8,
) -> io::Result<usize> {
    Err(unsupported())
}

pub(crate) fn socket_address_of(address: IpAddr, _scope_id: u32) -> socket2::SockAddr {
    socket2::SockAddr::from(std::net::SocketAddr::new(address, 0))
}

pub(crate) fn interface_index(_: &str) -> Option<u32> {
    None
}

pub(crate) fn interface_exists(_: u32) -> Option<bool> {
    None
}

pub(crate) fn interface_name(_: u32) -> Option<String> {
    None
}

pub(crate) fn recv(_: &Socket, _: &mut [u8]) -> io::Result<Datagram> {
    Err(unsupported())
}

pub(crate) fn recv_error_queue(_: &Socket, _: &mut [u8]) -> io::Result<Datagram> {
    Err(unsupported())
}

pub(crate) fn set_recv_buffer_size(_: &Socket, _: usize) -> io::Result<()> {
    Err(unsupported())
}

pub(crate) fn poll(_: &Socket, _: Duration) -> io::Result<Readiness> {
    Err(unsupported())
}

pub(crate) fn poll_writable(_: &Socket, _: Duration) -> io::Result<bool> {
    Err(unsupported())
}

#[derive(Debug)]
pub(crate) struct AsyncSocket {
    socket: Socket,
}

impl AsyncSocket {
    pub(crate) fn new(socket: Socket) -> io::Result<AsyncSocket> {
        Ok(AsyncSocket { socket })
    }

    pub(crate) fn pause_readiness(&self) {}

    pub(crate) fn get_ref(&self) -> &Socket {
        &self.socket
    }

    pub(crate) async fn read_with<R>(
        &self,
        _read: impl FnMut(&Socket, Readiness) -> io::Result<R>,
    ) -> io::Result<R> {
        Err(unsupported())
    }

    pub(crate) async fn write_with<R>(
        &self,
        _deadline: std::time::Instant,
        _write: impl FnMut(&Socket) -> io::Result<R>,
    ) -> io::Result<R> {
        Err(unsupported())
    }
}

pub(crate) fn fit_send_buffer(_: &Socket, _: usize) -> io::Result<()> {
    Err(unsupported())
}

pub(crate) fn is_out_of_files(_: &io::Error) -> bool {
    false
}

pub(crate) fn open_files_limit() -> Option<u64> {
    None
}

pub(crate) fn is_socket_failure(_: &io::Error) -> bool {
    true
}

pub(crate) fn is_send_buffer_full(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
}

pub(crate) fn is_broadcast_refusal(_: &io::Error) -> bool {
    false
}

/// Never: no send gets that far.
pub(crate) fn is_too_big(_: &io::Error) -> bool {
    false
}
