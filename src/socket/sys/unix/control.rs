//! Control messages: the per-packet TTL / hop limit and TOS / traffic class written for
//! `sendmsg(2)`, and what `recvmsg(2)` / `recvmmsg(2)` bring beside a datagram (kernel
//! timestamp, arrival TTL and TOS, on Linux the queued ICMP error), through the `CMSG_*`
//! macros.

use std::io;
use std::mem::{self, MaybeUninit};
use std::net::IpAddr;
use std::ptr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(target_os = "linux")]
use super::linux;
use super::{DEFAULT_TRAFFIC_CLASS, DEFAULT_TTL};
use crate::socket::sys::Datagram;

/// Room for the control messages we ask for: a timestamp, the TTL / hop limit and TOS /
/// traffic class, and an extended error with its offender address (about 150 bytes in
/// all), with headroom. Aligned like `cmsghdr`.
#[repr(C, align(8))]
pub(super) struct ControlBuffer(pub(super) [MaybeUninit<u8>; 256]);

impl ControlBuffer {
    pub(super) fn new() -> ControlBuffer {
        ControlBuffer([MaybeUninit::uninit(); 256])
    }
}

/// Writes the TTL and TOS control messages for `sendmsg` and returns their length (none
/// when the request uses the socket's own values).
pub(super) fn per_packet_options(
    control: &mut ControlBuffer,
    destination: IpAddr,
    ttl: u8,
    traffic_class: u8,
) -> io::Result<usize> {
    if ttl == DEFAULT_TTL && traffic_class == DEFAULT_TRAFFIC_CLASS {
        return Ok(0);
    }
    let options = match destination {
        IpAddr::V4(_) => [
            (libc::IPPROTO_IP, libc::IP_TTL, ttl),
            (libc::IPPROTO_IP, libc::IP_TOS, traffic_class),
        ],
        IpAddr::V6(_) => [
            (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT, ttl),
            (libc::IPPROTO_IPV6, libc::IPV6_TCLASS, traffic_class),
        ],
    };
    let int_len = mem::size_of::<libc::c_int>() as libc::c_uint;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(int_len) } as usize;
    let total = space * options.len();
    if total > control.0.len() {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    // SAFETY: an all-zero `msghdr` is valid; it only describes `control` to the CMSG macros.
    let mut header: libc::msghdr = unsafe { mem::zeroed() };
    header.msg_control = control.0.as_mut_ptr().cast();
    header.msg_controllen = total as _;
    // SAFETY: `header` describes `control`, which holds `total` bytes, room for every
    // control message written below; CMSG_FIRSTHDR / CMSG_NXTHDR stay inside it and each
    // header and its `int` are written (unaligned-safe) before the next one is computed.
    unsafe {
        ptr::write_bytes(control.0.as_mut_ptr(), 0, total);
        let mut cmsg = libc::CMSG_FIRSTHDR(&header);
        for (level, kind, value) in options {
            if cmsg.is_null() {
                return Err(io::ErrorKind::InvalidInput.into());
            }
            (*cmsg).cmsg_level = level;
            (*cmsg).cmsg_type = kind;
            (*cmsg).cmsg_len = libc::CMSG_LEN(int_len) as _;
            ptr::write_unaligned(
                libc::CMSG_DATA(cmsg).cast::<libc::c_int>(),
                libc::c_int::from(value),
            );
            cmsg = libc::CMSG_NXTHDR(&header, cmsg);
        }
    }
    Ok(total)
}

/// Walks the control messages of a received datagram for its timestamp and, on Linux,
/// its queued ICMP error.
///
/// # Safety
/// `header` must describe a control buffer the kernel filled in by `recvmsg`.
pub(super) unsafe fn read_control_messages(header: &libc::msghdr, datagram: &mut Datagram) {
    // SAFETY (whole loop): CMSG_FIRSTHDR / CMSG_NXTHDR return null or a header that lies
    // inside the control buffer; the data of each message is read only after checking
    // that its length covers the type read, with unaligned reads.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(header) };
    while !cmsg.is_null() {
        let (level, kind, len) = unsafe {
            (
                (*cmsg).cmsg_level,
                (*cmsg).cmsg_type,
                (*cmsg).cmsg_len as usize,
            )
        };
        let data = unsafe { libc::CMSG_DATA(cmsg) };
        let data_len = len.saturating_sub(unsafe { libc::CMSG_LEN(0) } as usize);
        if level == libc::SOL_SOCKET {
            datagram.timestamp = unsafe { timestamp(kind, data, data_len) }.or(datagram.timestamp);
        }
        unsafe { arrival_field(level, kind, data, data_len, datagram) };
        #[cfg(target_os = "linux")]
        if (level == libc::SOL_IP && kind == libc::IP_RECVERR)
            || (level == libc::SOL_IPV6 && kind == libc::IPV6_RECVERR)
        {
            datagram.queued_error = unsafe { linux::extended_error(data, data_len) };
        }
        cmsg = unsafe { libc::CMSG_NXTHDR(header, cmsg) };
    }
}

/// Reads a TTL / hop limit or TOS / traffic class control message into `datagram`.
///
/// # Safety
/// `data` must point to `len` readable bytes.
unsafe fn arrival_field(
    level: libc::c_int,
    kind: libc::c_int,
    data: *const u8,
    len: usize,
    datagram: &mut Datagram,
) {
    // SAFETY: read only when the length covers an int.
    let int = || {
        (len >= mem::size_of::<libc::c_int>())
            .then(|| unsafe { ptr::read_unaligned(data.cast::<libc::c_int>()) })
            .and_then(|value| u8::try_from(value).ok())
    };
    if level == libc::IPPROTO_IPV6 && kind == libc::IPV6_HOPLIMIT {
        datagram.ttl = int();
    } else if level == libc::IPPROTO_IPV6 && kind == libc::IPV6_TCLASS {
        datagram.traffic_class = int();
    }
    #[cfg(target_os = "linux")]
    if level == libc::SOL_IP && kind == libc::IP_TTL {
        datagram.ttl = int();
    } else if level == libc::SOL_IP && kind == libc::IP_TOS && len >= 1 {
        // SAFETY: one byte is readable (checked).
        datagram.traffic_class = Some(unsafe { *data });
    }
}

/// Reads a kernel timestamp control message.
///
/// # Safety
/// `data` must point to `len` readable bytes.
unsafe fn timestamp(kind: libc::c_int, data: *const u8, len: usize) -> Option<SystemTime> {
    #[cfg(target_os = "linux")]
    if kind == libc::SCM_TIMESTAMPNS && len >= mem::size_of::<libc::timespec>() {
        // SAFETY: the length covers a `timespec`.
        let ts = unsafe { ptr::read_unaligned(data.cast::<libc::timespec>()) };
        let since_epoch = Duration::new(
            u64::try_from(ts.tv_sec).ok()?,
            u32::try_from(ts.tv_nsec).ok()?,
        );
        return UNIX_EPOCH.checked_add(since_epoch);
    }
    #[cfg(not(target_os = "linux"))]
    if kind == libc::SCM_TIMESTAMP && len >= mem::size_of::<libc::timeval>() {
        // SAFETY: the length covers a `timeval`.
        let tv = unsafe { ptr::read_unaligned(data.cast::<libc::timeval>()) };
        let micros = u32::try_from(tv.tv_usec).ok()?;
        let since_epoch = Duration::new(u64::try_from(tv.tv_sec).ok()?, micros.checked_mul(1000)?);
        return UNIX_EPOCH.checked_add(since_epoch);
    }
    None
}
