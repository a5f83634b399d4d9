//! The error type: one enum for everything that can go wrong, with the wording of the
//! Python icmplib exceptions it re-creates.

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::family::Family;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in icmplib.
///
/// Cheap to clone (an I/O error is kept in an [`Arc`]), so one socket failure can be
/// handed to every request that was waiting on it.
///
/// [`std::error::Error`] and [`Display`](fmt::Display) are written by hand rather than
/// derived with `thiserror`: the `source` field of the ICMP error variants is the address
/// that sent the error (as in the Python library), not an underlying error.
///
/// ```
/// use icmplib::{Error, Family};
///
/// let error = Error::DestinationUnreachable {
///     source: "192.0.2.1".parse().unwrap(),
///     code: 1,
///     family: Family::V4,
/// };
/// assert_eq!(error.to_string(), "Destination host unreachable (from 192.0.2.1)");
/// ```
///
/// Its [`Debug`](fmt::Debug) form carries the message too, so that `fn main() ->
/// icmplib::Result<()>`, which prints an error's `Debug`, tells the user what to do:
///
/// ```
/// let error = icmplib::Error::SocketPermission { privileged: true };
/// let debug = format!("{error:?}");
/// assert!(debug.starts_with("SocketPermission: Root privileges are required"));
/// assert!(debug.contains("CAP_NET_RAW"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum Error {
    /// A name could not be resolved to an address of the requested family.
    NameLookup {
        /// The name that was looked up.
        name: String,
        /// Why: the name does not exist, the name servers did not answer, one failed, or
        /// something on this machine did.
        failure: LookupFailure,
        /// The resolver's own error, when there is one (also [`std::error::Error::source`]).
        cause: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },
    /// The process may not open this kind of ICMP socket.
    SocketPermission {
        /// True for a raw socket (needs root or `CAP_NET_RAW`), false for an unprivileged
        /// datagram socket (needs `net.ipv4.ping_group_range` to include the user's group),
        /// or for [`SocketKind::Auto`](crate::SocketKind::Auto) when neither was allowed
        /// (the message then names both ways).
        privileged: bool,
    },
    /// The source address cannot be used: the machine does not have it.
    SocketAddress {
        /// The address that could not be bound.
        address: IpAddr,
    },
    /// The socket cannot be used any more (closed, or its reader task has stopped).
    SocketUnavailable,
    /// A broadcast address was pinged on a socket that does not allow broadcast.
    SocketBroadcast,
    /// No reply arrived within the timeout.
    TimeoutExceeded {
        /// The timeout that was reached.
        timeout: Duration,
    },
    /// A Destination Unreachable message came back for the request.
    DestinationUnreachable {
        /// The address that sent the message (often a router).
        source: IpAddr,
        /// The ICMP code: why the destination is unreachable.
        code: u8,
        /// The family of the message (ICMPv4 and ICMPv6 codes differ).
        family: Family,
    },
    /// A Time Exceeded message came back: the TTL / hop limit reached zero on the way, or
    /// the fragments could not be reassembled in time.
    TimeExceeded {
        /// The address that sent the message (the router where the TTL ran out).
        source: IpAddr,
        /// The ICMP code.
        code: u8,
        /// The family of the message.
        family: Family,
    },
    /// The request was larger than a link on the path carries and was not to be
    /// fragmented (see [`DontFragment`](crate::DontFragment)): a router answered
    /// Fragmentation Needed (ICMPv4 Destination Unreachable, code 4) or Packet Too Big
    /// (ICMPv6), or this host refused to send it (`EMSGSIZE`).
    PacketTooBig {
        /// The router that answered; `None` when this host refused to send the request.
        source: Option<IpAddr>,
        /// The largest packet (IP header included) that passes, in bytes: the next hop's
        /// MTU as the router gave it, or this host's MTU for the route (its interface's,
        /// or lower where the path's is known). `None` when the router did not say (older
        /// than RFC 1191) or the system does not tell.
        mtu: Option<u32>,
        /// The family of the request.
        family: Family,
    },
    /// Another ICMP message came back instead of an echo reply.
    Icmp {
        /// The ICMP type (`type` in the Python library, a keyword in Rust).
        icmp_type: u8,
        /// The ICMP code.
        code: u8,
    },
    /// An option or argument is out of range (a zero count, a payload too large, ...).
    InvalidOption {
        /// What is wrong, naming the option.
        reason: String,
    },
    /// The call was made in the wrong runtime context (a blocking function inside a
    /// tokio runtime, an async socket outside one).
    Runtime {
        /// What was wrong and what to do instead.
        reason: String,
    },
    /// The process has no file descriptor left for a socket (`EMFILE`, `ENFILE`).
    TooManyOpenFiles {
        /// The process's limit (`RLIMIT_NOFILE`), when it could be read.
        limit: Option<u64>,
    },
    /// Any other operating-system error from a socket.
    Socket(Arc<io::Error>),
}

