//! The sending sockets of [`Senders`](super::super::senders): opened like a shared socket,
//! with a TTL and TOS of their own fixed at opening.

use std::io;
use std::net::{Shutdown, SocketAddr};

use socket2::{SockAddr, Socket, Type};

use super::options::{get_int_option, set_int_option};
use crate::family::Family;

/// The receive buffer of a sending socket: as small as the system allows. A raw socket
/// gets a copy of every ICMP message; these copies are not read, only dropped.
const RECEIVE_BUFFER: usize = 256;

/// Opens a socket that sends like `shared` (same type, source address, interface, Don't
/// Fragment and broadcast settings), with TTL / hop limit and TOS / traffic class `key`
/// set once, here, and never changed.
pub(crate) fn open_sender(shared: &Socket, family: Family, key: (u8, u8)) -> io::Result<Socket> {
    let (ttl, traffic_class) = key;
    let privileged = shared.r#type()? == Type::RAW;
    let socket = super::open(family, privileged)?;
    if let Some(local) = shared.local_addr()?.as_socket()
        && !local.ip().is_unspecified()
    {
        let local = SocketAddr::new(local.ip(), 0);
        socket.bind(&SockAddr::from(local))?;
    }
    #[cfg(target_vendor = "apple")]
    match family {
        Family::V4 => socket.bind_device_by_index_v4(shared.device_index_v4()?)?,
        Family::V6 => socket.bind_device_by_index_v6(shared.device_index_v6()?)?,
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(device) = shared.device()? {
        socket.bind_device(Some(&device))?;
    }
    copy_dont_fragment(shared, &socket, family)?;
    socket.set_broadcast(shared.broadcast()?)?;
    match family {
        Family::V4 => {
            socket.set_ttl_v4(u32::from(ttl))?;
            set_int_option(
                &socket,
                libc::IPPROTO_IP,
                libc::IP_TOS,
                traffic_class.into(),
            )?;
        }
        Family::V6 => {
            socket.set_unicast_hops_v6(u32::from(ttl))?;
            set_int_option(
                &socket,
                libc::IPPROTO_IPV6,
                libc::IPV6_TCLASS,
                traffic_class.into(),
            )?;
        }
    }
    // Best effort: a system that refuses these still sends.
    let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER);
    let _ = socket.shutdown(Shutdown::Read);
    Ok(socket)
}

/// Gives `to` the Don't Fragment setting of `from`.
fn copy_dont_fragment(from: &Socket, to: &Socket, family: Family) -> io::Result<()> {
    let options: &[(libc::c_int, libc::c_int)] = match family {
        #[cfg(target_os = "linux")]
        Family::V4 => &[(libc::IPPROTO_IP, libc::IP_MTU_DISCOVER)],
        #[cfg(not(target_os = "linux"))]
        Family::V4 => &[(libc::IPPROTO_IP, libc::IP_DONTFRAG)],
        #[cfg(target_os = "linux")]
        Family::V6 => &[
            (libc::IPPROTO_IPV6, libc::IPV6_MTU_DISCOVER),
            (libc::IPPROTO_IPV6, libc::IPV6_DONTFRAG),
        ],
        #[cfg(not(target_os = "linux"))]
        Family::V6 => &[(libc::IPPROTO_IPV6, libc::IPV6_DONTFRAG)],
    };
    for &(level, name) in options {
        let value = get_int_option(from, level, name)?;
        set_int_option(to, level, name, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{EchoKind, Ipv4Header, emit_echo};
    use std::net::Ipv4Addr;
    use std::time::{Duration, Instant};

    /// Needs a raw socket: it returns at once without one (the library tests also run
    /// without any capability in CI), unless `ICMPLIB_REQUIRE_ROOT` is set, as for the
    /// README's test command.
    #[test]
    fn a_sender_sends_like_the_shared_socket_with_its_own_ttl_and_tos() {
        let Ok(shared) = super::super::open(Family::V4, true) else {
            assert!(
                std::env::var_os("ICMPLIB_REQUIRE_ROOT").is_none(),
                "raw sockets are required"
            );
            return;
        };
        let loopback = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0);
        shared.bind(&SockAddr::from(loopback)).unwrap();
        super::super::set_dont_fragment(
            &shared,
            Family::V4,
            crate::socket::dont_fragment::DontFragment::Probe,
        )
        .unwrap();
        let sender = open_sender(&shared, Family::V4, (5, 0x10)).unwrap();
        let local = sender.local_addr().unwrap().as_socket().unwrap();
        assert_eq!(local.ip(), loopback.ip());
        let option = |name| get_int_option(&sender, libc::IPPROTO_IP, name);
        assert_eq!(sender.ttl_v4().unwrap(), 5);
        assert_eq!(option(libc::IP_TOS).unwrap(), 0x10);
        #[cfg(target_os = "linux")]
        assert_eq!(
            option(libc::IP_MTU_DISCOVER).unwrap(),
            libc::IP_PMTUDISC_PROBE
        );
        // On the wire, the request carries the sender's TTL and TOS: a raw socket without
        // a type filter sees it on loopback.
        let capture = Socket::new(
            socket2::Domain::IPV4,
            Type::RAW,
            Some(socket2::Protocol::ICMPV4),
        )
        .unwrap();
        capture
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let id = std::process::id() as u16 ^ 0x5a5a;
        let mut request = Vec::new();
        emit_echo(
            Family::V4,
            EchoKind::Request,
            id,
            77,
            b"sender",
            &mut request,
        );
        sender.send_to(&request, &SockAddr::from(loopback)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut buf = [0u8; 2048];
        let seen = loop {
            assert!(Instant::now() < deadline, "the request was not seen");
            let Ok(len) = std::io::Read::read(&mut &capture, &mut buf) else {
                continue;
            };
            let Ok((header, icmp)) = Ipv4Header::parse(&buf[..len]) else {
                continue;
            };
            if icmp.first() == Some(&8) && icmp.get(4..6) == Some(&id.to_be_bytes()[..]) {
                break header;
            }
        };
        assert_eq!((seen.ttl, seen.tos), (5, 0x10));
    }
}
