//! The options of a continuous trace: [`RouteWatchOptions`].

use std::time::Duration;

use crate::error::{Error, Result};
use crate::options::{ProbeOptions, probe_setters};
use crate::trace::TracerouteOptions;

/// The shortest time between two rounds.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Options of [`Pinger::watch_route`](crate::Pinger::watch_route): the [`ProbeOptions`]
/// (`interval` between rounds, default 1 s as mtr; `timeout` 2 s; no `count`, no `ttl`),
/// the distances and flows probed, and how many rounds.
///
/// ```
/// use std::time::Duration;
/// use icmplib::RouteWatchOptions;
///
/// let options = RouteWatchOptions::default()
///     .rounds(Some(10))
///     .interval(Duration::from_millis(500))
///     .max_hops(16);
/// assert_eq!(options.probe.timeout, Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouteWatchOptions {
    /// The probes and the socket. `interval` is the time between the starts of two rounds
    /// (at least 10 ms; rounds overlap when their probes wait longer); `count` and `ttl`
    /// do not apply.
    pub probe: ProbeOptions,
    /// The TTL of the first probes (default 1).
    pub first_hop: u8,
    /// The largest TTL probed (default 30). Once the path ends at a distance, later
    /// rounds probe up to it; when a round finds no end, a later round (the next to leave
    /// after it was handed out) probes up to this again.
    pub max_hops: u8,
    /// Flow-stable probes (default true), as
    /// [`TracerouteOptions::flow_stable`](crate::TracerouteOptions::flow_stable).
    pub flow_stable: bool,
    /// Flows traced at once (default 1), as
    /// [`TracerouteOptions::flows`](crate::TracerouteOptions::flows).
    pub flows: u16,
    /// Rounds before the trace ends by itself (`None`, default: without end, until the
    /// stream is dropped).
    pub rounds: Option<u64>,
    /// Look up the routers' names (reverse DNS, through the pinger's resolver; default
    /// false): each is asked for once and comes with the rounds after its answer, if
    /// found within 2 s. No probe and no round waits for a name.
    pub names: bool,
}

impl Default for RouteWatchOptions {
    fn default() -> RouteWatchOptions {
        RouteWatchOptions {
            probe: ProbeOptions::default()
                .count(1)
                .interval(Duration::from_secs(1)),
            first_hop: 1,
            max_hops: 30,
            flow_stable: true,
            flows: 1,
            rounds: None,
            names: false,
        }
    }
}

probe_setters!(RouteWatchOptions { probe }: interval, timeout, id, source, family, socket_kind,
    payload_size, traffic_class, dont_fragment);

impl RouteWatchOptions {
    /// Sets [`RouteWatchOptions::first_hop`].
    pub fn first_hop(mut self, first_hop: u8) -> Self {
        self.first_hop = first_hop;
        self
    }

    /// Sets [`RouteWatchOptions::max_hops`].
    pub fn max_hops(mut self, max_hops: u8) -> Self {
        self.max_hops = max_hops;
        self
    }

    /// Sets [`RouteWatchOptions::flow_stable`].
    pub fn flow_stable(mut self, flow_stable: bool) -> Self {
        self.flow_stable = flow_stable;
        self
    }

    /// Sets [`RouteWatchOptions::flows`].
    pub fn flows(mut self, flows: u16) -> Self {
        self.flows = flows;
        self
    }

    /// Sets [`RouteWatchOptions::names`].
    pub fn names(mut self, names: bool) -> Self {
        self.names = names;
        self
    }

    /// Sets [`RouteWatchOptions::rounds`].
    pub fn rounds(mut self, rounds: Option<u64>) -> Self {
        self.rounds = rounds;
        self
    }

    /// The same probes as a one-shot trace's options (whose checks apply).
    pub(crate) fn as_trace(&self) -> TracerouteOptions {
        TracerouteOptions::from(self.probe.clone())
            .first_hop(self.first_hop)
            .max_hops(self.max_hops)
            .flow_stable(self.flow_stable)
            .flows(self.flows)
            .parallel(true)
    }

    /// Checks the options as a traceroute's, and the rounds.
    pub(crate) fn check(&self) -> Result<()> {
        if self.rounds == Some(0) {
            return Err(Error::invalid(
                "rounds must be at least 1 (or None: without end)",
            ));
        }
        if self.probe.interval < MIN_INTERVAL {
            return Err(Error::invalid(format!(
                "interval must be at least {} ms: rounds back to back would flood the path",
                MIN_INTERVAL.as_millis()
            )));
        }
        self.probe.check()?;
        self.as_trace().check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_route_watch_options_are_refused() {
        let check = |options: RouteWatchOptions| options.check();
        assert!(check(RouteWatchOptions::default()).is_ok());
        assert!(Error::is_invalid(&check(
            RouteWatchOptions::default().rounds(Some(0))
        )));
        assert!(Error::is_invalid(&check(
            RouteWatchOptions::default().max_hops(0)
        )));
        assert!(Error::is_invalid(&check(
            RouteWatchOptions::default().flows(0)
        )));
        assert!(Error::is_invalid(&check(
            RouteWatchOptions::default().timeout(Duration::ZERO)
        )));
        assert!(Error::is_invalid(&check(
            RouteWatchOptions::default().payload_size(1)
        )));
        assert!(Error::is_invalid(&check(
            RouteWatchOptions::default().interval(Duration::from_millis(9))
        )));
    }
}