/// Why a name was not resolved (see [`Error::NameLookup`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LookupFailure {
    /// The name does not exist, or has no address of the family asked for.
    NotFound,
    /// The name servers did not answer in time (see the resolver's timeout and attempts).
    Timeout,
    /// A name server answered with an error (it failed, refused, or answered nonsense).
    Server,
    /// Something on this machine failed: no file descriptor left for a query, no
    /// resolver configuration, ...
    Local,
}

impl Error {
    /// A name that was not resolved, for `failure`, with the resolver's error.
    pub(crate) fn name_lookup(
        name: &str,
        failure: LookupFailure,
        cause: Option<Arc<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error::NameLookup {
            name: name.to_string(),
            failure,
            cause,
        }
    }

    /// A name that has no address (of the family asked for).
    pub(crate) fn name_not_found(name: &str) -> Error {
        Error::name_lookup(name, LookupFailure::NotFound, None)
    }

    /// A readable explanation of an ICMP code, as the Python library gives it: for
    /// [`Error::DestinationUnreachable`] and [`Error::TimeExceeded`] the meaning of the
    /// code in its family, for other variants `None`.
    ///
    /// ```
    /// use icmplib::{Error, Family};
    ///
    /// let error = Error::DestinationUnreachable {
    ///     source: "2001:db8::1".parse().unwrap(),
    ///     code: 0,
    ///     family: Family::V6,
    /// };
    /// assert_eq!(error.code_message(), Some("No route to destination"));
    /// ```
    pub fn code_message(&self) -> Option<&'static str> {
        match *self {
            Error::DestinationUnreachable { code, family, .. } => {
                Some(destination_unreachable_message(family, code))
            }
            Error::TimeExceeded { code, family, .. } => Some(time_exceeded_message(family, code)),
            _ => None,
        }
    }

    /// True for the errors about the process rather than a host: the socket cannot be
    /// opened for this process ([`Error::SocketPermission`], [`Error::TooManyOpenFiles`]),
    /// this source ([`Error::SocketAddress`]) or this runtime ([`Error::Runtime`]). They
    /// fail a whole call; a host of a [`multiping_stream`](crate::multiping_stream) that
    /// carries one says that every other host would too.
    ///
    /// ```
    /// use icmplib::Error;
    ///
    /// assert!(Error::TooManyOpenFiles { limit: Some(1024) }.fails_the_call());
    /// assert!(!Error::SocketBroadcast.fails_the_call());
    /// ```
    pub fn fails_the_call(&self) -> bool {
        matches!(
            self,
            Error::SocketPermission { .. }
                | Error::SocketAddress { .. }
                | Error::Runtime { .. }
                | Error::TooManyOpenFiles { .. }
        )
    }

    /// True for an [`Error::InvalidOption`] result, in the tests of options.
    #[cfg(test)]
    pub(crate) fn is_invalid<T>(result: &Result<T>) -> bool {
        matches!(result, Err(Error::InvalidOption { .. }))
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Error {
        Error::InvalidOption {
            reason: reason.into(),
        }
    }
}

/// The meaning of a Destination Unreachable code (RFC 792 / RFC 1812 for ICMPv4, RFC 4443
/// for ICMPv6).
fn destination_unreachable_message(family: Family, code: u8) -> &'static str {
    match (family, code) {
        (Family::V4, 0) => "Destination network unreachable",
        (Family::V4, 1) => "Destination host unreachable",
        (Family::V4, 2) => "Destination protocol unreachable",
        (Family::V4, 3) => "Destination port unreachable",
        (Family::V4, 4) => "Fragmentation needed and DF set",
        (Family::V4, 5) => "Source route failed",
        (Family::V4, 6) => "Destination network unknown",
        (Family::V4, 7) => "Destination host unknown",
        (Family::V4, 8) => "Source host isolated",
        (Family::V4, 9) => "Destination network administratively prohibited",
        (Family::V4, 10) => "Destination host administratively prohibited",
        (Family::V4, 11) => "Destination network unreachable for type of service",
        (Family::V4, 12) => "Destination host unreachable for type of service",
        (Family::V4, 13) => "Communication administratively prohibited",
        (Family::V4, 14) => "Host precedence violation",
        (Family::V4, 15) => "Precedence cutoff in effect",
        (Family::V6, 0) => "No route to destination",
        (Family::V6, 1) => "Communication with destination administratively prohibited",
        (Family::V6, 2) => "Beyond scope of source address",
        (Family::V6, 3) => "Address unreachable",
        (Family::V6, 4) => "Port unreachable",
        (Family::V6, 5) => "Source address failed ingress/egress policy",
        (Family::V6, 6) => "Reject route to destination",
        _ => "Destination unreachable",
    }
}

