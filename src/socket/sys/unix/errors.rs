//! What an errno from a socket call means to the library, and the limit behind
//! `EMFILE`.

use std::io;

/// True when an error says the process (`EMFILE`) or the system (`ENFILE`) has no file
/// descriptor left.
pub(crate) fn is_out_of_files(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// The process's limit of open files (`getrlimit(RLIMIT_NOFILE)`, soft limit), if known.
pub(crate) fn open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid `rlimit` for the kernel to fill in.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    #[allow(clippy::unnecessary_cast)] // `rlim_t` is not `u64` everywhere.
    let current = limit.rlim_cur as u64;
    (rc == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(current)
}

/// True for errors that say the socket itself cannot work (closed, not a socket, bad
/// arguments, no memory). On a datagram socket every other error of a read or a send is
/// an ICMP error that Linux reports once as the socket's pending error (`sk_err`), next to
/// the message it queued on the error queue: whatever its errno (`EHOSTUNREACH`,
/// `ECONNREFUSED`, `EREMOTEIO` for a redirect, `ENONET`, `EPROTO`, ...), it is not fatal.
pub(crate) fn is_socket_failure(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(
            libc::EBADF
                | libc::ENOTSOCK
                | libc::EFAULT
                | libc::EINVAL
                | libc::ENOMEM
                | libc::ENOTCONN
        )
    )
}

/// True when a send failed because the socket's send buffer is full: `EAGAIN`, or on
/// Linux `ENOBUFS` for raw sockets (their data is not a transport header, so the kernel
/// takes the path of `ip_append_data` that reports a full buffer so, even on a
/// non-blocking socket). Room comes back as the queued packets leave; `ENOBUFS` from a
/// queue that drops packets looks the same, which is why waits for room are bounded.
pub(crate) fn is_send_buffer_full(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock || error.raw_os_error() == Some(libc::ENOBUFS)
}

/// True for the error `sendmsg` gives for a broadcast destination on a socket without
/// `SO_BROADCAST` (`EACCES`).
pub(crate) fn is_broadcast_refusal(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EACCES)
}
