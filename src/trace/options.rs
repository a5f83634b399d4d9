//! The options of a traceroute: [`TracerouteOptions`].

use std::time::Duration;

use crate::error::{Error, Result};
use crate::options::{ProbeOptions, probe_setters};
use crate::socket::request::DEFAULT_TTL;

/// Options of [`traceroute`](crate::traceroute), [`async_traceroute`](crate::async_traceroute)
/// and [`Pinger::traceroute`](crate::Pinger::traceroute): the [`ProbeOptions`] (defaults:
/// 2 probes per hop, 0.05 s apart, 2 s timeout; `ttl` is set per probe) and the distances
/// to probe.
///
/// ```
/// use icmplib::TracerouteOptions;
///
/// let options = TracerouteOptions::default().max_hops(16).fast(true).parallel(true);
/// assert_eq!(options.probe.count, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TracerouteOptions {
    /// The probes of each hop and the socket.
    pub probe: ProbeOptions,
    /// The TTL of the first probes (default 1).
    pub first_hop: u8,
    /// The largest TTL probed (default 30).
    pub max_hops: u8,
    /// Go to the next hop as soon as one probe of a hop was answered (default false).
    pub fast: bool,
    /// Probe every hop at once (default false: one hop after the other, as the Python
    /// library): a whole trace then takes about one timeout instead of one per silent hop.
    pub parallel: bool,
}

impl Default for TracerouteOptions {
    fn default() -> TracerouteOptions {
        TracerouteOptions::from(
            ProbeOptions::default()
                .count(2)
                .interval(Duration::from_millis(50)),
        )
    }
}

// No `ttl`: each probe carries its own, from `first_hop` to `max_hops`.
probe_setters!(TracerouteOptions { probe }: count, interval, timeout, id, source, family, socket_kind,
    payload, payload_size, traffic_class, dont_fragment);

impl From<ProbeOptions> for TracerouteOptions {
    /// These probes, from hop 1 to 30, one hop after the other.
    fn from(probe: ProbeOptions) -> TracerouteOptions {
        TracerouteOptions {
            probe,
            first_hop: 1,
            max_hops: 30,
            fast: false,
            parallel: false,
        }
    }
}

impl TracerouteOptions {
    /// Sets [`TracerouteOptions::first_hop`].
    pub fn first_hop(mut self, first_hop: u8) -> Self {
        self.first_hop = first_hop;
        self
    }

    /// Sets [`TracerouteOptions::max_hops`].
    pub fn max_hops(mut self, max_hops: u8) -> Self {
        self.max_hops = max_hops;
        self
    }

    /// Sets [`TracerouteOptions::fast`].
    pub fn fast(mut self, fast: bool) -> Self {
        self.fast = fast;
        self
    }

    /// Sets [`TracerouteOptions::parallel`].
    pub fn parallel(mut self, parallel: bool) -> Self {
        self.parallel = parallel;
        self
    }

    /// Checks the distances, and that no TTL was set (each probe carries its own).
    pub(crate) fn check(&self) -> Result<()> {
        if self.first_hop == 0 {
            return Err(Error::invalid("first_hop must be at least 1"));
        }
        if self.max_hops < self.first_hop {
            return Err(Error::invalid(format!(
                "max_hops ({}) must be at least first_hop ({})",
                self.max_hops, self.first_hop
            )));
        }
        if self.probe.ttl != DEFAULT_TTL {
            return Err(Error::invalid(
                "ttl does not apply to a traceroute: its probes carry TTLs first_hop to max_hops",
            ));
        }
        if self.probe.try_next_address {
            return Err(Error::invalid(
                "try_next_address does not apply to a traceroute: it traces one path, to one address",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_traceroute_options_are_refused() {
        let check = |options: TracerouteOptions| options.check();
        assert!(Error::is_invalid(&check(
            TracerouteOptions::default().first_hop(0)
        )));
        assert!(Error::is_invalid(&check(
            TracerouteOptions::default().first_hop(5).max_hops(4)
        )));
        let mut with_ttl = TracerouteOptions::default();
        with_ttl.probe.ttl = 3;
        assert!(Error::is_invalid(&check(with_ttl)));
        let mut every_address = TracerouteOptions::default();
        every_address.probe.try_next_address = true;
        assert!(Error::is_invalid(&check(every_address)));
        assert!(check(TracerouteOptions::default().first_hop(5).max_hops(5)).is_ok());
    }
}
