//! What a path MTU search takes and gives: [`PathMtuOptions`] and [`PathMtu`].

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::options::{ProbeOptions, probe_setters};
use crate::socket::dont_fragment::DontFragment;

/// Options of [`path_mtu`](crate::path_mtu), [`async_path_mtu`](crate::async_path_mtu)
/// and [`Pinger::path_mtu`](crate::Pinger::path_mtu): the
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
    /// Requests tried at most, those this host refused for their size included (default
    /// 48: enough to halve down from the largest size with each silent size tried twice):
    /// the search stops there with what it found.
    pub max_probes: usize,
}

impl Default for PathMtuOptions {
    fn default() -> PathMtuOptions {
        PathMtuOptions {
            probe: ProbeOptions::default()
                .count(2)
                .interval(Duration::ZERO)
                .dont_fragment(DontFragment::Probe),
            max_probes: 48,
        }
    }
}

// No payload settings: the search chooses the sizes; no Don't Fragment: it is always on.
probe_setters!(PathMtuOptions { probe }: count, interval, timeout, id, source, family, socket_kind,
    traffic_class, ttl);

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

    /// Checks what only a search has: its bound on the probes.
    pub(crate) fn check(&self) -> Result<()> {
        if self.max_probes == 0 {
            return Err(Error::invalid("max_probes must be at least 1"));
        }
        if self.probe.try_next_address {
            return Err(Error::invalid(
                "try_next_address does not apply to a path MTU search: it searches one path, to one address",
            ));
        }
        Ok(())
    }
}

/// What a path MTU search found (see [`path_mtu`](crate::path_mtu)).
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

    /// True when the answer was verified: [`PathMtu::mtu`] passed, and the size above it
    /// was refused by this host, refused twice by routers (a message may be forged), or
    /// stayed silent as often as the losses the search saw ask (see
    /// [`path_mtu`](crate::path_mtu)). False when
    /// [`max_probes`](PathMtuOptions::max_probes) ran out first: [`PathMtu::mtu`] passes,
    /// and something larger may too.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_path_mtu_options_are_refused() {
        assert!(Error::is_invalid(
            &PathMtuOptions::default().max_probes(0).check()
        ));
        let mut every_address = PathMtuOptions::default();
        every_address.probe.try_next_address = true;
        assert!(Error::is_invalid(&every_address.check()));
        assert!(PathMtuOptions::default().check().is_ok());
    }
}
