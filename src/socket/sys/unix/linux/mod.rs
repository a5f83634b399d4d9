//! What only Linux has: the in-kernel ICMP type filter of a raw socket, the error queue
//! (`IP_RECVERR` / `IPV6_RECVERR`) and the errors read from it, batch reads
//! (`recvmmsg(2)`, [`batch`]) and the in-kernel identifier filter ([`id_filter`]).

mod batch;
mod id_filter;

pub(crate) use batch::RecvBatch;
pub(crate) use id_filter::{keep_all_ids, keep_ids};

use std::io;
use std::mem;
use std::ptr;

use socket2::Socket;

use super::address::socket_address;
use super::options::{set_int_option, set_option};
use crate::family::Family;
use crate::socket::sys::QueuedError;

/// `ICMP_FILTER` (level `SOL_RAW`) and `ICMPV6_FILTER` (level `SOL_ICMPV6`) from
/// `<linux/icmp.h>` / `<linux/icmpv6.h>`; libc does not export them.
const ICMP_FILTER: libc::c_int = 1;
const ICMPV6_FILTER: libc::c_int = 1;

/// ICMP types a raw socket passes up: echo replies and the errors that quote a request
/// (not Redirect and Source Quench, which are advice). Everything else (echo requests
/// looped back on loopback, neighbour discovery, ...) is dropped in the kernel before
/// it costs a wake-up.
const V4_TYPES: [u8; 4] = [0, 3, 11, 12];
const V6_TYPES: [u8; 5] = [1, 2, 3, 4, 129];

/// Installs the kernel-side type filter on a raw socket (a set bit blocks a type).
pub(super) fn set_type_filter(socket: &Socket, family: Family) -> io::Result<()> {
    match family {
        Family::V4 => {
            let mut blocked = u32::MAX;
            for t in V4_TYPES {
                blocked &= !(1u32 << t);
            }
            set_option(socket, libc::SOL_RAW, ICMP_FILTER, &blocked)
        }
        Family::V6 => {
            let mut blocked = [u32::MAX; 8];
            for t in V6_TYPES {
                blocked[usize::from(t >> 5)] &= !(1u32 << (t & 31));
            }
            set_option(socket, libc::SOL_ICMPV6, ICMPV6_FILTER, &blocked)
        }
    }
}

/// `IP_RECVERR` / `IPV6_RECVERR`: ICMP errors for the socket's requests are queued on
/// its error queue (`MSG_ERRQUEUE`) with the sender's address, and sends report the
/// errors of the packets they pass to the link.
pub(super) fn enable_error_queue(socket: &Socket, family: Family) -> io::Result<()> {
    match family {
        Family::V4 => set_int_option(socket, libc::SOL_IP, libc::IP_RECVERR, 1),
        Family::V6 => set_int_option(socket, libc::SOL_IPV6, libc::IPV6_RECVERR, 1),
    }
}

/// Reads a `sock_extended_err` and the offender address that follows it
/// (`SO_EE_OFFENDER`).
///
/// # Safety
/// `data` must point to `len` readable bytes.
pub(super) unsafe fn extended_error(data: *const u8, len: usize) -> Option<QueuedError> {
    let size = mem::size_of::<libc::sock_extended_err>();
    if len < size {
        return None;
    }
    // SAFETY: the length covers a `sock_extended_err`.
    let error = unsafe { ptr::read_unaligned(data.cast::<libc::sock_extended_err>()) };
    Some(QueuedError {
        from_icmp: error.ee_origin == libc::SO_EE_ORIGIN_ICMP
            || error.ee_origin == libc::SO_EE_ORIGIN_ICMP6,
        icmp_type: error.ee_type,
        code: error.ee_code,
        info: error.ee_info,
        // SAFETY: the offender address follows the structure, `len - size` bytes long.
        offender: unsafe { socket_address(data.add(size), len - size) }.map(|(address, _)| address),
    })
}
