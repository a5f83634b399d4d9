//! One ICMP handle and the thread that issues its requests.
//!
//! `IcmpSendEcho2Ex` / `Icmp6SendEcho2` complete asynchronously through an APC routine,
//! which Windows runs on the thread that issued the request, when that thread waits
//! alertably. So a session owns one thread: callers queue [`Echo`]s
//! ([`Session::try_send`], never blocking), the thread issues them and sleeps alertably; each completion runs on
//! it (`completion.rs`), is read into a [`Completed`] and handed to the session's callback. One thread and
//! no event per request: no 64-handle limit, thousands of requests in flight.
//!
//! Memory the system may still write — a request's reply buffer — belongs to the thread,
//! never to a caller: dropping a caller's future, or the session, frees nothing the
//! system holds. A dropped session stops issuing, waits on its thread for the requests
//! in flight to complete (each has its own timeout), then closes the handle.
//!
//! A system may limit the requests in flight: Wine takes 256 at once (per prefix), and a
//! request beyond fails with "no memory". A session takes at most [`DEFAULT_LIMIT`]
//! requests ([`Session::try_send`] says no; [`Session::room`] tells when to try again),
//! so that a request waits in the caller, timed from when it leaves, never in the
//! session's queue while its time runs. Should the system take fewer (two sessions
//! sharing Wine's 256), the session learns its limit from the first request refused so,
//! puts that request back in its queue and takes no more than the limit from then on.

use std::collections::VecDeque;
use std::ffi::c_void;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use windows_sys::Win32::Foundation::{
    ERROR_IO_PENDING, ERROR_NO_SYSTEM_RESOURCES, ERROR_NOT_ENOUGH_MEMORY, GetLastError,
    INVALID_HANDLE_VALUE,
};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    IP_OPTION_INFORMATION, Icmp6CreateFile, Icmp6SendEcho2, IcmpCreateFile, IcmpSendEcho2Ex,
};
use windows_sys::Win32::Networking::WinSock::{AF_INET6, IN6_ADDR, SOCKADDR_IN6};
use windows_sys::Win32::System::Threading::{
    CreateEventW, INFINITE, SleepEx, WaitForSingleObjectEx,
};

use super::completion::{Failure, complete, completion, finish};
use super::reply;
use super::slots::Slots;
use super::state::{
    Completed, DEFAULT_LIMIT, Echo, OwnedHandle, Request, Shared, WORKER, Worker, close_event,
    close_icmp, live, lock,
};
use crate::clock;
use crate::family::Family;

/// An ICMP handle of one family and its thread. Dropping it stops the thread once the
/// requests in flight completed.
pub(crate) struct Session {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("family", &self.shared.family)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Opens an ICMP handle of `family` (`IcmpCreateFile` / `Icmp6CreateFile`) whose
    /// requests leave from `source` when given, and starts its thread; each completed
    /// request is handed to `on_completed`, on that thread.
    pub(crate) fn open(
        family: Family,
        source: Option<(IpAddr, u32)>,
        on_completed: Box<dyn Fn(Completed) + Send + Sync>,
    ) -> io::Result<Session> {
        // SAFETY: no arguments; the result is checked below.
        let icmp = unsafe {
            match family {
                Family::V4 => IcmpCreateFile(),
                Family::V6 => Icmp6CreateFile(),
            }
        };
        if icmp == INVALID_HANDLE_VALUE || icmp.is_null() {
            let error = io::Error::last_os_error();
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "the system gave no ICMP{} handle ({}): {error}",
                    if family == Family::V6 { "v6" } else { "" },
                    if family == Family::V6 {
                        "Icmp6CreateFile"
                    } else {
                        "IcmpCreateFile"
                    },
                ),
            ));
        }
        let icmp = OwnedHandle(icmp, close_icmp);
        // SAFETY: default security, auto-reset, not signalled, no name.
        let wake = unsafe { CreateEventW(std::ptr::null(), 0, 0, std::ptr::null()) };
        if wake.is_null() {
            return Err(io::Error::last_os_error());
        }
        let shared = Arc::new(Shared {
            family,
            source,
            icmp,
            wake: OwnedHandle(wake, close_event),
            queue: Mutex::new(VecDeque::new()),
            sleeping: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            pending: AtomicUsize::new(0),
            limit: AtomicUsize::new(DEFAULT_LIMIT),
            room: tokio::sync::Notify::new(),
            completions: AtomicUsize::new(0),
            on_completed,
        });
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("icmplib-icmp-api".into())
            .spawn(move || run(thread_shared))?;
        Ok(Session { shared })
    }

    /// Queues `echo` for the thread to issue, unless the session has as many requests as
    /// the system takes: then gives it back (wait for [`Session::room`]).
    pub(crate) fn try_send(&self, echo: Echo) -> Result<(), Echo> {
        let shared = &self.shared;
        // One step, so that a refused caller never holds a place for a moment (a waiter
        // woken by a completion would then find no room and miss its turn).
        let reserved = shared
            .pending
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |pending| {
                (pending < shared.limit.load(Ordering::SeqCst)).then_some(pending + 1)
            });
        if reserved.is_err() {
            return Err(echo);
        }
        lock(&shared.queue).push_back(echo);
        if self.shared.sleeping.swap(false, Ordering::SeqCst) {
            self.shared.wake();
        }
        Ok(())
    }

    /// Told each time a request completes: room for another.
    pub(crate) fn room(&self) -> &tokio::sync::Notify {
        &self.shared.room
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.shared.wake();
    }
}

