//! The socket options this crate sets on Unix only (an interface, a routing mark, Don't
//! Fragment, the route's MTU), on the systems without them (Windows, and any other):
//! refused with an "unsupported" error, or unknown.

use std::io;
use std::net::IpAddr;

use socket2::Socket;

use crate::family::Family;
use crate::socket::dont_fragment::DontFragment;

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
pub(crate) fn set_dont_fragment(_: &Socket, _: Family, setting: DontFragment) -> io::Result<()> {
    match setting {
        DontFragment::System => Ok(()),
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
