//! Don't Fragment and path MTU: the socket options behind [`DontFragment`], and the MTU
//! of the route to a destination.

use std::io;
use std::net::IpAddr;

use socket2::Socket;

use super::options::set_int_option;
use crate::family::Family;
use crate::socket::dont_fragment::DontFragment;

/// Sets `socket` (of `family`) as `setting` says: Linux `IP_MTU_DISCOVER` (IPv4),
/// `IPV6_MTU_DISCOVER` and `IPV6_DONTFRAG` (IPv6); `IP_DONTFRAG` / `IPV6_DONTFRAG`
/// elsewhere. [`DontFragment::System`] leaves the socket as it is.
pub(crate) fn set_dont_fragment(
    socket: &Socket,
    family: Family,
    setting: DontFragment,
) -> io::Result<()> {
    let dont_fragment = match setting {
        DontFragment::System => return Ok(()),
        DontFragment::Off => 0,
        DontFragment::On | DontFragment::Probe => 1,
    };
    #[cfg(target_os = "linux")]
    {
        // The same values for both families: DONT 0, DO 2, PROBE 3.
        let discovery = match setting {
            DontFragment::On => libc::IP_PMTUDISC_DO,
            DontFragment::Probe => libc::IP_PMTUDISC_PROBE,
            _ => libc::IP_PMTUDISC_DONT,
        };
        match family {
            Family::V4 => {
                set_int_option(socket, libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, discovery)
            }
            Family::V6 => {
                // Off keeps the discovery on (WANT): IPv6 routers never fragment, so
                // this host must still learn the path MTU to fragment for it.
                let discovery = match setting {
                    DontFragment::Off => libc::IPV6_PMTUDISC_WANT,
                    _ => discovery,
                };
                set_int_option(
                    socket,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_MTU_DISCOVER,
                    discovery,
                )?;
                set_int_option(
                    socket,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_DONTFRAG,
                    dont_fragment,
                )
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    match family {
        Family::V4 => set_int_option(socket, libc::IPPROTO_IP, libc::IP_DONTFRAG, dont_fragment),
        Family::V6 => set_int_option(
            socket,
            libc::IPPROTO_IPV6,
            libc::IPV6_DONTFRAG,
            dont_fragment,
        ),
    }
}

/// The MTU this host uses for the route from `socket` to `destination` (the interface's,
/// or lower where the path's is known): what a refused request (`EMSGSIZE`) exceeded.
/// With [`DontFragment::Probe`] the kernel refuses only what exceeds the interface's MTU,
/// and this may give a lower path MTU it learned (no socket option tells the interface of
/// a route); `path_mtu` takes it as a first guess only.
/// Linux: `IP_MTU` / `IPV6_MTU` of a UDP socket connected to the destination (a connect
/// sends nothing) from the same address, interface and mark. `None` where unknown.
pub(crate) fn route_mtu(socket: &Socket, destination: IpAddr, scope_id: u32) -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        use socket2::{Domain, SockAddr, Type};
        use std::net::{SocketAddr, SocketAddrV6};

        let family = Family::of(&destination);
        let domain = match family {
            Family::V4 => Domain::IPV4,
            Family::V6 => Domain::IPV6,
        };
        let probe = Socket::new(domain, Type::DGRAM, None).ok()?;
        if let Ok(Some(device)) = socket.device() {
            probe.bind_device(Some(&device)).ok()?;
        }
        if let Ok(mark) = socket.mark()
            && mark != 0
        {
            probe.set_mark(mark).ok()?;
        }
        if let Some(mut local) = socket.local_addr().ok().and_then(|local| local.as_socket())
            && !local.ip().is_unspecified()
        {
            // The address only: the shared socket's port is its identifier (or protocol).
            local.set_port(0);
            probe.bind(&SockAddr::from(local)).ok()?;
        }
        // Any port: a datagram socket's connect only chooses the route.
        let address = match destination {
            IpAddr::V4(_) => SocketAddr::new(destination, 9),
            IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, 9, 0, scope_id)),
        };
        probe.connect(&SockAddr::from(address)).ok()?;
        let (level, name) = match family {
            Family::V4 => (libc::IPPROTO_IP, libc::IP_MTU),
            Family::V6 => (libc::IPPROTO_IPV6, libc::IPV6_MTU),
        };
        let mtu = super::options::get_int_option(&probe, level, name).ok()?;
        u32::try_from(mtu).ok().filter(|&mtu| mtu > 0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (socket, destination, scope_id);
        None
    }
}

/// True for the error of a send refused for its size (`EMSGSIZE`).
pub(crate) fn is_too_big(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EMSGSIZE)
}