/// The thread: issues what is queued, sleeps alertably (completions run then), and once
/// the session is dropped, waits for what is in flight before it ends.
fn run(shared: Arc<Shared>) {
    WORKER.with(|worker| {
        *worker.borrow_mut() = Some(Worker {
            shared: Arc::clone(&shared),
            slots: Slots::default(),
        });
    });
    loop {
        let closing = shared.closing.load(Ordering::SeqCst);
        while live() < shared.limit.load(Ordering::SeqCst) {
            let Some(echo) = lock(&shared.queue).pop_front() else {
                break;
            };
            // A dropped session issues nothing more.
            if !closing {
                issue(&shared, echo);
            }
        }
        if closing && live() == 0 {
            break;
        }
        shared.sleeping.store(true, Ordering::SeqCst);
        // Checked after `sleeping` is set: a caller who queued before it was set is
        // seen here, one who queued after it sets the event.
        let closing = shared.closing.load(Ordering::SeqCst);
        let more = !lock(&shared.queue).is_empty() && live() < shared.limit.load(Ordering::SeqCst);
        if !(more || closing && live() == 0) {
            // SAFETY: the event handle is open while `shared` lives; the wait is
            // alertable, so completion routines run in it.
            unsafe { WaitForSingleObjectEx(shared.wake.0, INFINITE, 1) };
        }
        shared.sleeping.store(false, Ordering::SeqCst);
    }
    WORKER.with(|worker| drop(worker.borrow_mut().take()));
}

fn socket_address_v6(address: Option<(IpAddr, u32)>) -> SOCKADDR_IN6 {
    // SAFETY: SOCKADDR_IN6 is plain data; all zeroes is the unspecified address.
    let mut socket_address: SOCKADDR_IN6 = unsafe { std::mem::zeroed() };
    socket_address.sin6_family = AF_INET6;
    if let Some((IpAddr::V6(address), scope_id)) = address {
        socket_address.sin6_addr = IN6_ADDR {
            u: windows_sys::Win32::Networking::WinSock::IN6_ADDR_0 {
                Byte: address.octets(),
            },
        };
        socket_address.Anonymous.sin6_scope_id = scope_id;
    }
    socket_address
}

fn ipv4_of(address: Option<IpAddr>) -> u32 {
    match address {
        Some(IpAddr::V4(address)) => u32::from_ne_bytes(address.octets()),
        _ => 0,
    }
}

