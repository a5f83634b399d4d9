//! The socket options this crate sets on Unix only (interface, mark, Don't Fragment, the
//! route's MTU), for the other systems: refused with an "unsupported" error, or unknown.

use std::io;
use std::net::IpAddr;

use socket2::Socket;

use crate::family::Family;

/// Binding to an interface is not supported here: give a source address.
pub(crate) fn bind_interface(_: &Socket, _: Family, _: &str) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "binding to an interface is not supported on this system: give a source address",
    ))
}

/// Routing marks exist on Linux only.
pub(crate) fn set_mark(_: &Socket, _: u32) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "routing marks (SO_MARK) exist on Linux only",
    ))
}

/// Only the system's setting here: others are refused before a socket is opened.
pub(crate) fn set_dont_fragment(
    _: &Socket,
    _: Family,
    setting: crate::socket::dont_fragment::DontFragment,
) -> io::Result<()> {
    match setting {
        crate::socket::dont_fragment::DontFragment::System => Ok(()),
        _ => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "Don't Fragment settings are not supported on this system",
        )),
    }
}

/// Unknown here.
pub(crate) fn route_mtu(_: &Socket, _: IpAddr, _: u32) -> Option<u32> {
    None
}

/// A send refused for its size: `WSAEMSGSIZE` on Windows; never elsewhere.
pub(crate) fn is_too_big(error: &io::Error) -> bool {
    cfg!(windows) && error.raw_os_error() == Some(10040)
}
