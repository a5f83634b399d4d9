//! The options of the echo calls: [`PingOptions`] for one host, [`MultipingOptions`] for
//! sweeps, each with the defaults of the Python library.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::options::{ProbeOptions, probe_setters};
use crate::pinger::shards::MAX_SOCKETS;

/// Options of [`ping`](crate::ping), [`async_ping`](crate::async_ping) and
/// [`Pinger::ping`](crate::Pinger::ping): the [`ProbeOptions`] with their defaults
/// (4 requests, 1 s apart, 2 s timeout).
///
/// ```
/// use std::time::Duration;
/// use icmplib::PingOptions;
///
/// let options = PingOptions::default()
///     .count(10)
///     .interval(Duration::from_millis(200))
///     .privileged(false);
/// assert_eq!(options.probe.timeout, Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PingOptions {
    /// The requests and the socket.
    pub probe: ProbeOptions,
}

probe_setters!(PingOptions { probe }: count, interval, timeout, id, source, family, socket_kind, payload,
    payload_size, traffic_class, ttl, dont_fragment, try_next_address);

impl From<ProbeOptions> for PingOptions {
    fn from(probe: ProbeOptions) -> PingOptions {
        PingOptions { probe }
    }
}

/// Options of [`multiping`](crate::multiping), [`async_multiping`](crate::async_multiping)
/// and [`multiping_stream`](crate::multiping_stream): the [`ProbeOptions`] (defaults: 2
/// requests per host, 0.5 s apart, 2 s timeout), the hosts in flight and a rate limit.
///
/// ```
/// use std::time::Duration;
/// use icmplib::MultipingOptions;
///
/// let options = MultipingOptions::default()
///     .count(1)
///     .timeout(Duration::from_secs(1))
///     .concurrent_tasks(1_000)
///     .rate_limit(20_000);
/// assert_eq!(options.probe.interval, Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MultipingOptions {
    /// The requests to each host and the socket.
    pub probe: ProbeOptions,
    /// Hosts in flight at once (default 50). Memory grows with this, not with the number
    /// of hosts.
    pub concurrent_tasks: usize,
    /// At most this many requests per second for the whole call (default: no limit), for
    /// networks that must not see bursts.
    pub rate_limit: Option<u32>,
    /// Sockets per family the sweep spreads over (default 1, at most 64): each with its
    /// own reader, and its share of the targets and of `concurrent_tasks` probed by a task
    /// of its own, so that a sweep can use several cores where one socket's send path is
    /// the limit (measured: two datagram sockets on a 2-core machine sweep 1.35 times as
    /// fast as one). Needs a multi-thread runtime to help.
    ///
    /// Raw sockets (`privileged = true`) spread only on Linux, where each of a pinger's raw
    /// sockets has an in-kernel filter on its echo identifier: every raw socket receives a
    /// copy of every reply, and the filter drops the others' before they are queued. A
    /// raw sweep's sockets are its own, not the pinger's shared one. Elsewhere, where the
    /// system refuses the filter, and with a chosen [`ProbeOptions::id`] (which every
    /// socket would share), a raw sweep uses one socket whatever this says.
    pub sockets: usize,
}

impl Default for MultipingOptions {
    fn default() -> MultipingOptions {
        MultipingOptions::from(
            ProbeOptions::default()
                .count(2)
                .interval(Duration::from_millis(500)),
        )
    }
}

probe_setters!(MultipingOptions { probe }: count, interval, timeout, id, source, family, socket_kind,
    payload, payload_size, traffic_class, ttl, dont_fragment, try_next_address);

impl From<ProbeOptions> for MultipingOptions {
    /// These requests, 50 hosts in flight, no rate limit.
    fn from(probe: ProbeOptions) -> MultipingOptions {
        MultipingOptions {
            probe,
            concurrent_tasks: 50,
            rate_limit: None,
            sockets: 1,
        }
    }
}

impl MultipingOptions {
    /// Sets [`MultipingOptions::concurrent_tasks`].
    pub fn concurrent_tasks(mut self, concurrent_tasks: usize) -> Self {
        self.concurrent_tasks = concurrent_tasks;
        self
    }

    /// Sets [`MultipingOptions::rate_limit`].
    pub fn rate_limit(mut self, rate_limit: u32) -> Self {
        self.rate_limit = Some(rate_limit);
        self
    }

    /// Sets [`MultipingOptions::sockets`].
    pub fn sockets(mut self, sockets: usize) -> Self {
        self.sockets = sockets;
        self
    }

    /// Checks what only a sweep has: the hosts in flight and the sockets (the rate limit
    /// is checked where every call is set up).
    pub(crate) fn check(&self) -> Result<()> {
        if self.concurrent_tasks == 0 {
            return Err(Error::invalid("concurrent_tasks must be at least 1"));
        }
        if !(1..=MAX_SOCKETS).contains(&self.sockets) {
            return Err(Error::invalid(format!(
                "sockets must be 1 to {MAX_SOCKETS}, not {}",
                self.sockets
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_multiping_options_are_refused() {
        let check = |options: MultipingOptions| options.check();
        assert!(Error::is_invalid(&check(
            MultipingOptions::default().concurrent_tasks(0)
        )));
        assert!(Error::is_invalid(&check(
            MultipingOptions::default().sockets(0)
        )));
        assert!(Error::is_invalid(&check(
            MultipingOptions::default().sockets(MAX_SOCKETS + 1)
        )));
        assert!(check(MultipingOptions::default().sockets(MAX_SOCKETS)).is_ok());
    }
}