/// Issues `echo`. A call that finishes at once (it failed, or completed synchronously)
/// is completed here, unless its completion routine ran meanwhile.
fn issue(shared: &Shared, echo: Echo) {
    // The time left of the request's own: all of it but the hand-off, unless it went
    // back to the queue (see `complete`).
    let left = echo
        .timeout
        .saturating_sub(clock::now().saturating_duration_since(echo.queued_at));
    if left.is_zero() {
        finish(shared, echo, clock::now(), Vec::new(), None, None);
        return;
    }
    let timeout = u32::try_from(left.as_micros().div_ceil(1_000)).unwrap_or(u32::MAX - 1);
    let family = shared.family;
    let mut request = Box::new(Request {
        buffer: vec![0; reply::reply_buffer_len(family, echo.payload.len()).div_ceil(8)],
        parsed: None,
        options: IP_OPTION_INFORMATION {
            Ttl: echo.ttl,
            Tos: 0,
            Flags: 0,
            OptionsSize: 0,
            OptionsData: std::ptr::null_mut(),
        },
        source6: socket_address_v6(shared.source),
        destination6: socket_address_v6(Some((echo.destination, echo.scope_id))),
        echo,
    });
    let payload_len = u16::try_from(request.echo.payload.len()).unwrap_or(u16::MAX);
    let buffer_len = u32::try_from(request.buffer.len() * 8).unwrap_or(u32::MAX);
    // The box does not move when it goes into the slots: these stay valid until the
    // request is taken out, after its completion.
    let payload = request.echo.payload.as_ptr().cast::<c_void>();
    let buffer = request.buffer.as_mut_ptr().cast::<c_void>();
    let options: *const IP_OPTION_INFORMATION = &request.options;
    let source6: *const SOCKADDR_IN6 = &request.source6;
    let destination6: *const SOCKADDR_IN6 = &request.destination6;
    let destination = request.echo.destination;
    let inserted = WORKER.with(|worker| {
        let Ok(mut worker) = worker.try_borrow_mut() else {
            return Err(request);
        };
        match worker.as_mut() {
            Some(worker) => worker.slots.insert(request),
            None => Err(request),
        }
    });
    let key = match inserted {
        Ok(key) => key,
        Err(request) => {
            // Never with the limit below the table's size: no request made.
            let error = io::Error::other("no slot for another ICMP request");
            finish(
                shared,
                request.echo,
                clock::now(),
                Vec::new(),
                None,
                Some(error),
            );
            return;
        }
    };
    // SAFETY: the handle is open (the thread holds `shared`); every pointer points into
    // the request's box, which the slots own until the completion routine (or the code
    // below, for a call that finished at once) takes it out; the context is a plain
    // number, never dereferenced.
    let result = unsafe {
        match destination {
            IpAddr::V4(address) => IcmpSendEcho2Ex(
                shared.icmp.0,
                std::ptr::null_mut(),
                Some(completion),
                key as *const c_void,
                ipv4_of(shared.source.map(|(source, _)| source)),
                u32::from_ne_bytes(address.octets()),
                payload,
                payload_len,
                options,
                buffer,
                buffer_len,
                timeout,
            ),
            IpAddr::V6(_) => Icmp6SendEcho2(
                shared.icmp.0,
                std::ptr::null_mut(),
                Some(completion),
                key as *const c_void,
                source6,
                destination6,
                payload,
                payload_len,
                options,
                buffer,
                buffer_len,
                timeout,
            ),
        }
    };
    // SAFETY: reads the calling thread's last error; no arguments.
    let error = unsafe { GetLastError() };
    // Pending: the documented "returns ERROR_IO_PENDING", as a value or (Wine) as the
    // last error of a zero. A reply count is 0 or 1 here, never 997.
    if result == ERROR_IO_PENDING || result == 0 && error == ERROR_IO_PENDING {
        return;
    }
    // Finished at once, the buffer parsed by the call itself when it holds replies.
    // Its completion routine, if the system queued one, runs in this alertable pause;
    // if it did not, the request is taken back below.
    WORKER.with(|worker| {
        if let Ok(mut worker) = worker.try_borrow_mut()
            && let Some(request) = worker.as_mut().and_then(|worker| worker.slots.get_mut(key))
        {
            request.parsed = Some(result);
        }
    });
    // SAFETY: a zero-length alertable sleep.
    unsafe { SleepEx(0, 1) };
    let request = WORKER.with(|worker| {
        worker
            .try_borrow_mut()
            .ok()
            .and_then(|mut worker| worker.as_mut().and_then(|worker| worker.slots.take(key)))
    });
    if let Some((order, request)) = request {
        let failure = (result == 0).then(|| match error {
            ERROR_NOT_ENOUGH_MEMORY | ERROR_NO_SYSTEM_RESOURCES => Failure::AtLimit,
            _ => Failure::Error(io::Error::from_raw_os_error(error as i32)),
        });
        complete(shared, order, *request, None, failure);
    }
}
