//! Waiting for a socket: `poll(2)` for the blocking sockets, and the registration with the
//! tokio reactor for the async ones.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::Socket;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::is_send_buffer_full;
use crate::socket::sys::Readiness;

/// Waits up to `timeout` for the socket to be readable or to have an error pending
/// (`poll(2)`). An interrupted wait returns readable (the caller reads, and waits again
/// if there was nothing).
pub(crate) fn poll(socket: &Socket, timeout: Duration) -> io::Result<Readiness> {
    let revents = poll_events(socket, libc::POLLIN, timeout)?;
    Ok(Readiness {
        readable: revents & libc::POLLIN != 0,
        error: revents & libc::POLLERR != 0,
    })
}

/// Waits up to `timeout` for room in the socket's send buffer (`poll(2)` for `POLLOUT`):
/// true when there is some. An interrupted wait returns true (the caller tries again).
pub(crate) fn poll_writable(socket: &Socket, timeout: Duration) -> io::Result<bool> {
    Ok(poll_events(socket, libc::POLLOUT, timeout)? != 0)
}

/// `poll(2)` on one socket for `events`: the events returned, none after `timeout`, and
/// all asked for when interrupted.
fn poll_events(
    socket: &Socket,
    events: libc::c_short,
    timeout: Duration,
) -> io::Result<libc::c_short> {
    let mut fd = libc::pollfd {
        fd: socket.as_raw_fd(),
        events,
        revents: 0,
    };
    // Round up so that a sub-millisecond remainder still waits.
    let millis = timeout
        .as_micros()
        .div_ceil(1000)
        .min(libc::c_int::MAX as u128) as libc::c_int;
    // SAFETY: `fd` is one valid `pollfd` for the duration of the call.
    let rc = unsafe { libc::poll(&mut fd, 1, millis) };
    if rc < 0 {
        let error = io::Error::last_os_error();
        return if error.kind() == io::ErrorKind::Interrupted {
            Ok(events)
        } else {
            Err(error)
        };
    }
    Ok(fd.revents)
}

/// A socket registered with the tokio reactor, except while a reader drains it on its own.
///
/// The registration can be dropped for a while ([`AsyncSocket::pause_readiness`]): a
/// reader that keeps draining the socket during a burst of replies needs no readiness
/// events, and each one costs the sending thread a wake-up of whichever idle worker of a
/// multi-thread runtime waits in `epoll_wait(2)` (measured: a plain send/receive loop on
/// a socket merely registered with an idle two-worker runtime takes 1.2 to 1.9 times as
/// long, with a context switch per reply). The next wait registers the socket again.
#[derive(Debug)]
pub(crate) struct AsyncSocket {
    /// Declared first: deregistered before the socket closes.
    registration: Mutex<Option<Arc<AsyncFd<Descriptor>>>>,
    socket: Socket,
}

/// The socket's descriptor, as the registration sees it; the socket owns it.
#[derive(Debug)]
struct Descriptor(RawFd);

impl AsRawFd for Descriptor {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

impl AsyncSocket {
    /// Registers `socket` (already non-blocking) with the current runtime's reactor.
    pub(crate) fn new(socket: Socket) -> io::Result<AsyncSocket> {
        let socket = AsyncSocket {
            registration: Mutex::new(None),
            socket,
        };
        socket.registration()?;
        Ok(socket)
    }