/// The meaning of a Time Exceeded code (the same two codes in both families).
fn time_exceeded_message(family: Family, code: u8) -> &'static str {
    match (family, code) {
        (Family::V4, 0) => "Time to live exceeded",
        (Family::V6, 0) => "Hop limit exceeded",
        (_, 1) => "Fragment reassembly time exceeded",
        _ => "Time exceeded",
    }
}

impl fmt::Debug for Error {
    /// The variant's name, then the message, which names what its fields hold.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Error::NameLookup { .. } => "NameLookup",
            Error::SocketPermission { .. } => "SocketPermission",
            Error::SocketAddress { .. } => "SocketAddress",
            Error::SocketUnavailable => "SocketUnavailable",
            Error::SocketBroadcast => "SocketBroadcast",
            Error::TimeoutExceeded { .. } => "TimeoutExceeded",
            Error::DestinationUnreachable { .. } => "DestinationUnreachable",
            Error::TimeExceeded { .. } => "TimeExceeded",
            Error::PacketTooBig { .. } => "PacketTooBig",
            Error::Icmp { .. } => "Icmp",
            Error::InvalidOption { .. } => "InvalidOption",
            Error::Runtime { .. } => "Runtime",
            Error::TooManyOpenFiles { .. } => "TooManyOpenFiles",
            Error::Socket(_) => "Socket",
        };
        write!(f, "{name}: {self}")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NameLookup {
                name,
                failure,
                cause,
            } => {
                write!(f, "The name '{name}' cannot be resolved")?;
                match failure {
                    LookupFailure::NotFound => Ok(()),
                    LookupFailure::Timeout => {
                        f.write_str(": the name servers did not answer in time")
                    }
                    LookupFailure::Server => f.write_str(": the name server failed"),
                    LookupFailure::Local => f.write_str(": a local error"),
                }?;
                match (failure, cause) {
                    (LookupFailure::NotFound | LookupFailure::Timeout, _) | (_, None) => Ok(()),
                    (_, Some(cause)) => write!(f, " ({cause})"),
                }
            }
            Error::SocketPermission { privileged: true } if cfg!(windows) => f.write_str(
                "Administrator privileges are required to create a raw socket: run the \
                 program as Administrator, or use SocketKind::Datagram (the ICMP helper \
                 API, which needs no privileges)",
            ),
            Error::SocketPermission { privileged: true } => f.write_str(
                "Root privileges are required to create the socket: run as root, give the \
                 program CAP_NET_RAW (setcap cap_net_raw+ep PROGRAM), or use datagram \
                 sockets (SocketKind::Datagram, which needs the process's group in \
                 net.ipv4.ping_group_range)",
            ),
            Error::SocketPermission { privileged: false } => f.write_str(
                "Unprivileged ICMP sockets are not allowed for this user: the group of the \
                 process must be in net.ipv4.ping_group_range (for example \
                 sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"), or, for raw sockets \
                 (SocketKind::Raw), run as root or give the program CAP_NET_RAW \
                 (setcap cap_net_raw+ep PROGRAM)",
            ),
            Error::SocketAddress { address } => {
                write!(f, "The requested address ({address}) cannot be assigned")
            }
            Error::SocketUnavailable => {
                f.write_str("The socket can no longer be used after its closure")
            }
            Error::SocketBroadcast => f.write_str(
                "Broadcast is not allowed: enable it on the socket (set_broadcast) to ping a \
                 broadcast address",
            ),
            Error::TimeoutExceeded { timeout } => {
                write!(
                    f,
                    "The timeout has been reached ({}s)",
                    timeout.as_secs_f64()
                )
            }
            Error::DestinationUnreachable { source, .. } | Error::TimeExceeded { source, .. } => {
                let message = self.code_message().unwrap_or_default();
                write!(f, "{message} (from {source})")
            }
            Error::PacketTooBig { source, mtu, .. } => {
                f.write_str("Packet too big: ")?;
                match mtu {
                    Some(mtu) => write!(f, "the MTU is {mtu} bytes")?,
                    None => f.write_str("the MTU was not given")?,
                }
                match source {
                    Some(source) => write!(f, " (from {source})"),
                    None => f.write_str(
                        " (refused by this host; send smaller requests, or allow \
                         fragmentation with DontFragment::Off)",
                    ),
                }
            }
            Error::Icmp { icmp_type, code } => {
                write!(f, "ICMP error: type {icmp_type}, code {code}")
            }
            Error::InvalidOption { reason } => write!(f, "Invalid option: {reason}"),
            Error::Runtime { reason } => f.write_str(reason),
            Error::TooManyOpenFiles { limit } => {
                f.write_str("Too many open files: no file descriptor is left for a socket")?;
                if let Some(limit) = limit {
                    write!(f, " (this process may have {limit}, RLIMIT_NOFILE)")?;
                }
                f.write_str("; raise the limit (ulimit -n) or keep fewer hosts in flight")
            }
            Error::Socket(error) => write!(f, "Socket error: {error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Socket(error) => Some(&**error),
            Error::NameLookup {
                cause: Some(cause), ..
            } => Some(&**cause),
            _ => None,
        }
    }
}

