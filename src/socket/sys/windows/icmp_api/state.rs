//! What a session's callers, its thread and its completion routine share: the requests
//! as queued and as completed, the state behind the session, and the thread's own table
//! of the requests the system holds.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
use windows_sys::Win32::NetworkManagement::IpHelper::{IP_OPTION_INFORMATION, IcmpCloseHandle};
use windows_sys::Win32::Networking::WinSock::SOCKADDR_IN6;
use windows_sys::Win32::System::Threading::SetEvent;

use super::reply::ApiReply;
use super::slots::{MAX_SLOTS, Slots};
use crate::family::Family;

/// Requests a session takes at once unless the system takes fewer: Wine's limit (no
/// Windows limit is documented). Measured under Wine: 256 requests to a silent host in
/// flight, and 400 more behind them that wait their turn, all answered in time.
pub(crate) const DEFAULT_LIMIT: usize = 256;
const _: () = assert!(DEFAULT_LIMIT <= MAX_SLOTS);

/// One echo request for a session to issue.
#[derive(Debug)]
pub(crate) struct Echo {
    pub destination: IpAddr,
    /// The interface of a link-local IPv6 destination; 0 for none.
    pub scope_id: u32,
    pub payload: Arc<[u8]>,
    pub ttl: u8,
    /// How long the system waits for an answer.
    pub timeout: Duration,
    /// Handed back with the completion.
    pub tag: u16,
    /// When the caller queued it.
    pub queued_at: Instant,
}

/// A completed request.
#[derive(Debug)]
pub(crate) struct Completed {
    pub echo: Echo,
    /// When its completion routine ran, on the crate's clock.
    pub completed_at: Instant,
    /// What the reply buffer holds, when it holds a reply.
    pub reply: Option<ApiReply>,
    /// The reply buffer, up to the end of the reply's data.
    pub buffer: Vec<u8>,
    /// The error of a call that failed at once (no request was made).
    pub error: Option<io::Error>,
}

/// A handle of the system's, closed on drop.
#[derive(Debug)]
pub(super) struct OwnedHandle(pub(super) HANDLE, pub(super) fn(HANDLE));

// SAFETY: a kernel object handle is a process-wide value that any thread may use; the
// ICMP API and the event functions are thread-safe.
unsafe impl Send for OwnedHandle {}
// SAFETY: as above; the handle is only passed by value to thread-safe functions.
unsafe impl Sync for OwnedHandle {}

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        (self.1)(self.0);
    }
}

pub(super) fn close_icmp(handle: HANDLE) {
    // SAFETY: `handle` came from Icmp(6)CreateFile and is closed once, after every
    // request made on it completed (the thread holds the last reference).
    unsafe { IcmpCloseHandle(handle) };
}

pub(super) fn close_event(handle: HANDLE) {
    // SAFETY: `handle` came from CreateEventW and is closed once, by its only owner.
    unsafe { CloseHandle(handle) };
}

/// What the callers and the thread share.
pub(super) struct Shared {
    pub(super) family: Family,
    pub(super) source: Option<(IpAddr, u32)>,
    pub(super) icmp: OwnedHandle,
    /// Set to wake the thread (auto-reset).
    pub(super) wake: OwnedHandle,
    pub(super) queue: Mutex<VecDeque<Echo>>,
    /// The thread is about to wait, or waits: a caller who queues sets the event.
    pub(super) sleeping: AtomicBool,
    pub(super) closing: AtomicBool,
    /// Requests taken and not completed: queued or in flight.
    pub(super) pending: AtomicUsize,
    /// Requests taken at most (see the module's docs).
    pub(super) limit: AtomicUsize,
    /// Told when a request completed.
    pub(super) room: tokio::sync::Notify,
    /// Requests completed, while the limit is lowered.
    pub(super) completions: AtomicUsize,
    pub(super) on_completed: Box<dyn Fn(Completed) + Send + Sync>,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(super) fn wake(&self) {
        // SAFETY: the event handle is open for as long as `self` lives.
        unsafe { SetEvent(self.wake.0) };
    }
}

/// A request the system holds, with everything its call points to.
pub(super) struct Request {
    pub(super) echo: Echo,
    /// The reply buffer, 8-byte aligned: the system writes structures with pointers.
    pub(super) buffer: Vec<u64>,
    /// The replies `IcmpParseReplies` found, for a call that finished at once: the call
    /// parsed the buffer already, and a second parse would undo it.
    pub(super) parsed: Option<u32>,
    pub(super) options: IP_OPTION_INFORMATION,
    pub(super) source6: SOCKADDR_IN6,
    pub(super) destination6: SOCKADDR_IN6,
}

/// The thread's own state; APC routines run on the thread and find it here.
pub(super) struct Worker {
    pub(super) shared: Arc<Shared>,
    pub(super) slots: Slots<Box<Request>>,
}

thread_local! {
    pub(super) static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
}

/// Requests in flight on this thread's session.
pub(super) fn live() -> usize {
    WORKER.with(|worker| {
        worker
            .try_borrow()
            .ok()
            .and_then(|worker| worker.as_ref().map(|worker| worker.slots.live()))
            .unwrap_or(0)
    })
}
