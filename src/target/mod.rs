//! What a call probes: [`Target`], an IP address or a name, taken by every call as
//! `impl Into<Target>`; and what every call checks of it before anything else: the
//! syntax of an address as written (`split_address`), and what may go to the name
//! servers (`name.rs`).

mod name;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

pub(crate) use name::check_name;

/// What a call probes: an IP address, or a name to look up (an IPv6 address may carry its
/// zone, `fe80::1%eth0`). Every call takes `impl Into<Target>`, so it is given as any of
/// `&str`, `String`, `IpAddr`, `Ipv4Addr`, `Ipv6Addr`, a reference to one of these, or an
/// `Arc<str>`; lists of targets are any iterator of these.
///
/// A target is kept as text, as given: a [`Host`](crate::Host) reports the address it
/// probed, and a watch's events and statistics are keyed by this text.
///
/// ```
/// use std::net::{IpAddr, Ipv6Addr};
///
/// use icmplib::Target;
///
/// let by_name = Target::from("localhost");
/// let by_address = Target::from(IpAddr::V6(Ipv6Addr::LOCALHOST));
/// assert_eq!(by_address.as_str(), "::1");
/// assert_eq!(by_name.to_string(), "localhost");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target(Arc<str>);

impl Target {
    /// The target as text: the address or name given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Refuses, as every call does before any lookup, a target that is neither an
    /// address nor a name: the empty string, a name whose last label is all digits
    /// (`300.1.1.1`), a short form of an address (`127.1`, `0x7f000001`: write it in
    /// full). For a daemon that checks its configuration before it runs.
    ///
    /// ```
    /// use icmplib::Target;
    ///
    /// assert!(Target::from("example.org").check().is_ok());
    /// assert!(Target::from("192.0.2.1").check().is_ok());
    /// assert!(Target::from("300.1.1.1").check().is_err());
    /// assert!(Target::from("127.1").check().is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidOption`](crate::Error::InvalidOption), saying why.
    pub fn check(&self) -> crate::Result<()> {
        if split_address(&self.0).is_some() {
            return Ok(());
        }
        check_name(&self.0)
    }

    /// The text, shared.
    pub(crate) fn into_shared(self) -> Arc<str> {
        self.0
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Target {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Target {
    fn from(text: &str) -> Target {
        Target(text.into())
    }
}

impl From<String> for Target {
    fn from(text: String) -> Target {
        Target(text.into())
    }
}

impl From<Arc<str>> for Target {
    fn from(text: Arc<str>) -> Target {
        Target(text)
    }
}

impl From<IpAddr> for Target {
    fn from(address: IpAddr) -> Target {
        Target(address.to_string().into())
    }
}

impl From<Ipv4Addr> for Target {
    fn from(address: Ipv4Addr) -> Target {
        IpAddr::V4(address).into()
    }
}

impl From<Ipv6Addr> for Target {
    fn from(address: Ipv6Addr) -> Target {
        IpAddr::V6(address).into()
    }
}

/// A reference to anything a target is made of (`&String`, `&IpAddr`, `&&str`, `&Target`):
/// so that `&targets`, for a slice or a vector of them, is a list of targets.
impl<T: Clone + Into<Target>> From<&T> for Target {
    fn from(target: &T) -> Target {
        target.clone().into()
    }
}

/// An address as written, its syntax alone: the address (IPv4-mapped ones as IPv4) and the
/// zone as written, if any, without asking which interface it names. `None` for a name.
pub(crate) fn split_address(text: &str) -> Option<(IpAddr, Option<&str>)> {
    let bare = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(text);
    let (address, zone) = match bare.split_once('%') {
        Some((address, zone)) => (address, Some(zone)),
        None => (bare, None),
    };
    Some((address.parse::<IpAddr>().ok()?.to_canonical(), zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all<T: Into<Target>>(targets: impl IntoIterator<Item = T>) -> Vec<String> {
        targets
            .into_iter()
            .map(|target| target.into().to_string())
            .collect()
    }

    #[test]
    fn every_form_gives_the_same_text() {
        let v4 = Ipv4Addr::LOCALHOST;
        let forms: Vec<Target> = vec![
            "127.0.0.1".into(),
            String::from("127.0.0.1").into(),
            (&String::from("127.0.0.1")).into(),
            IpAddr::V4(v4).into(),
            v4.into(),
            (&v4).into(),
            Arc::<str>::from("127.0.0.1").into(),
        ];
        assert!(forms.iter().all(|target| target.as_str() == "127.0.0.1"));
        assert_eq!(Target::from(Ipv6Addr::LOCALHOST).as_str(), "::1");
    }

    // References are what is tested here: `&targets` of a slice or a vector.
    #[allow(clippy::needless_borrows_for_generic_args)]
    #[test]
    fn lists_of_any_form() {
        assert_eq!(all(&["a", "b"]), ["a", "b"]);
        assert_eq!(all(vec![String::from("a")]), ["a"]);
        assert_eq!(all(&vec![IpAddr::V6(Ipv6Addr::LOCALHOST)]), ["::1"]);
        assert_eq!(all([Target::from("x")].iter()), ["x"]);
    }

    #[test]
    fn debug_shows_the_text() {
        assert_eq!(format!("{:?}", Target::from("host")), "\"host\"");
    }
}
