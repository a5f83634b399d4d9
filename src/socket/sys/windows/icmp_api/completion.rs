//! The completion side of a session: the APC routine every request names, reading what
//! the system wrote into the request's buffer, and handing the result to the session's
//! callback (or the request back to the queue when the system was at its limit). Runs on
//! the session's thread only.

use std::ffi::c_void;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use windows_sys::Win32::NetworkManagement::IpHelper::{Icmp6ParseReplies, IcmpParseReplies};
use windows_sys::Win32::System::IO::IO_STATUS_BLOCK;

use super::reply::{self, ApiReply};
use super::state::{Completed, DEFAULT_LIMIT, Echo, Request, Shared, WORKER, lock};
use crate::clock;
use crate::family::Family;

/// Requests in flight on this thread's session issued before the `order`-th: when the
/// system refused that one for want of resources, the ones it had taken.
fn live_before(order: u64) -> usize {
    WORKER.with(|worker| {
        worker
            .try_borrow()
            .ok()
            .and_then(|worker| {
                worker
                    .as_ref()
                    .map(|worker| worker.slots.live_before(order))
            })
            .unwrap_or(0)
    })
}

/// The APC routine of every request: runs on the session's thread when the system
/// completed it.
pub(super) unsafe extern "system" fn completion(
    context: *mut c_void,
    status_block: *mut IO_STATUS_BLOCK,
    _: u32,
) {
    let key = context as usize;
    // SAFETY: the system passes the request's IO_STATUS_BLOCK, valid during the call;
    // its status is the union's only member written for a completed request.
    let (written, status) = match unsafe { status_block.as_ref() } {
        Some(block) => (Some(block.Information), unsafe { block.Anonymous.Status }),
        None => (None, 0),
    };
    let failure = match status as u32 {
        STATUS_NO_MEMORY | STATUS_INSUFFICIENT_RESOURCES => Some(Failure::AtLimit),
        _ if status < 0 => Some(Failure::Error(io::Error::other(format!(
            "the ICMP request failed (NTSTATUS {:#010x})",
            status as u32
        )))),
        _ => None,
    };
    let taken = WORKER.with(|worker| {
        let mut worker = worker.try_borrow_mut().ok()?;
        let worker = worker.as_mut()?;
        let (order, request) = worker.slots.take(key)?;
        Some((Arc::clone(&worker.shared), order, request))
    });
    if let Some((shared, order, request)) = taken {
        complete(&shared, order, *request, written, failure);
    }
}

/// True when the buffer holds a reply: the parse function counted one, or the buffer
/// holds an error status (which some systems do not count as a reply).
fn found(count: u32, reply: &ApiReply) -> bool {
    count > 0 || reply.status != reply::status::SUCCESS
}

/// Why a request finished without a reply to read.
pub(super) enum Failure {
    /// The system takes no more requests now (see the module's docs).
    AtLimit,
    /// It failed: this error.
    Error(io::Error),
}

/// `STATUS_NO_MEMORY` / `STATUS_INSUFFICIENT_RESOURCES`: the system's limit was hit.
const STATUS_NO_MEMORY: u32 = 0xC000_0017;
const STATUS_INSUFFICIENT_RESOURCES: u32 = 0xC000_009A;

/// Reads the reply of a finished request and hands it to the session's callback; one that
/// hit the system's limit goes back to the queue instead. `order` is the request's place
/// in the order of issue, `written` how much of the buffer the system wrote, when it said.
pub(super) fn complete(
    shared: &Shared,
    order: u64,
    mut request: Request,
    written: Option<usize>,
    failure: Option<Failure>,
) {
    let completed_at = clock::now();
    let error = match failure {
        // With others in flight, the limit is theirs: wait for one of them to complete.
        Some(Failure::AtLimit) if live_before(order) > 0 => {
            let limit = live_before(order);
            shared.limit.fetch_min(limit, Ordering::SeqCst);
            tracing::debug!(limit, "the system takes no more ICMP requests at once");
            // Issued again with the time it has left.
            lock(&shared.queue).push_front(request.echo);
            return;
        }
        Some(Failure::AtLimit) => Some(io::Error::other(
            "the system refused the ICMP request: out of resources",
        )),
        Some(Failure::Error(error)) => Some(error),
        None => None,
    };
    if error.is_none() {
        grow_limit(shared);
    }
    let base = request.buffer.as_ptr() as usize as u64;
    let len = request.buffer.len() * 8;
    let parsed = request.parsed;
    let words = request.buffer.as_mut_ptr();
    // SAFETY: the u64 buffer's memory viewed as its bytes (same memory, `len` bytes,
    // u8 has no alignment), borrowed only within this function; the system finished
    // writing it.
    let bytes = unsafe { std::slice::from_raw_parts_mut(words.cast::<u8>(), len) };
    let reply = if error.is_none() {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        match shared.family {
            Family::V4 => {
                // SAFETY: the request's reply buffer, which the system finished writing;
                // the function turns offsets into pointers in place, once.
                let count = parsed
                    .unwrap_or_else(|| unsafe { IcmpParseReplies(bytes.as_mut_ptr().cast(), len) });
                reply::parse_v4(bytes, base).filter(|reply| found(count, reply))
            }
            Family::V6 => {
                // SAFETY: as above.
                let count = parsed.unwrap_or_else(|| unsafe {
                    Icmp6ParseReplies(bytes.as_mut_ptr().cast(), len)
                });
                let written = written.unwrap_or(
                    bytes
                        .len()
                        .min(reply::V6_REPLY + request.echo.payload.len()),
                );
                reply::parse_v6(bytes.get(..written).unwrap_or(bytes))
                    .filter(|reply| found(count, reply))
            }
        }
    } else {
        None
    };
    let kept = match &reply {
        Some(reply) => bytes.get(..reply.data.end).unwrap_or_default().to_vec(),
        None => Vec::new(),
    };
    finish(shared, request.echo, completed_at, kept, reply, error);
}

/// Raises a lowered limit by one every 16 completions: the requests of another session
/// that held the system's places may be gone.
fn grow_limit(shared: &Shared) {
    if shared.limit.load(Ordering::SeqCst) < DEFAULT_LIMIT
        && shared.completions.fetch_add(1, Ordering::SeqCst) % 16 == 15
    {
        let _ = shared
            .limit
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |limit| {
                (limit < DEFAULT_LIMIT).then_some(limit + 1)
            });
    }
}

/// Hands a finished request to the session's callback and makes room for another.
pub(super) fn finish(
    shared: &Shared,
    echo: Echo,
    completed_at: Instant,
    buffer: Vec<u8>,
    reply: Option<ApiReply>,
    error: Option<io::Error>,
) {
    shared.pending.fetch_sub(1, Ordering::SeqCst);
    shared.room.notify_one();
    (shared.on_completed)(Completed {
        echo,
        completed_at,
        reply,
        buffer,
        error,
    });
}
