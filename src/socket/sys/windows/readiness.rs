//! Waiting for a raw winsock socket: `WSAPoll` for the blocking sockets, and tokio's
//! Windows reactor for the async ones. The socket is handed to the reactor as a
//! `UdpSocket` (the reactor polls any winsock socket through AFD; only the readiness of
//! that type is used, never its UDP methods).

use std::io;
use std::mem::ManuallyDrop;
use std::os::windows::io::{AsRawSocket, FromRawSocket};
use std::time::{Duration, Instant};

use socket2::Socket;
use tokio::io::Interest;
use windows_sys::Win32::Networking::WinSock::{
    POLLERR, POLLHUP, POLLRDNORM, POLLWRNORM, SOCKET, WSAPOLLFD, WSAPoll,
};

use super::winsock::is_send_buffer_full;
use crate::socket::sys::Readiness;

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
