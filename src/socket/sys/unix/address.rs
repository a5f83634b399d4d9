//! Socket addresses to and from the system's form.

use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ptr;

use socket2::SockAddr;

/// The socket address of `address` (port 0), with the scope (interface) a link-local IPv6
/// address needs.
pub(crate) fn socket_address_of(address: IpAddr, scope_id: u32) -> SockAddr {
    match address {
        IpAddr::V4(v4) => SockAddr::from(SocketAddr::new(IpAddr::V4(v4), 0)),
        IpAddr::V6(v6) => SockAddr::from(std::net::SocketAddrV6::new(v6, 0, 0, scope_id)),
    }
}

/// Reads the IP address of the socket address at `address` (`len` bytes long), with the
/// scope (interface) of an IPv6 address (0 for none).
///
/// # Safety
/// `address` must point to `len` readable bytes.
pub(crate) unsafe fn socket_address(address: *const u8, len: usize) -> Option<(IpAddr, u32)> {
    if len < mem::size_of::<libc::sockaddr>() {
        return None;
    }
    // SAFETY: at least `sizeof(sockaddr)` bytes are readable (checked above).
    let family = libc::c_int::from(
        unsafe { ptr::read_unaligned(address.cast::<libc::sockaddr>()) }.sa_family,
    );
    match family {
        libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the length covers a `sockaddr_in`, and the family says it is one.
            let v4 = unsafe { ptr::read_unaligned(address.cast::<libc::sockaddr_in>()) };
            Some((
                IpAddr::V4(Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr))),
                0,
            ))
        }
        libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the length covers a `sockaddr_in6`, and the family says it is one.
            let v6 = unsafe { ptr::read_unaligned(address.cast::<libc::sockaddr_in6>()) };
            Some((
                IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr)),
                v6.sin6_scope_id,
            ))
        }
        _ => None,
    }
}
