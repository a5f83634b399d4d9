//! A watched target's endless probes: one every period, at fixed send-to-send times, each
//! outcome an event, up / down by runs of answers and losses, and the statistics of the
//! last probes. The watch (`crate::watch`) owns what the jobs share: their events and
//! each target's state.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::clock::{self, later};
use crate::error::{Error, Result};
use crate::scheduler::{Job, Next};
use crate::socket::reply::IcmpReply;
use crate::stats::{Stats, Window};

/// What happened to a watched target.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WatchEvent {
    /// A probe was answered.
    Reply {
        /// The target as given.
        target: String,
        /// The address probed.
        address: IpAddr,
        /// The probe's sequence number.
        sequence: u16,
        /// Its round trip.
        rtt: Duration,
        /// The TTL / hop limit the reply arrived with, when the system said.
        ttl: Option<u8>,
        /// The TOS / traffic class it arrived with, when the system said.
        traffic_class: Option<u8>,
        /// The reply's size in bytes, as read.
        bytes: usize,
        /// When it arrived, on the wall clock.
        at: SystemTime,
    },
    /// Another reply to a probe answered already (not counted as an answer).
    Duplicate {
        /// The target as given.
        target: String,
        /// The address probed.
        address: IpAddr,
        /// The probe's sequence number.
        sequence: u16,
    },
    /// A probe got no answer in time.
    Timeout {
        /// The target as given.
        target: String,
        /// The address probed.
        address: IpAddr,
    },
    /// A probe was answered by an ICMP error (Destination Unreachable, Time Exceeded),
    /// could not leave, or the target's name could not be looked up.
    Error {
        /// The target as given.
        target: String,
        /// The address probed, once known.
        address: Option<IpAddr>,
        /// What went wrong.
        error: Error,
    },
    /// The target's state changed: up after `up_after` answers in a row, down after
    /// `down_after` losses in a row.
    State {
        /// The target as given.
        target: String,
        /// Its new state.
        up: bool,
        /// Its state before; `None` for the first one known.
        previous: Option<bool>,
    },
}

/// The rules of a watch, as its jobs need them.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub period: Duration,
    pub ttl: u8,
    pub up_after: u32,
    pub down_after: u32,
    pub window: usize,
    pub max_age: Option<Duration>,
    /// How long a job for a name runs before the name is looked up again.
    pub resolve_every: Option<Duration>,
}

/// One watched target's state.
#[derive(Debug)]
pub(crate) struct TargetState {
    pub up: Option<bool>,
    answers_in_a_row: u32,
    losses_in_a_row: u32,
    window: Window,
    /// Which adding of the target this is: a target removed and added again is another
    /// one, which the old one's probes still in flight must not touch.
    pub generation: u64,
    /// Set when the target is removed: its job stops.
    pub removed: Arc<AtomicBool>,
}

/// A watched target as its batch knows it: its name and which adding of it.
#[derive(Debug, Clone)]
pub(crate) struct Tracked {
    pub name: String,
    pub generation: u64,
    /// Set when this adding of the target is removed.
    pub removed: Arc<AtomicBool>,
}

impl AsRef<str> for Tracked {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

impl TargetState {
    pub(crate) fn new(rules: &Rules, generation: u64) -> TargetState {
        let mut window = Window::new(rules.window);
        if let Some(age) = rules.max_age {
            window = window.with_max_age(age);
        }
        TargetState {
            up: None,
            answers_in_a_row: 0,
            losses_in_a_row: 0,
            window,
            generation,
            removed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The target as a batch knows it.
    pub(crate) fn tracked(&self, name: &str) -> Tracked {
        Tracked {
            name: name.to_owned(),
            generation: self.generation,
            removed: Arc::clone(&self.removed),
        }
    }
}

/// What the jobs of a watch and the watch share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub events: Mutex<VecDeque<WatchEvent>>,
    pub targets: Mutex<HashMap<String, TargetState>>,
    /// The generation of the next target added.
    pub generations: std::sync::atomic::AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn push(&self, event: WatchEvent) {
        lock(&self.events).push_back(event);
    }

    pub(crate) fn pop(&self) -> Option<WatchEvent> {
        lock(&self.events).pop_front()
    }

    pub(crate) fn targets(&self) -> MutexGuard<'_, HashMap<String, TargetState>> {
        lock(&self.targets)
    }

    /// The statistics of `target` now.
    pub(crate) fn stats(&self, target: &str) -> Option<Stats> {
        let now = clock::now();
        self.targets()
            .get(target)
            .map(|state| state.window.stats(now))
    }

