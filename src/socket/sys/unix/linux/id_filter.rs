//! An in-kernel filter on the echo identifier for raw sockets (Linux): every raw ICMP
//! socket receives a copy of every ICMP message the host receives, so that a process
//! with several raw sockets (a sweep over several sockets per family) would have each
//! one buffer and read all the replies. A classic BPF program (`SO_ATTACH_FILTER`) drops
//! the echo replies whose identifier is not one of the socket's before they are queued.
//! Everything else the type filter lets through (ICMP errors) still passes: they are few,
//! and the identifier they quote lies deeper in the packet.

use std::io;

use socket2::{SockFilter, Socket};

use crate::family::Family;
use crate::socket::sys::{MAX_FILTER_IDS, check_filter_ids};

/// Keeps only the echo replies with one of `ids` (and every other message) on the raw
/// socket `socket` of `family`, replacing any filter set before (`setsockopt(2)`
/// `SO_ATTACH_FILTER`).
///
/// # Errors
/// `InvalidInput` for no identifier or more than [`MAX_FILTER_IDS`]; the system's error.
pub(crate) fn keep_ids(socket: &Socket, family: Family, ids: &[u16]) -> io::Result<()> {
    check_filter_ids(ids)?;
    socket.attach_filter(&program(family, ids))
}

/// Removes the filter [`keep_ids`] set: the socket keeps every reply again
/// (`SO_DETACH_FILTER`).
///
/// # Errors
/// The system's error (none is set).
pub(crate) fn keep_all_ids(socket: &Socket) -> io::Result<()> {
    socket.detach_filter()
}

// Classic BPF opcodes (`<linux/bpf_common.h>`, `<linux/filter.h>`).
const LD_B_ABS: u16 = (libc::BPF_LD | libc::BPF_B | libc::BPF_ABS) as u16;
const LD_H_ABS: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_ABS) as u16;
const LD_B_IND: u16 = (libc::BPF_LD | libc::BPF_B | libc::BPF_IND) as u16;
const LD_H_IND: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_IND) as u16;
/// `ldxb 4*([k]&0xf)`: the IPv4 header's length.
const LDX_B_MSH: u16 = (libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// The program: load the ICMP type; anything but an echo reply is kept; an echo
/// reply is kept when its identifier is one of `ids` (1 to 16 of them), else dropped.
/// A raw IPv4 socket's filter sees the packet from its IP header (of variable length:
/// `X` holds it, and loads are relative to it); a raw IPv6 socket's from the ICMPv6
/// header. A load past the end of a packet drops it.
fn program(family: Family, ids: &[u16]) -> Vec<SockFilter> {
    // At most 16 identifiers, so every jump below fits in a byte.
    let n = ids.len().min(MAX_FILTER_IDS) as u8;
    let (echo_reply, load_type, load_id) = match family {
        Family::V4 => (0, LD_B_IND, LD_H_IND),
        Family::V6 => (129, LD_B_ABS, LD_H_ABS),
    };
    let mut program = Vec::with_capacity(usize::from(n) + 6);
    if family == Family::V4 {
        program.push(SockFilter::new(LDX_B_MSH, 0, 0, 0));
    }
    program.push(SockFilter::new(load_type, 0, 0, 0));
    // Not an echo reply: past the identifier tests and the drop, to the keep.
    program.push(SockFilter::new(JEQ_K, 0, n + 2, echo_reply));
    program.push(SockFilter::new(load_id, 0, 0, 4));
    for (i, id) in ids.iter().take(usize::from(n)).enumerate() {
        // One of ours: past the remaining tests and the drop.
        program.push(SockFilter::new(JEQ_K, n - i as u8, 0, u32::from(*id)));
    }
    program.push(SockFilter::new(RET_K, 0, 0, 0));
    program.push(SockFilter::new(RET_K, 0, 0, u32::MAX));
    program
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::packet::{EchoKind, emit_echo};
    use crate::socket::sys::{open, recv, socket_address_of};

    /// Root, or (unless `ICMPLIB_REQUIRE_ROOT` is set) a skip.
    fn raw_socket(family: Family) -> Option<Socket> {
        match open(family, true) {
            Ok(socket) => Some(socket),
            Err(error) if std::env::var_os("ICMPLIB_REQUIRE_ROOT").is_none() => {
                eprintln!("skipped: no raw socket ({error})");
                None
            }
            Err(error) => panic!("a raw socket: {error}"),
        }
    }

    /// Sends an echo request with each of `ids` to `loopback` from `sender`.
    fn ping(sender: &Socket, loopback: IpAddr, ids: &[u16]) {
        let to = socket_address_of(loopback, 0);
        for id in ids {
            let mut message = Vec::new();
            emit_echo(
                Family::of(&loopback),
                EchoKind::Request,
                *id,
                1,
                b"filter",
                &mut message,
            );
            sender.send_to(&message, &to).expect("send");
        }
    }

    /// The identifiers of the echo replies `socket` reads within 300 ms, sorted.
    fn replies(socket: &Socket, family: Family) -> Vec<u16> {
        let offset = if family == Family::V4 { 20 } else { 0 };
        let reply = if family == Family::V4 { 0 } else { 129 };
        let mut ids = Vec::new();
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + Duration::from_millis(300);
        while Instant::now() < deadline {
            match recv(socket, &mut buf) {
                Ok(datagram) if datagram.len >= offset + 8 && buf[offset] == reply => {
                    ids.push(u16::from_be_bytes([buf[offset + 4], buf[offset + 5]]));
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        ids.sort_unstable();
        ids
    }

    /// A filtered raw socket reads the replies to its identifiers only; an unfiltered
    /// one reads them all. Real packets on loopback, both families.
    #[test]
    fn a_raw_socket_keeps_only_its_identifiers() {
        for (family, loopback) in [
            (Family::V4, IpAddr::V4(Ipv4Addr::LOCALHOST)),
            (Family::V6, IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ] {
            let (Some(sender), Some(filtered)) = (raw_socket(family), raw_socket(family)) else {
                return;
            };
            let base = rand::random::<u16>() & 0x7fff;
            let (mine, other, also_mine) = (base, base + 1, base + 2);
            keep_ids(&filtered, family, &[mine, also_mine]).expect("filter");
            ping(&sender, loopback, &[mine, other, also_mine]);
            assert_eq!(replies(&filtered, family), [mine, also_mine], "{family:?}");
            let all = replies(&sender, family);
            assert!(all.contains(&other), "{family:?}: {all:?}");
            // Without the filter, the socket reads them all again (and any other test's
            // pings on loopback meanwhile: only ours are looked for).
            keep_all_ids(&filtered).expect("no filter");
            ping(&sender, loopback, &[mine, other]);
            let all = replies(&filtered, family);
            assert!(
                all.contains(&mine) && all.contains(&other),
                "{family:?}: {all:?}"
            );
        }
    }

    #[test]
    fn no_or_too_many_identifiers_are_refused() {
        let Some(socket) = raw_socket(Family::V4) else {
            return;
        };
        for ids in [&[][..], &[7; 17][..]] {
            let error = keep_ids(&socket, Family::V4, ids).expect_err("refused");
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        }
    }
}