/// What a socket registration without the runtime's I/O driver fails with (tokio panics
/// there; the registration catches it): an `io::Error` that becomes [`Error::Runtime`].
#[derive(Debug)]
struct MissingIoDriver;

impl fmt::Display for MissingIoDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "ICMP sockets need the tokio runtime's I/O driver: build the runtime with \
             enable_io() or enable_all() (as #[tokio::main] does)",
        )
    }
}

impl std::error::Error for MissingIoDriver {}

impl Error {
    /// The I/O error of a socket registration in a runtime without an I/O driver.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn missing_io_driver() -> io::Error {
        io::Error::other(MissingIoDriver)
    }
}

impl From<io::Error> for Error {
    fn from(error: io::Error) -> Error {
        if error
            .get_ref()
            .is_some_and(|inner| inner.is::<MissingIoDriver>())
        {
            return Error::Runtime {
                reason: MissingIoDriver.to_string(),
            };
        }
        Error::Socket(Arc::new(error))
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Error {
    /// An error is serialized as its message.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unreachable_code_has_its_message() {
        let mut seen = std::collections::HashSet::new();
        for code in 0..=15 {
            let message = destination_unreachable_message(Family::V4, code);
            assert_ne!(message, "Destination unreachable", "ICMPv4 code {code}");
            assert!(seen.insert(message), "duplicate message {message}");
        }
        for code in 0..=6 {
            let message = destination_unreachable_message(Family::V6, code);
            assert_ne!(message, "Destination unreachable", "ICMPv6 code {code}");
            assert!(seen.insert(message), "duplicate message {message}");
        }
        assert_eq!(
            destination_unreachable_message(Family::V4, 16),
            "Destination unreachable"
        );
        assert_eq!(
            destination_unreachable_message(Family::V6, 7),
            "Destination unreachable"
        );
    }

    #[test]
    fn packet_too_big_says_the_mtu_and_who_said_it() {
        let from_router = Error::PacketTooBig {
            source: Some("192.0.2.2".parse().unwrap()),
            mtu: Some(1280),
            family: Family::V4,
        };
        assert_eq!(
            from_router.to_string(),
            "Packet too big: the MTU is 1280 bytes (from 192.0.2.2)"
        );
        let here = Error::PacketTooBig {
            source: None,
            mtu: None,
            family: Family::V6,
        };
        let text = format!("{here:?}");
        assert!(text.starts_with("PacketTooBig: Packet too big: the MTU was not given"));
        assert!(text.contains("refused by this host") && text.contains("DontFragment::Off"));
    }

    #[test]
    fn time_exceeded_messages() {
        assert_eq!(
            time_exceeded_message(Family::V4, 0),
            "Time to live exceeded"
        );
        assert_eq!(time_exceeded_message(Family::V6, 0), "Hop limit exceeded");
        assert_eq!(
            time_exceeded_message(Family::V4, 1),
            "Fragment reassembly time exceeded"
        );
        assert_eq!(
            time_exceeded_message(Family::V6, 1),
            "Fragment reassembly time exceeded"
        );
        assert_eq!(time_exceeded_message(Family::V6, 9), "Time exceeded");
    }

    #[test]
    fn messages_name_what_to_do() {
        let unprivileged = Error::SocketPermission { privileged: false }.to_string();
        assert!(
            unprivileged.contains("net.ipv4.ping_group_range"),
            "{unprivileged}"
        );
        let privileged = Error::SocketPermission { privileged: true }.to_string();
        let what_to_do = if cfg!(windows) {
            "Administrator"
        } else {
            "CAP_NET_RAW"
        };
        assert!(privileged.contains(what_to_do), "{privileged}");
        let timeout = Error::TimeoutExceeded {
            timeout: Duration::from_millis(1500),
        };
        assert_eq!(timeout.to_string(), "The timeout has been reached (1.5s)");
    }

    #[test]
    fn io_errors_are_shared_and_chained() {
        let error = Error::from(io::Error::other("boom"));
        let clone = error.clone();
        assert!(std::error::Error::source(&clone).is_some());
        assert_eq!(clone.to_string(), "Socket error: boom");
    }
}
