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
const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// Identifier tests per block of the program: a conditional jump's offsets are a byte, so
/// a match jumps to a keep at the end of its own block.
const BLOCK: usize = 200;
const _: () = assert!(
    BLOCK <= u8::MAX as usize,
    "a block's jumps must fit in a byte"
);

/// The program: load the ICMP type; anything but an echo reply is kept; an echo reply
/// is kept when its identifier is one of `ids` (1 to [`MAX_FILTER_IDS`]), else dropped.
/// A raw IPv4 socket's filter sees the packet from its IP header (of variable length:
/// `X` holds it, and loads are relative to it); a raw IPv6 socket's from the ICMPv6
/// header. A load past the end of a packet drops it.
///
/// The identifiers are tested in blocks of at most [`BLOCK`], each ending with a jump
/// over its own keep to the next block: `jeq id, keep-of-this-block` ... `ja +1`,
/// `ret keep`; after the last block, `ret drop`.
fn program(family: Family, ids: &[u16]) -> Vec<SockFilter> {
    let ids = &ids[..ids.len().min(MAX_FILTER_IDS)];
    let (echo_reply, load_type, load_id) = match family {
        Family::V4 => (0, LD_B_IND, LD_H_IND),
        Family::V6 => (129, LD_B_ABS, LD_H_ABS),
    };
    let keep = || SockFilter::new(RET_K, 0, 0, u32::MAX);
    let mut program = Vec::with_capacity(ids.len() + 2 * ids.len().div_ceil(BLOCK) + 6);
    if family == Family::V4 {
        program.push(SockFilter::new(LDX_B_MSH, 0, 0, 0));
    }
    program.push(SockFilter::new(load_type, 0, 0, 0));
    // An echo reply: past the keep, to the identifier tests; else the keep.
    program.push(SockFilter::new(JEQ_K, 1, 0, echo_reply));
    program.push(keep());
    program.push(SockFilter::new(load_id, 0, 0, 4));
    for block in ids.chunks(BLOCK) {
        let tests = block.len();
        for (i, id) in block.iter().enumerate() {
            // One of ours: past the block's remaining tests and its jump, to its keep.
            let to_keep = u8::try_from(tests - i).unwrap_or(u8::MAX);
            program.push(SockFilter::new(JEQ_K, to_keep, 0, u32::from(*id)));
        }
        program.push(SockFilter::new(JA, 0, 0, 1));
        program.push(keep());
    }
    program.push(SockFilter::new(RET_K, 0, 0, 0));
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

    /// As many identifiers as a filter holds, in several blocks: each block's matches
    /// are kept, the identifiers around them dropped.
    #[test]
    fn a_filter_holds_its_most_identifiers() {
        for (family, loopback) in [
            (Family::V4, IpAddr::V4(Ipv4Addr::LOCALHOST)),
            (Family::V6, IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ] {
            let (Some(sender), Some(filtered)) = (raw_socket(family), raw_socket(family)) else {
                return;
            };
            // Even identifiers kept, odd ones not.
            let base = (rand::random::<u16>() & 0x3fff) * 2;
            let kept: Vec<u16> = (0..MAX_FILTER_IDS as u16).map(|n| base + 2 * n).collect();
            keep_ids(&filtered, family, &kept).expect("filter");
            // The first and last of each block and one past them.
            let mut asked = Vec::new();
            for block in kept.chunks(BLOCK) {
                for id in [block[0], block[block.len() - 1]] {
                    asked.extend([id, id + 1]);
                }
            }
            ping(&sender, loopback, &asked);
            let mut expected: Vec<u16> = asked.iter().copied().filter(|id| id % 2 == 0).collect();
            expected.sort_unstable();
            assert_eq!(replies(&filtered, family), expected, "{family:?}");
        }
    }

    #[test]
    fn no_or_too_many_identifiers_are_refused() {
        let Some(socket) = raw_socket(Family::V4) else {
            return;
        };
        for ids in [&[][..], &[7; MAX_FILTER_IDS + 1][..]] {
            let error = keep_ids(&socket, Family::V4, ids).expect_err("refused");
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        }
    }
}
