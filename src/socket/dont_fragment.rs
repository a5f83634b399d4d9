//! [`DontFragment`]: whether requests may be fragmented on the way, and what a socket is
//! set to for it.

use socket2::Socket;

use super::sys;
use crate::error::{Error, Result};
use crate::family::Family;

/// Whether requests carry the Don't Fragment bit (IPv4) / may be fragmented by this host
/// (IPv6), as `ping -M want|dont|do|probe`.
///
/// A request larger than a link on its path is then either fragmented or refused: a
/// router answers Fragmentation Needed / Packet Too Big, or this host refuses to send it,
/// and the request fails with [`Error::PacketTooBig`](crate::Error::PacketTooBig), which
/// gives the MTU that passes.
///
/// A setting other than [`DontFragment::System`] is a socket option (Linux
/// `IP_MTU_DISCOVER`, `IPV6_MTU_DISCOVER` and `IPV6_DONTFRAG`; `IP_DONTFRAG` and
/// `IPV6_DONTFRAG` on macOS and FreeBSD), and IPv4 has no per-packet form of it, so a
/// pinger opens a socket per setting in use, on first use, next to its shared one.
/// Windows: only [`DontFragment::System`] for now (other settings are refused with
/// [`Error::InvalidOption`](crate::Error::InvalidOption)).
///
/// ```
/// use icmplib::{DontFragment, PingOptions};
///
/// // Does the path carry 1,500-byte packets unfragmented?
/// let options = PingOptions::default()
///     .payload_size(1500 - 28)
///     .dont_fragment(DontFragment::Probe);
/// assert_eq!(options.probe.dont_fragment, DontFragment::Probe);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DontFragment {
    /// The system's default (Linux: DF set while a request fits the path MTU the system
    /// knows, larger ones fragmented by this host; `ping -M want`).
    #[default]
    System,
    /// Routers may fragment IPv4 requests (DF clear); IPv6 requests larger than the path
    /// MTU are fragmented by this host (`ping -M dont`).
    Off,
    /// Never fragmented: DF set, and a request larger than the path MTU the system knows
    /// (learned from earlier answers) is refused here, without being sent (`ping -M do`).
    On,
    /// Never fragmented, and the path MTU the system learned is ignored: every request
    /// that fits the interface leaves, so each one tests the path (`ping -M probe`).
    /// What [`path_mtu`](crate::path_mtu) uses. On macOS and FreeBSD, the same as
    /// [`DontFragment::On`].
    Probe,
}

/// Sets `socket` (of `family`) as `setting` says.
///
/// # Errors
/// [`Error::InvalidOption`] where the system has no such option.
pub(crate) fn set_dont_fragment(
    socket: &Socket,
    family: Family,
    setting: DontFragment,
) -> Result<()> {
    sys::set_dont_fragment(socket, family, setting)
        .map_err(|error| Error::invalid(format!("cannot set dont_fragment {setting:?}: {error}")))
}
