//! What a scheduler asks of the job that probes one target (a ping's, a trace's, a path
//! MTU search's, a watch's): the next probe, and what its outcomes come to.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::socket::reply::IcmpReply;

/// The next probe a job wants: its TTL, how long after now it should leave, and its
/// payload size when not the call's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Next {
    pub ttl: u8,
    pub after: Duration,
    pub payload_size: Option<usize>,
    /// No probe follows this one and the target is done once it is settled: a duplicate
    /// of its answer would come too late to count, so the engine remembers no answer of
    /// it (that was 3 % of a loopback sweep's CPU).
    pub last: bool,
}

/// What to probe for one target, and what the outcomes come to.
pub(crate) trait Job {
    /// What the target's probing comes to.
    type Output;

    /// The next probe to send, or `None` when there is nothing to send now. Asked when
    /// the target starts, after each probe left or failed to, and after each answer or
    /// timeout, unless a probe is scheduled already; `in_flight` counts the probes sent
    /// and not settled. The target is done when this says `None` with nothing in flight.
    fn next(&mut self, in_flight: usize) -> Option<Next>;

    /// A probe with this TTL left.
    fn sent(&mut self, ttl: u8);

    /// A probe with this TTL could not leave.
    fn failed(&mut self, ttl: u8, error: Error);

    /// The outcome of a probe with this TTL that left at `sent_at`: its answer (an echo
    /// reply or an ICMP error about it), [`Error::TimeoutExceeded`], or the engine's error.
    fn settle(&mut self, ttl: u8, sent_at: Instant, outcome: Result<IcmpReply>);

    /// Another echo reply to a probe with this TTL that was answered already (recognised
    /// among the last few thousand answers of its engine). Not an answer: by default,
    /// nothing.
    fn duplicate(&mut self, _ttl: u8, _reply: &IcmpReply) {}

    /// What the target's probing came to, for `address` (reached through interface
    /// `scope_id`, 0 for none).
    fn finish(self, address: IpAddr, scope_id: u32) -> Self::Output;
}

/// The pause before each probe of a job that sends one after the other: none before the
/// first, then the interval.
#[derive(Debug)]
pub(crate) struct Pause {
    interval: Duration,
    started: bool,
}

impl Pause {
    pub(crate) fn new(interval: Duration) -> Pause {
        Pause {
            interval,
            started: false,
        }
    }

    /// The pause before the next probe.
    pub(crate) fn next(&mut self) -> Duration {
        let pause = if self.started {
            self.interval
        } else {
            Duration::ZERO
        };
        self.started = true;
        pause
    }
}
