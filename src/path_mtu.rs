//! [`path_mtu`] and [`async_path_mtu`]: the largest packet that reaches a host without
//! being fragmented, found with echo requests of chosen sizes and Don't Fragment set.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::options::{ProbeOptions, probe_setters};
use crate::pinger::Pinger;
use crate::runtime::block_on;
use crate::scheduler::Settings;
use crate::socket::dont_fragment::DontFragment;

/// Options of [`path_mtu`], [`async_path_mtu`] and [`Pinger::path_mtu`]: the
/// [`ProbeOptions`] with their own defaults (2 tries per size, no pause between probes,
/// 2 s timeout) and a bound on the probes.
///
/// Of the probe options, `count` is the number of tries of a size that gets no answer
/// before it counts as too big (a link may drop large packets without a word); `payload`,
/// `payload_size` and `dont_fragment` do not apply (the search chooses the sizes, with
/// [`DontFragment::Probe`]).
///
/// ```
/// use std::time::Duration;
/// use icmplib::PathMtuOptions;
///
/// let options = PathMtuOptions::default().timeout(Duration::from_millis(500)).max_probes(20);
/// assert_eq!(options.probe.count, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PathMtuOptions {
    /// What every probe shares.
    pub probe: ProbeOptions,
    /// Probes sent at most (default 32): the search stops there with what it found.
    pub max_probes: usize,
}

impl Default for PathMtuOptions {
    fn default() -> PathMtuOptions {
        PathMtuOptions {
            probe: ProbeOptions::default()
                .count(2)
                .interval(Duration::ZERO)
                .dont_fragment(DontFragment::Probe),
            max_probes: 32,
        }
    }
}

probe_setters!(PathMtuOptions, probe);

impl PathMtuOptions {
    /// Sets [`PathMtuOptions::max_probes`].
    pub fn max_probes(mut self, max_probes: usize) -> Self {
        self.max_probes = max_probes;
        self
    }

    /// The probe options the search uses: these, with Don't Fragment set.
    pub(crate) fn probe(&self) -> ProbeOptions {
        self.probe.clone().dont_fragment(DontFragment::Probe)
    }

    /// The scheduler's settings, checked.
    pub(crate) fn settings(&self, source: Option<IpAddr>) -> Result<Settings> {
        if self.max_probes == 0 {
            return Err(Error::invalid("max_probes must be at least 1"));
        }
        // The search chooses the payload sizes: a payload option must not fail the call.
        let probe = self.probe().payload_size(0);
        let probe = ProbeOptions {
            payload: None,
            ..probe
        };
        probe.settings(source, 1, None)
    }
}

/// What a path MTU search found (see [`path_mtu`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMtu {
    pub(crate) address: String,
    pub(crate) mtu: u32,
    pub(crate) payload_size: usize,
    pub(crate) reported_by: Option<IpAddr>,
    pub(crate) probes_sent: usize,
    pub(crate) complete: bool,
}

impl PathMtu {
    /// The host's address (with its zone for a link-local IPv6 address).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The path MTU: the largest packet, IP header included, that reached the host and
    /// was answered without being fragmented, in bytes.
    pub fn mtu(&self) -> u32 {
        self.mtu
    }

    /// The largest echo payload that passes: [`PathMtu::mtu`] less the IP (20 or 40
    /// bytes) and ICMP (8) headers. What `payload_size` can be with
    /// [`DontFragment::On`].
    pub fn payload_size(&self) -> usize {
        self.payload_size
    }

    /// The router whose Fragmentation Needed / Packet Too Big message gave this MTU;
    /// `None` when the MTU is this host's own, or was found by trying sizes.
    pub fn reported_by(&self) -> Option<IpAddr> {
        self.reported_by
    }

    /// The probes sent.
    pub fn probes_sent(&self) -> usize {
        self.probes_sent
    }

    /// False when [`max_probes`](PathMtuOptions::max_probes) ran out before the search
    /// narrowed down to one size: [`PathMtu::mtu`] passes, and something larger may too.
    pub fn is_complete(&self) -> bool {
        self.complete
    }
}

impl fmt::Display for PathMtu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: path MTU {} bytes ({} bytes of payload)",
            self.address, self.mtu, self.payload_size
        )?;
        if let Some(router) = self.reported_by {
            write!(f, ", reported by {router}")?;
        }
        if !self.complete {
            f.write_str(", at least")?;
        }
        Ok(())
    }
}

/// Finds the path MTU to `address` (an IP address or a name): the largest echo request
/// that reaches the host and is answered without being fragmented anywhere, as
/// `tracepath` reports it.
///
/// Requests leave with Don't Fragment set ([`DontFragment::Probe`]), one at a time. The
/// first is the largest the family allows, so that this host's own limit (its
/// interface's MTU) comes first; every Fragmentation Needed / Packet Too Big answer's MTU
/// is tried next; when a size gets no answer at all ([`PathMtuOptions`]'s `count` times),
/// the interval between what passed and what did not is halved. It ends in a handful of
/// probes where routers say their MTU, in at most `max_probes` (about 17 sizes) where
/// they are silent.
///
/// Works unprivileged on Linux: the routers' messages are read from the socket's error
/// queue.
///
/// ```no_run
/// use icmplib::{PathMtuOptions, path_mtu};
///
/// let found = path_mtu("127.0.0.1", &PathMtuOptions::default()).unwrap();
/// println!("{found}");
/// ```
///
/// # Errors
/// [`Error::InvalidOption`] for invalid options (a zero `max_probes`, count or timeout);
/// [`Error::NameLookup`] for a name without an address; [`Error::TimeoutExceeded`] when
/// no size is answered; the ICMP error that stopped the search (a host unreachable, a
/// TTL exceeded); [`Error::SocketPermission`] when the socket cannot be opened;
/// [`Error::Runtime`] when called within a tokio runtime.
pub fn path_mtu(address: &str, options: &PathMtuOptions) -> Result<PathMtu> {
    block_on("path_mtu", async_path_mtu(address, options))
}

/// The async form of [`path_mtu`].
///
/// # Errors
/// As [`path_mtu`], [`Error::Runtime`] outside a tokio runtime.
///
/// # Cancel safety
/// Cancel safe: dropping the future abandons the search; its request in flight is
/// forgotten and its late answer dropped.
pub async fn async_path_mtu(address: &str, options: &PathMtuOptions) -> Result<PathMtu> {
    Pinger::shared().path_mtu(address, options).await
}
