//! What a scheduler asks of the job that probes one target (a ping's, a trace's, a path
//! MTU search's, a watch's): the next probe, and what its outcomes come to.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};
use crate::socket::reply::IcmpReply;

/// What a job knows one of its probes by when it is told the probe's fate: its TTL, its
/// flow and the job's own tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Mark {
    pub ttl: u8,
    /// The one's complement sum the probe's sequence number and payload keep (see
    /// [`Next::flow`]); `None` for a probe of no flow.
    pub flow: Option<u16>,
    /// What the job tagged the probe with ([`Next::tag`]).
    pub tag: u32,
}

impl Mark {
    /// A probe with this TTL, of no flow, untagged.
    #[cfg(test)]
    pub(crate) fn ttl(ttl: u8) -> Mark {
        Mark {
            ttl,
            flow: None,
            tag: 0,
        }
    }

    /// The mark of the probe `next` asks for.
    pub(crate) fn of(next: &Next) -> Mark {
        Mark {
            ttl: next.ttl,
            flow: next.flow,
            tag: next.tag,
        }
    }
}

/// The next probe a job wants: its TTL, how long after now it should leave, and its
/// payload size when not the call's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Next {
    pub ttl: u8,
    /// Keep the probe's ICMP checksum that of a flow: its sequence number and payload sum
    /// to this (1 to 0xfffe), two payload bytes compensating (ICMP-Paris), so that
    /// routers balancing by a hash of the ICMP header send every probe of the flow the
    /// same way. `None`: any checksum.
    pub flow: Option<u16>,
    /// The job's own number for the probe, given back with its fate (a continuous trace's
    /// round); 0 when the job needs none.
    pub tag: u32,
    pub after: Duration,
    pub payload_size: Option<usize>,
    /// No probe follows this one and the target is done once it is settled: a duplicate
    /// of its answer would come too late to count, so the engine remembers no answer of
    /// it (that was 3 % of a loopback sweep's CPU).
    pub last: bool,
}

/// The clocks when a job is told something, read once per turn of its scheduler: jobs
/// never read a clock themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Now {
    /// The monotonic clock (the crate's one clock).
    pub instant: Instant,
    /// The wall clock at the same moment, for what a job reports to people.
    pub wall: SystemTime,
}

impl Now {
    /// The clocks now, for a job's unit tests.
    #[cfg(test)]
    pub(crate) fn test() -> Now {
        Now {
            instant: crate::clock::now(),
            wall: SystemTime::now(),
        }
    }

    /// When `instant` (at or before this reading) was, on the wall clock.
    pub(crate) fn wall_of(&self, instant: Instant) -> SystemTime {
        let age = self.instant.saturating_duration_since(instant);
        self.wall.checked_sub(age).unwrap_or(self.wall)
    }
}

/// Where a job puts what it tells as it goes: its scheduler hands the events out, in
/// order, before anything else.
pub(crate) type Events<E> = VecDeque<E>;

/// What to probe for one target, what the outcomes come to, and what the job tells as it
/// goes. Every method is told the time: a job never reads a clock.
pub(crate) trait Job {
    /// What the target's probing comes to.
    type Output;

    /// What the job tells as its probes settle (a watch's events); [`Infallible`] for
    /// jobs that only finish.
    ///
    /// [`Infallible`]: std::convert::Infallible
    type Event;

    /// The next probe to send, or `None` when there is nothing to send now. Asked when
    /// the target starts, after each probe left or failed to, and after each answer or
    /// timeout, unless a probe is scheduled already; `in_flight` counts the probes sent
    /// and not settled. The target is done when this says `None` with nothing in flight.
    fn next(&mut self, in_flight: usize, now: Now) -> Option<Next>;

    /// The probe `probe` left.
    fn sent(&mut self, probe: Mark, now: Now);

    /// The probe `probe` could not leave.
    fn failed(&mut self, probe: Mark, error: Error, now: Now, events: &mut Events<Self::Event>);

    /// The outcome of the probe `probe`, which left at `sent_at`: its answer (an echo
    /// reply or an ICMP error about it), [`Error::TimeoutExceeded`], or the engine's error.
    fn settle(
        &mut self,
        probe: Mark,
        sent_at: Instant,
        outcome: Result<IcmpReply>,
        now: Now,
        events: &mut Events<Self::Event>,
    );

    /// Another echo reply to the probe `probe`, answered already (recognised
    /// among the last few thousand answers of its engine). Not an answer: by default,
    /// nothing.
    fn duplicate(
        &mut self,
        _probe: Mark,
        _reply: &IcmpReply,
        _now: Now,
        _events: &mut Events<Self::Event>,
    ) {
    }

    /// Whether the job is through with its address without an answer worth staying for:
    /// when the call tries a name's next address and the name has several, the scheduler
    /// then ends it at once (its probes in flight forgotten) and starts a job at the next
    /// address, or, after the last, finishes it. Asked after every outcome; by default,
    /// never.
    fn unanswered(&self) -> bool {
        false
    }

    /// What the target's probing came to, for `address` (reached through interface
    /// `scope_id`, 0 for none).
    fn finish(self, address: IpAddr, scope_id: u32) -> Self::Output;
}

/// Shorthands for the unit tests of jobs: each method told now, the events dropped.
#[cfg(test)]
pub(crate) trait Told: Job {
    fn next_now(&mut self, in_flight: usize) -> Option<Next> {
        self.next(in_flight, Now::test())
    }

    fn sent_now(&mut self, ttl: u8) {
        self.sent(Mark::ttl(ttl), Now::test());
    }

    fn failed_now(&mut self, ttl: u8, error: Error) {
        self.failed(Mark::ttl(ttl), error, Now::test(), &mut Events::new());
    }

    fn settled_now(&mut self, ttl: u8, sent_at: Instant, outcome: Result<IcmpReply>) {
        self.settle(
            Mark::ttl(ttl),
            sent_at,
            outcome,
            Now::test(),
            &mut Events::new(),
        );
    }

    /// A probe with this TTL got no answer in a second.
    fn timed_out(&mut self, ttl: u8) {
        let timeout = Duration::from_secs(1);
        self.settled_now(ttl, Instant::now(), Err(Error::TimeoutExceeded { timeout }));
    }
}

#[cfg(test)]
impl<J: Job> Told for J {}

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
