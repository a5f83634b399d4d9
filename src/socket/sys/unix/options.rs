//! Socket options through `setsockopt(2)` / `getsockopt(2)`, the interface and routing
//! mark a socket sends with, and interfaces by name and index.

use std::io;
use std::mem;
use std::os::fd::AsRawFd;
use std::ptr;

use socket2::Socket;

use crate::family::Family;

/// Sets an `int` socket option with `setsockopt(2)`.
pub(super) fn set_int_option(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    set_option(socket, level, name, &value)
}

/// Reads an `int` socket option with `getsockopt(2)`.
pub(super) fn get_int_option(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are valid for writes and outlive the call; `len` says how
    // many bytes `value` holds; the descriptor belongs to `socket`.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            level,
            name,
            ptr::from_mut(&mut value).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets a socket option from a plain-data value with `setsockopt(2)`.
pub(super) fn set_option<T: Copy>(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    let len =
        libc::socklen_t::try_from(mem::size_of::<T>()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: `value` points to `len` readable bytes of a `Copy` (plain data) value that
    // outlives the call; the descriptor belongs to `socket`.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            ptr::from_ref(value).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Binds `socket` to the network interface `name`: its probes leave by it and its answers
/// come from it (`SO_BINDTODEVICE` on Linux, `IP_BOUND_IF` / `IPV6_BOUND_IF` on macOS).
pub(crate) fn bind_interface(socket: &Socket, family: Family, name: &str) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let _ = family;
        socket.bind_device(Some(name.as_bytes()))
    }
    #[cfg(target_vendor = "apple")]
    {
        let index = interface_index(name)
            .and_then(std::num::NonZeroU32::new)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))?;
        match family {
            Family::V4 => socket.bind_device_by_index_v4(Some(index)),
            Family::V6 => socket.bind_device_by_index_v6(Some(index)),
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
    {
        let _ = (socket, family, name);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "binding to an interface is not supported on this system: give a source address",
        ))
    }
}

/// Marks the packets of `socket` for policy routing and filtering (`SO_MARK`, Linux).
pub(crate) fn set_mark(socket: &Socket, mark: u32) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return socket.set_mark(mark);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (socket, mark);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "routing marks (SO_MARK) exist on Linux only",
        ))
    }
}

/// The index of the network interface named `name` (`if_nametoindex(3)`).
pub(crate) fn interface_index(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

/// Whether a network interface of index `index` exists (`if_indextoname(3)`); `None`
/// where the system cannot tell.
pub(crate) fn interface_exists(index: u32) -> Option<bool> {
    Some(interface_name(index).is_some())
}

/// The name of the network interface of index `index` (`if_indextoname(3)`).
pub(crate) fn interface_name(index: u32) -> Option<String> {
    let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `name` has room for IF_NAMESIZE bytes, as the call requires.
    let found = unsafe { libc::if_indextoname(index, name.as_mut_ptr()) };
    if found.is_null() {
        return None;
    }
    // SAFETY: on success the kernel wrote a NUL-terminated name into `name`.
    let name = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}
