//! Which kind of ICMP socket a call uses ([`SocketKind`]), and how the automatic choice
//! is made: a raw socket where the process may open one, else a datagram socket where
//! the system admits it.

use std::io;

use super::sys;
use crate::error::{Error, Result};
use crate::family::Family;

/// The kind of ICMP socket a pinger or a call uses.
///
/// | kind | socket | needs (Linux) |
/// |---|---|---|
/// | [`Auto`](SocketKind::Auto) (default) | raw where allowed, else datagram | one of the two below |
/// | [`Raw`](SocketKind::Raw) | `SOCK_RAW` | root or `CAP_NET_RAW` |
/// | [`Datagram`](SocketKind::Datagram) | `SOCK_DGRAM` ("ping socket") | the process's group in `net.ipv4.ping_group_range` |
///
/// On Windows, `Datagram` is the ICMP helper API (`IcmpSendEcho2Ex`), which needs no
/// privileges, and `Raw` needs Administrator. The two kinds differ little to a caller: with
/// a datagram socket the kernel picks the ICMP identifier (a chosen
/// [`id`](crate::ProbeOptions::id) is not used on Linux and is refused on Windows).
///
/// ```
/// use icmplib::{PingOptions, Pinger, SocketKind};
///
/// // Every call of this pinger on datagram sockets, whatever the process may do.
/// let pinger = Pinger::builder().socket_kind(SocketKind::Datagram).build();
/// // One call on raw sockets.
/// let options = PingOptions::default().socket_kind(SocketKind::Raw);
/// # let _ = (pinger, options);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum SocketKind {
    /// A raw socket where the process may open one, else a datagram socket where the
    /// system admits it, else [`Error::SocketPermission`] naming both ways. Decided once
    /// per [`Pinger`](crate::Pinger), at its first call, by opening a socket of each kind
    /// (and closing it). In a call's options: the pinger's kind.
    #[default]
    Auto,
    /// A raw socket (`SOCK_RAW`), whatever the process may do: root or `CAP_NET_RAW`
    /// (Administrator on Windows).
    Raw,
    /// A datagram socket (`SOCK_DGRAM`, a "ping socket"; the ICMP helper API on Windows),
    /// whatever the process may do.
    Datagram,
}

impl SocketKind {
    /// The kind for a `privileged` flag: raw for `true`, datagram for `false`.
    pub fn from_privileged(privileged: bool) -> SocketKind {
        if privileged {
            SocketKind::Raw
        } else {
            SocketKind::Datagram
        }
    }

    /// The kind of a call's options that may defer to its pinger's: this one, unless it
    /// is [`Auto`](SocketKind::Auto).
    pub(crate) fn or(self, pinger: SocketKind) -> SocketKind {
        match self {
            SocketKind::Auto => pinger,
            kind => kind,
        }
    }

    /// Raw (`Some(true)`) or datagram (`Some(false)`); `None` for `Auto`.
    pub(crate) fn privileged(self) -> Option<bool> {
        match self {
            SocketKind::Auto => None,
            SocketKind::Raw => Some(true),
            SocketKind::Datagram => Some(false),
        }
    }
}

impl std::fmt::Display for SocketKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SocketKind::Auto => "automatic",
            SocketKind::Raw => "raw",
            SocketKind::Datagram => "datagram",
        })
    }
}

/// What opening a socket of one kind told: allowed, refused for lack of permission, or
/// nothing (neither family could be opened for another reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allowed {
    Yes,
    No,
    Unknown,
}

/// Whether the process may open sockets of the `privileged` kind, as `open` says for
/// IPv4, else IPv6 (a system without one of them).
fn allowed(privileged: bool, open: &dyn Fn(Family, bool) -> io::Result<()>) -> Allowed {
    for family in [Family::V4, Family::V6] {
        match open(family, privileged) {
            Ok(()) => return Allowed::Yes,
            Err(error) if error.kind() == io::ErrorKind::PermissionDenied => return Allowed::No,
            Err(_) => continue,
        }
    }
    Allowed::Unknown
}

/// The kind [`SocketKind::Auto`] stands for in this process: raw (`true`) if it may open
/// a raw socket, else datagram (`false`) if it may open a datagram one, else
/// [`Error::SocketPermission`]. When opening tells nothing (no ICMP socket of either
/// family at all), raw: opening the call's socket then reports the real reason.
pub(crate) fn detect() -> Result<bool> {
    detect_with(&|family, privileged| sys::open(family, privileged).map(drop))
}

fn detect_with(open: &dyn Fn(Family, bool) -> io::Result<()>) -> Result<bool> {
    if allowed(true, open) != Allowed::No {
        return Ok(true);
    }
    // Windows' datagram kind is the ICMP helper API, open to every user.
    if cfg!(windows) || allowed(false, open) != Allowed::No {
        return Ok(false);
    }
    Err(Error::SocketPermission { privileged: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> io::Error {
        io::Error::from(io::ErrorKind::PermissionDenied)
    }

    #[test]
    fn raw_where_allowed() {
        assert!(detect_with(&|_, _| Ok(())).unwrap());
    }

    #[cfg(not(windows))]
    #[test]
    fn datagram_where_raw_is_refused() {
        let open = |_, privileged: bool| if privileged { Err(refused()) } else { Ok(()) };
        assert!(!detect_with(&open).unwrap());
    }

    #[cfg(not(windows))]
    #[test]
    fn neither_is_a_permission_error_naming_both_ways() {
        let error = detect_with(&|_, _| Err(refused())).unwrap_err();
        assert!(matches!(
            error,
            Error::SocketPermission { privileged: false }
        ));
        let message = error.to_string();
        assert!(
            message.contains("ping_group_range") && message.contains("CAP_NET_RAW"),
            "{message}"
        );
    }

    #[test]
    fn a_family_the_system_lacks_asks_the_other() {
        // No IPv4 at all; IPv6 refuses raw sockets and admits datagram ones.
        let open = |family, privileged: bool| match (family, privileged) {
            (Family::V4, _) => Err(io::Error::from(io::ErrorKind::Unsupported)),
            (Family::V6, true) => Err(refused()),
            (Family::V6, false) => Ok(()),
        };
        assert!(!detect_with(&open).unwrap());
    }

    #[test]
    fn no_socket_at_all_is_left_to_the_call() {
        let open = |_, _| Err(io::Error::from(io::ErrorKind::Unsupported));
        assert!(detect_with(&open).unwrap());
    }

    #[test]
    fn options_defer_to_the_pinger_when_automatic() {
        assert_eq!(
            SocketKind::Auto.or(SocketKind::Datagram),
            SocketKind::Datagram
        );
        assert_eq!(SocketKind::Raw.or(SocketKind::Datagram), SocketKind::Raw);
        assert_eq!(SocketKind::from_privileged(false), SocketKind::Datagram);
        assert_eq!(SocketKind::Auto.privileged(), None);
    }
}
