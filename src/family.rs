//! The IP family of an address, socket or packet.

use std::fmt;
use std::net::IpAddr;

/// An IP family: IPv4 (ICMPv4) or IPv6 (ICMPv6).
///
/// ```
/// use icmplib::Family;
/// use std::net::IpAddr;
///
/// let address: IpAddr = "::1".parse().unwrap();
/// assert_eq!(Family::of(&address), Family::V6);
/// assert_eq!(Family::V4.to_string(), "IPv4");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Family {
    /// IPv4, spoken with ICMPv4 (RFC 792).
    V4,
    /// IPv6, spoken with ICMPv6 (RFC 4443).
    V6,
}

impl Family {
    /// The family of `address`.
    pub fn of(address: &IpAddr) -> Family {
        match address {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}