    /// Records a probe's outcome for `target` (`Some(rtt)` answered, `None` lost) and
    /// the state change it makes, if any.
    pub(crate) fn record(
        &self,
        target: &Tracked,
        rules: &Rules,
        sent_at: Instant,
        rtt: Option<Duration>,
    ) {
        let change = {
            let mut targets = self.targets();
            let Some(state) = targets
                .get_mut(&target.name)
                .filter(|state| state.generation == target.generation)
            else {
                return;
            };
            match rtt {
                Some(rtt) => {
                    state.window.reply(sent_at, rtt.as_nanos() as f64 / 1e6);
                    state.answers_in_a_row += 1;
                    state.losses_in_a_row = 0;
                }
                None => {
                    state.window.lost(sent_at);
                    state.losses_in_a_row += 1;
                    state.answers_in_a_row = 0;
                }
            }
            let now_up = if state.answers_in_a_row >= rules.up_after {
                Some(true)
            } else if state.losses_in_a_row >= rules.down_after {
                Some(false)
            } else {
                None
            };
            match now_up {
                Some(up) if state.up != Some(up) => {
                    let previous = state.up.replace(up);
                    Some((up, previous))
                }
                _ => None,
            }
        };
        if let Some((up, previous)) = change {
            self.push(WatchEvent::State {
                target: target.name.clone(),
                up,
                previous,
            });
        }
    }
}

/// The probes of one watched target.
#[derive(Debug)]
pub(crate) struct WatchJob {
    target: Tracked,
    address: IpAddr,
    rules: Arc<Rules>,
    shared: Arc<Shared>,
    /// When the next probe is due: the first after its offset in the period, then one
    /// period after the one before, whatever the answers.
    due: Instant,
    /// When a job for a name hands over to a new lookup.
    until: Option<Instant>,
}

impl WatchJob {
    /// The job of `target` at `address`, its first probe `offset` into the period (so
    /// that the targets' probes spread over it).
    pub(crate) fn new(
        target: Tracked,
        address: IpAddr,
        offset: Duration,
        rules: Arc<Rules>,
        shared: Arc<Shared>,
        is_name: bool,
    ) -> WatchJob {
        let now = clock::now();
        let until = rules
            .resolve_every
            .filter(|_| is_name)
            .map(|every| later(now, every));
        WatchJob {
            target,
            address,
            due: later(now, offset),
            until,
            rules,
            shared,
        }
    }

    fn lost(&self, sent_at: Instant) {
        self.shared.record(&self.target, &self.rules, sent_at, None);
    }

    /// True once the target was removed: its probes still in flight tell nothing more.
    fn removed(&self) -> bool {
        self.target.removed.load(Ordering::Relaxed)
    }
}

impl Job for WatchJob {
    type Output = ();

    fn next(&mut self, _in_flight: usize) -> Option<Next> {
        if self.removed() {
            return None;
        }
        let now = clock::now();
        if self.until.is_some_and(|until| self.due >= until) {
            return None;
        }
        // Behind (the process was busy, or suspended): the next slot not yet passed,
        // without a burst.
        let behind = now.saturating_duration_since(self.due);
        if behind > self.rules.period {
            let periods = behind.as_nanos() / self.rules.period.as_nanos().max(1);
            let skipped = self
                .rules
                .period
                .saturating_mul(u32::try_from(periods).unwrap_or(u32::MAX));
            self.due = later(self.due, skipped);
        }
        let after = self.due.saturating_duration_since(now);
        self.due = later(self.due, self.rules.period);
        Some(Next {
            ttl: self.rules.ttl,
            after,
            payload_size: None,
            last: false,
        })
    }

    fn sent(&mut self, _ttl: u8) {}

    fn failed(&mut self, _ttl: u8, error: Error) {
        if self.removed() {
            return;
        }
        self.shared.push(WatchEvent::Error {
            target: self.target.name.clone(),
            address: Some(self.address),
            error,
        });
        self.lost(clock::now());
    }

    fn settle(&mut self, _ttl: u8, sent_at: Instant, outcome: Result<IcmpReply>) {
        if self.removed() {
            return;
        }
        let target = self.target.name.clone();
        match outcome.and_then(|reply| reply.raise_for_status().map(|()| reply)) {
            Ok(reply) => {
                let rtt = reply.time().saturating_duration_since(sent_at);
                let age = clock::now().saturating_duration_since(reply.time());
                self.shared.push(WatchEvent::Reply {
                    target,
                    address: self.address,
                    sequence: reply.sequence(),
                    rtt,
                    ttl: reply.ttl(),
                    traffic_class: reply.traffic_class(),
                    bytes: reply.bytes_received(),
                    at: SystemTime::now()
                        .checked_sub(age)
                        .unwrap_or_else(SystemTime::now),
                });
                self.shared
                    .record(&self.target, &self.rules, sent_at, Some(rtt));
            }
            Err(Error::TimeoutExceeded { .. }) => {
                self.shared.push(WatchEvent::Timeout {
                    target,
                    address: self.address,
                });
                self.lost(sent_at);
            }
            Err(error) => {
                self.shared.push(WatchEvent::Error {
                    target,
                    address: Some(self.address),
                    error,
                });
                self.lost(sent_at);
            }
        }
    }

    fn duplicate(&mut self, _ttl: u8, reply: &IcmpReply) {
        if self.removed() {
            return;
        }
        self.shared.push(WatchEvent::Duplicate {
            target: self.target.name.clone(),
            address: self.address,
            sequence: reply.sequence(),
        });
        if let Some(state) = self
            .shared
            .targets()
            .get_mut(&self.target.name)
            .filter(|state| state.generation == self.target.generation)
        {
            state.window.duplicate(clock::now());
        }
    }

    fn finish(self, _address: IpAddr, _scope_id: u32) {}
}
