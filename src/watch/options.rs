//! The options of a watch: [`WatchOptions`].

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::options::{ProbeOptions, probe_setters};
use crate::pinger::shards::MAX_SOCKETS;
use crate::stats::Window;

/// Options of [`Pinger::watch`](crate::Pinger::watch): what each probe looks like
/// ([`ProbeOptions`]: timeout, payload, TTL, privileges, source, family; `count` and
/// `interval` do not apply), how often each target is probed, and when a target counts
/// as up or down.
///
/// ```
/// use std::time::Duration;
/// use icmplib::WatchOptions;
///
/// let options = WatchOptions::default()
///     .period(Duration::from_millis(500))
///     .down_after(3)
///     .timeout(Duration::from_millis(400));
/// assert_eq!(options.period, Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchOptions {
    /// Each probe: its timeout (default 1 s), payload, TTL, privileges, source, family.
    pub probe: ProbeOptions,
    /// Time from one probe of a target to its next, whatever the answers (fping `-p`;
    /// default 1 s; at least 1 ms, at most a day). The targets' probes are spread evenly
    /// over it, those added later too.
    pub period: Duration,
    /// Answers in a row after which a target is up (default 1).
    pub up_after: u32,
    /// Losses in a row after which a target is down (default 3).
    pub down_after: u32,
    /// Probes each target's statistics are over (default 100).
    pub window: usize,
    /// If set, the statistics leave out probes older than this (at most 24 days).
    pub max_age: Option<Duration>,
    /// How often a target given by name is looked up again (default 5 minutes; `None`:
    /// once).
    pub resolve_every: Option<Duration>,
    /// At most this many probes per second for the whole watch (none by default): probes
    /// then leave later than their period says when there are too many.
    pub rate_limit: Option<u32>,
    /// Sockets per family the watch spreads its targets over (default 1, at most 64): each
    /// with a scheduler in a task of its own, so that a watch can use several cores where
    /// one thread's sends are the limit (measured on a 2-core machine: one socket keeps up
    /// with about 60,000 probes a second on loopback, two with 100,000). Needs a
    /// multi-thread runtime to help. With one socket the watch runs in its stream, on the
    /// task that polls it; with more, it runs ahead of the stream by a bounded batch of
    /// events. Raw sockets spread as a sweep's do
    /// ([`MultipingOptions::sockets`](crate::MultipingOptions::sockets)).
    pub sockets: usize,
}

impl Default for WatchOptions {
    fn default() -> WatchOptions {
        WatchOptions {
            probe: ProbeOptions::default().timeout(Duration::from_secs(1)),
            period: Duration::from_secs(1),
            up_after: 1,
            down_after: 3,
            window: 100,
            max_age: None,
            resolve_every: Some(Duration::from_secs(300)),
            rate_limit: None,
            sockets: 1,
        }
    }
}

// No count and no interval: a watch probes each target once a period, without end.
probe_setters!(WatchOptions { probe }: timeout, id, source, family, socket_kind, payload, payload_size,
    traffic_class, ttl, dont_fragment, try_next_address);

impl From<ProbeOptions> for WatchOptions {
    /// These probe options, with the watch's other defaults.
    fn from(probe: ProbeOptions) -> WatchOptions {
        WatchOptions {
            probe,
            ..WatchOptions::default()
        }
    }
}

impl WatchOptions {
    /// Sets [`WatchOptions::period`].
    pub fn period(mut self, period: Duration) -> Self {
        self.period = period;
        self
    }

    /// Sets [`WatchOptions::up_after`].
    pub fn up_after(mut self, answers: u32) -> Self {
        self.up_after = answers;
        self
    }

    /// Sets [`WatchOptions::down_after`].
    pub fn down_after(mut self, losses: u32) -> Self {
        self.down_after = losses;
        self
    }

    /// Sets [`WatchOptions::window`].
    pub fn window(mut self, probes: usize) -> Self {
        self.window = probes;
        self
    }

    /// Sets [`WatchOptions::max_age`].
    pub fn max_age(mut self, age: Option<Duration>) -> Self {
        self.max_age = age;
        self
    }

    /// Sets [`WatchOptions::rate_limit`].
    pub fn rate_limit(mut self, per_second: u32) -> Self {
        self.rate_limit = Some(per_second);
        self
    }

    /// Sets [`WatchOptions::sockets`].
    pub fn sockets(mut self, sockets: usize) -> Self {
        self.sockets = sockets;
        self
    }

    /// Sets [`WatchOptions::resolve_every`].
    pub fn resolve_every(mut self, every: Option<Duration>) -> Self {
        self.resolve_every = every;
        self
    }

    /// Checks the options and makes the rules of the watch, whose periods count from
    /// `epoch`.
    pub(crate) fn rules(&self, epoch: Instant) -> Result<Rules> {
        if self.period < MIN_PERIOD || self.period > MAX_PERIOD {
            return Err(Error::invalid(
                "period must be at least 1 ms (the resolution of tokio's timers) and at most \
                 a day",
            ));
        }
        if self.up_after == 0 || self.down_after == 0 {
            return Err(Error::invalid("up_after and down_after must be at least 1"));
        }
        if self.window == 0 {
            return Err(Error::invalid("window must be at least 1"));
        }
        if self
            .max_age
            .is_some_and(|age| age.is_zero() || age > Window::MAX_AGE)
        {
            return Err(Error::invalid(
                "max_age must be greater than zero and at most 24 days",
            ));
        }
        if !(1..=MAX_SOCKETS).contains(&self.sockets) {
            return Err(Error::invalid(format!(
                "sockets must be 1 to {MAX_SOCKETS}, not {}",
                self.sockets
            )));
        }
        if self.resolve_every.is_some_and(|every| every < self.period) {
            return Err(Error::invalid("resolve_every must be at least one period"));
        }
        Ok(Rules {
            epoch,
            period: self.period,
            ttl: self.probe.ttl,
            up_after: self.up_after,
            down_after: self.down_after,
            window: self.window,
            max_age: self.max_age,
            resolve_every: self.resolve_every,
        })
    }
}

/// The shortest period: a millisecond, the resolution of tokio's timers (a shorter one
/// would be that long anyway).
const MIN_PERIOD: Duration = Duration::from_millis(1);

/// The longest period: a day.
const MAX_PERIOD: Duration = Duration::from_secs(24 * 3600);

/// The rules of a watch, as its jobs and targets need them.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// What the targets' places in the period count from.
    pub epoch: Instant,
    pub period: Duration,
    pub ttl: u8,
    pub up_after: u32,
    pub down_after: u32,
    pub window: usize,
    pub max_age: Option<Duration>,
    /// How long a job for a name runs before the name is looked up again.
    pub resolve_every: Option<Duration>,
}

impl Rules {
    /// An empty window of a target.
    pub(crate) fn window(&self) -> Window {
        let window = Window::new(self.window);
        match self.max_age {
            Some(age) => window.with_max_age(age),
            None => window,
        }
    }
}
