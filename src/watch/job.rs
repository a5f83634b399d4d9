//! A watched target's endless probes: one every period at its place in the period, at
//! fixed send-to-send times whatever the answers, each outcome an event and a record in
//! the target's state.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use super::event::WatchEvent;
use super::options::Rules;
use super::target::{Tracked, first_due, next_due};
use crate::clock::{later, millis};
use crate::error::{Error, Result};
use crate::scheduler::{Events, Job, Mark, Next, Now};
use crate::socket::reply::IcmpReply;

/// The probes of one watched target at one address.
#[derive(Debug)]
pub(crate) struct WatchJob {
    target: Arc<Tracked>,
    address: IpAddr,
    rules: Arc<Rules>,
    /// Its address was looked up from its name: the job hands over to a new lookup after
    /// [`Rules::resolve_every`].
    looked_up: bool,
    /// When the next probe is due: at the target's place in the period, then one period
    /// after the one before. Known at the first [`Job::next`].
    due: Option<Instant>,
    /// When a job for a name hands over to a new lookup.
    until: Option<Instant>,
    /// A probe was lost: a watch that tries a name's next address moves on.
    lost: bool,
}

impl WatchJob {
    pub(crate) fn new(
        target: Arc<Tracked>,
        address: IpAddr,
        rules: Arc<Rules>,
        looked_up: bool,
    ) -> WatchJob {
        WatchJob {
            target,
            address,
            rules,
            looked_up,
            due: None,
            until: None,
            lost: false,
        }
    }

    fn name(&self) -> Arc<str> {
        Arc::clone(self.target.name())
    }

    /// A probe sent at `sent_at` was lost, as `event` says.
    fn lost(&mut self, sent_at: Instant, event: WatchEvent, events: &mut Events<WatchEvent>) {
        self.lost = true;
        events.push_back(event);
        self.target.record(&self.rules, sent_at, None, events);
    }
}

impl Job for WatchJob {
    type Output = ();
    type Event = WatchEvent;

    fn next(&mut self, _in_flight: usize, now: Now) -> Option<Next> {
        let now = now.instant;
        let due = match self.due {
            Some(due) => due,
            None => {
                if self.looked_up {
                    self.until = self.rules.resolve_every.map(|every| later(now, every));
                }
                // A target's first probe may take a place just passed; after a new lookup,
                // the place its last probe took is not taken again.
                if self.target.first_job() {
                    first_due(&self.rules, self.target.slot(), now)
                } else {
                    next_due(&self.rules, self.target.slot(), now)
                }
            }
        };
        if self.until.is_some_and(|until| due >= until) {
            return None;
        }
        // Behind (the process was busy, or suspended): the next place not yet passed,
        // without a burst.
        let due = if now.saturating_duration_since(due) > self.rules.period {
            next_due(&self.rules, self.target.slot(), now)
        } else {
            due
        };
        self.due = Some(later(due, self.rules.period));
        Some(Next {
            ttl: self.rules.ttl,
            flow: None,
            tag: 0,
            after: due.saturating_duration_since(now),
            payload_size: None,
            last: false,
        })
    }

    fn sent(&mut self, _probe: Mark, _now: Now) {}

    fn failed(&mut self, _probe: Mark, error: Error, now: Now, events: &mut Events<WatchEvent>) {
        let event = WatchEvent::Error {
            target: self.name(),
            address: Some(self.address),
            error,
        };
        self.lost(now.instant, event, events);
    }

    fn settle(
        &mut self,
        _probe: Mark,
        sent_at: Instant,
        outcome: Result<IcmpReply>,
        now: Now,
        events: &mut Events<WatchEvent>,
    ) {
        match outcome.and_then(|reply| reply.raise_for_status().map(|()| reply)) {
            Ok(reply) => {
                let rtt = millis(reply.time().saturating_duration_since(sent_at));
                events.push_back(WatchEvent::Reply {
                    target: self.name(),
                    address: self.address,
                    sequence: reply.sequence(),
                    rtt,
                    ttl: reply.ttl(),
                    traffic_class: reply.traffic_class(),
                    bytes: reply.bytes_received(),
                    at: now.wall_of(reply.time()),
                });
                self.target.record(&self.rules, sent_at, Some(rtt), events);
            }
            Err(Error::TimeoutExceeded { .. }) => {
                let event = WatchEvent::Timeout {
                    target: self.name(),
                    address: self.address,
                };
                self.lost(sent_at, event, events);
            }
            Err(error) => {
                let event = WatchEvent::Error {
                    target: self.name(),
                    address: Some(self.address),
                    error,
                };
                self.lost(sent_at, event, events);
            }
        }
    }

    fn duplicate(
        &mut self,
        _probe: Mark,
        reply: &IcmpReply,
        now: Now,
        events: &mut Events<WatchEvent>,
    ) {
        events.push_back(WatchEvent::Duplicate {
            target: self.name(),
            address: self.address,
            sequence: reply.sequence(),
        });
        self.target.duplicate(now.instant);
    }

    /// A probe was lost here: asked only when the watch tries a name's next address.
    fn unanswered(&self) -> bool {
        self.lost
    }

    fn finish(self, _address: IpAddr, _scope_id: u32) {}
}