    /// The current registration, made anew when paused.
    fn registration(&self) -> io::Result<Arc<AsyncFd<Descriptor>>> {
        let mut slot = self
            .registration
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(registration) = slot.as_ref() {
            return Ok(Arc::clone(registration));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "no tokio runtime to register the socket with",
            ));
        }
        // No WRITABLE interest: every sent packet frees send-buffer space, and with that
        // interest each one would wake the reactor's thread (measured: most of the cost of
        // a sweep on a multi-thread runtime). Sends rarely find the buffer full; see
        // `write_with`.
        let interest = Interest::READABLE | Interest::ERROR;
        let descriptor = Descriptor(self.socket.as_raw_fd());
        // SAFETY: the descriptor belongs to `self.socket`, which stays open and the same
        // until `self` is dropped; the registration is dropped first (field order), and
        // every clone of it lives within a borrow of `self` (`read_with`).
        let registered =
            register(|| unsafe { AsyncFd::register_with_interest(descriptor, interest) })?;
        let registered = Arc::new(registered);
        *slot = Some(Arc::clone(&registered));
        Ok(registered)
    }

    /// Drops the registration until the next wait for readiness (see the type's docs).
    pub(crate) fn pause_readiness(&self) {
        let registration = self
            .registration
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        drop(registration);
    }

    /// The socket.
    pub(crate) fn get_ref(&self) -> &Socket {
        &self.socket
    }

    /// Waits until the socket is readable or has an error pending, then calls `read` with
    /// what was ready; `read` returning `WouldBlock` clears the readiness and waits again.
    pub(crate) async fn read_with<R>(
        &self,
        mut read: impl FnMut(&Socket, Readiness) -> io::Result<R>,
    ) -> io::Result<R> {
        let registration = self.registration()?;
        loop {
            let mut guard = registration
                .ready(Interest::READABLE | Interest::ERROR)
                .await?;
            let ready = guard.ready();
            let readiness = Readiness {
                readable: ready.is_readable(),
                error: ready.is_error(),
            };
            match guard.try_io(|_| read(&self.socket, readiness)) {
                Ok(result) => return result,
                // Nothing to read although the reactor says the read side is closed (a
                // shutdown): that state never clears, so waiting again would spin.
                Err(_would_block) if ready.is_read_closed() => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the socket was shut down",
                    ));
                }
                Err(_would_block) => continue,
            }
        }
    }

    /// Calls `write`, and again each time the socket becomes writable while the send
    /// buffer is full (see [`is_send_buffer_full`]), until `deadline`; then returns the
    /// error that said it was full.
    ///
    /// The socket's own registration has no WRITABLE interest (see `registration`), so the
    /// wait registers a duplicate of the descriptor (`dup(2)`) for writability alone, for
    /// as long as it waits: a full send buffer is rare, and edge-triggered readiness then
    /// wakes the wait each time the kernel frees room.
    pub(crate) async fn write_with<R>(
        &self,
        deadline: std::time::Instant,
        mut write: impl FnMut(&Socket) -> io::Result<R>,
    ) -> io::Result<R> {
        let mut room: Option<AsyncFd<Socket>> = None;
        loop {
            let error = match write(&self.socket) {
                Err(error) if is_send_buffer_full(&error) => error,
                result => return result,
            };
            let registration = match room.as_mut() {
                Some(registration) => registration,
                None => {
                    let duplicate = self.socket.try_clone()?;
                    // SAFETY: `duplicate` owns its descriptor (a `dup(2)` of the socket's),
                    // which stays open and the same until the registration, which owns
                    // `duplicate`, is dropped.
                    room.insert(register(|| unsafe {
                        AsyncFd::register_with_interest(duplicate, Interest::WRITABLE)
                    })?)
                }
            };
            match tokio::time::timeout_at(deadline.into(), registration.writable()).await {
                Ok(ready) => ready?.clear_ready(),
                Err(_elapsed) => return Err(error),
            }
        }
    }
}

/// Registers with the reactor through `register`, which panics when the runtime has no
/// I/O driver (tokio cannot be asked first): the panic becomes
/// `Error::missing_io_driver`, which the socket reports as `Error::Runtime`.
fn register<T: AsRawFd>(
    register: impl FnOnce() -> Result<AsyncFd<T>, tokio::io::unix::AsyncFdRegisterError<T>>,
) -> io::Result<AsyncFd<T>> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(register)) {
        Ok(registered) => registered.map_err(|error| error.into_parts().1),
        Err(_) => Err(crate::error::Error::missing_io_driver()),
    }
}
