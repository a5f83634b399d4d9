//! The options of a traceroute: [`TracerouteOptions`].

use std::time::Duration;

use crate::error::{Error, Result};
use crate::options::{ProbeOptions, probe_setters};
use crate::packet::FLOW_BYTES;
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
    /// Keep every probe of a flow on one path through load balancers (default true): the
    /// probes of a flow carry the same ICMP type, code and checksum (two payload bytes
    /// compensate for the sequence number: ICMP-Paris, as scamper and yarrp do) and the
    /// same TOS, so that a router balancing by a hash of them sends them all the same
    /// way. One trace, one path. `false` sends probes whose checksums vary, as most
    /// traceroutes do: a balancer then spreads them, and routers of several paths show up
    /// mixed at one distance. Needs a payload of at least 2 bytes, not a fixed one. On
    /// Windows without privileges (the ICMP helper API, which chooses each probe's
    /// sequence number) probes cannot keep a checksum: they vary whatever this says.
    pub flow_stable: bool,
    /// Flows traced at once (default 1, at most [`TracerouteOptions::MAX_FLOWS`]): each probe of a round
    /// goes once per flow, each flow with its own checksum. Every path found is then
    /// reported: a hop lists the flows that met its router at its distance
    /// ([`Hop::flows`](crate::Hop::flows)), so that two flows through different legs
    /// of a balancer are told apart. Needs `flow_stable`, and on Windows raw sockets.
    pub flows: u16,
    /// Look up each hop's name (reverse DNS, through the pinger's resolver), at once for
    /// every hop once the trace is done, within 2 s (default false). No probe waits for
    /// a name; the trace's result waits at most those 2 s.
    pub names: bool,
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
            flow_stable: true,
            flows: 1,
            names: false,
        }
    }
}

impl TracerouteOptions {
    /// The most flows one trace follows at once.
    pub const MAX_FLOWS: u16 = 64;

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

    /// Sets [`TracerouteOptions::flow_stable`].
    pub fn flow_stable(mut self, flow_stable: bool) -> Self {
        self.flow_stable = flow_stable;
        self
    }

    /// Sets [`TracerouteOptions::names`].
    pub fn names(mut self, names: bool) -> Self {
        self.names = names;
        self
    }

    /// Sets [`TracerouteOptions::flows`].
    pub fn flows(mut self, flows: u16) -> Self {
        self.flows = flows;
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
        if !(1..=Self::MAX_FLOWS).contains(&self.flows) {
            return Err(Error::invalid(format!(
                "flows must be 1 to {}, not {}",
                Self::MAX_FLOWS,
                self.flows
            )));
        }
        if self.flow_stable {
            if self.probe.payload.is_some() {
                return Err(Error::invalid(
                    "a fixed payload cannot keep a flow's checksum: two of its bytes must \
                     compensate for each sequence number (or set flow_stable(false))",
                ));
            }
            if self.probe.payload_size < FLOW_BYTES {
                return Err(Error::invalid(format!(
                    "flow-stable probes need a payload of at least {FLOW_BYTES} bytes, not {} \
                     (or set flow_stable(false))",
                    self.probe.payload_size
                )));
            }
        } else if self.flows > 1 {
            return Err(Error::invalid(
                "flows needs flow_stable: probes whose checksums vary belong to no flow",
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
        assert!(Error::is_invalid(&check(
            TracerouteOptions::default().flows(0)
        )));
        assert!(Error::is_invalid(&check(
            TracerouteOptions::default().flows(TracerouteOptions::MAX_FLOWS + 1)
        )));
        assert!(Error::is_invalid(&check(
            TracerouteOptions::default().flow_stable(false).flows(2)
        )));
        assert!(Error::is_invalid(&check(
            TracerouteOptions::default().payload_size(1)
        )));
        assert!(Error::is_invalid(&check(
            TracerouteOptions::default().payload(vec![1, 2, 3])
        )));
        assert!(check(TracerouteOptions::default().flows(TracerouteOptions::MAX_FLOWS)).is_ok());
        assert!(
            check(
                TracerouteOptions::default()
                    .flow_stable(false)
                    .payload_size(0)
            )
            .is_ok()
        );
        let mut every_address = TracerouteOptions::default();
        every_address.probe.try_next_address = true;
        assert!(Error::is_invalid(&check(every_address)));
        assert!(check(TracerouteOptions::default().first_hop(5).max_hops(5)).is_ok());
    }
}
