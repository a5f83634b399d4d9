//! The probes of a continuous trace: rounds of every distance at once (once per flow),
//! `interval` apart, each probe's fate an event and a figure of its distance, each round
//! handed out once all its probes settled. Rounds may overlap (a silent distance waits
//! for its timeout while the next round leaves), at most [`MAX_OPEN_ROUNDS`] at once.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::event::{RouteEvent, RouteRound};
use super::options::RouteWatchOptions;
use super::stats::HopStats;
use crate::clock::{later, millis};
use crate::error::{Error, Result};
use crate::packet::{Kind, MplsLabel};
use crate::scheduler::{Events, Job, Mark, Next, Now};
use crate::socket::reply::IcmpReply;
use crate::trace::Flows;

/// Rounds in flight at most: the next waits for the oldest to settle (with a timeout
/// longer than four intervals, rounds come one timeout apart).
pub(crate) const MAX_OPEN_ROUNDS: usize = 4;

/// A round whose probes have not all settled.
#[derive(Debug)]
struct Open {
    round: u64,
    /// Its last distance: fixed when its first probe leaves (a round is asked for a whole
    /// interval before it is due, when the round before may not have found the end yet).
    horizon: Option<u8>,
    expected: usize,
    settled: usize,
    /// Where the path ended in this round, if it did.
    reached: Option<u8>,
    /// What its probes came to, applied to the figures once the round is handed out:
    /// then the answers past where the path ended (the host answering probes that had
    /// TTL to spare) are left out, as mtr leaves them out.
    outcomes: Vec<Outcome>,
}

/// One probe's fate: its distance, its flow, and who answered in how long (with which
/// labels), if anyone.
type Outcome = (u8, u16, Option<(IpAddr, f64, Vec<MplsLabel>)>);

/// The job of a continuous trace.
#[derive(Debug)]
pub(crate) struct RouteJob {
    first: u8,
    max: u8,
    interval: Duration,
    rounds: Option<u64>,
    /// The flows followed.
    flows: Flows,
    /// By distance, from `first`.
    hops: Vec<HopStats>,
    /// The last distance probed by the rounds that start now.
    horizon: u8,
    open: VecDeque<Open>,
    /// The number of the next round to start.
    next_round: u64,
    /// The distance (wider than a TTL, to step past 255) and flow of the next probe of the
    /// round being sent.
    cursor: Option<(u16, u16)>,
    /// When round 0 left (moved on when the trace fell behind).
    start: Option<Instant>,
}

impl RouteJob {
    /// The rounds `options` describe; flows get sums of their own, different from one
    /// trace to the next.
    pub(crate) fn new(options: &RouteWatchOptions) -> RouteJob {
        let (first, max) = (options.first_hop, options.max_hops.max(options.first_hop));
        RouteJob {
            first,
            max,
            interval: options.probe.interval,
            rounds: options.rounds,
            flows: Flows::new(options.flow_stable, options.flows, rand::random()),
            hops: (first..=max).map(HopStats::new).collect(),
            horizon: max,
            open: VecDeque::new(),
            next_round: 0,
            cursor: None,
            start: None,
        }
    }

    fn hop(&mut self, distance: u8) -> Option<&mut HopStats> {
        self.hops
            .get_mut(usize::from(distance.checked_sub(self.first)?))
    }

    /// Starts the next round, if its turn has come in number: how long until it is due.
    fn start_round(&mut self, now: Instant) -> Option<Duration> {
        if self.rounds.is_some_and(|rounds| self.next_round >= rounds)
            || self.open.len() >= MAX_OPEN_ROUNDS
        {
            return None;
        }
        let start = *self.start.get_or_insert(now);
        let offset = self
            .interval
            .checked_mul(u32::try_from(self.next_round).unwrap_or(u32::MAX))
            .unwrap_or(Duration::MAX);
        let mut due = later(start, offset);
        // Behind (rounds waited for room, or the process was busy): on from now, without
        // a burst of rounds to catch up.
        if now.saturating_duration_since(due) > self.interval {
            self.start = now.checked_sub(offset);
            due = now;
        }
        self.open.push_back(Open {
            round: self.next_round,
            horizon: None,
            expected: usize::MAX,
            settled: 0,
            reached: None,
            outcomes: Vec::new(),
        });
        self.next_round += 1;
        Some(due.saturating_duration_since(now))
    }

    /// The round being sent fixes its last distance when its first probe leaves (or
    /// fails to): where the path ended in the last round handed out.
    fn fix_horizon(&mut self) {
        let (horizon, first, flows) = (self.horizon, self.first, self.flows.count());
        if let Some(open) = self.open.back_mut()
            && open.horizon.is_none()
        {
            open.horizon = Some(horizon);
            open.expected = usize::from(horizon - first + 1) * usize::from(flows);
        }
    }

    /// One probe of `round` at `distance` and `flow` settled, answered by `answer`.
    fn settled(
        &mut self,
        probe: Mark,
        answer: Option<(IpAddr, f64, Kind, Vec<MplsLabel>)>,
        events: &mut Events<RouteEvent>,
    ) {
        let (distance, flow, round) = (probe.ttl, self.flows.of(probe), u64::from(probe.tag));
        let round = self
            .open
            .iter()
            .map(|open| open.round)
            .find(|open| open & u64::from(u32::MAX) == round)
            .unwrap_or(round);
        let open = self.open.iter_mut().find(|open| open.round == round);
        let event = match answer {
            Some((source, rtt, kind, mpls)) => {
                let reached = matches!(kind, Kind::EchoReply | Kind::DestinationUnreachable);
                if let Some(open) = open {
                    if reached {
                        open.reached = Some(open.reached.map_or(distance, |d| d.min(distance)));
                    }
                    open.settled += 1;
                    open.outcomes
                        .push((distance, flow, Some((source, rtt, mpls.clone()))));
                }
                RouteEvent::Reply {
                    round,
                    distance,
                    flow,
                    source,
                    rtt,
                    reached,
                    mpls,
                }
            }
            None => {
                if let Some(open) = open {
                    open.settled += 1;
                    open.outcomes.push((distance, flow, None));
                }
                RouteEvent::Lost {
                    round,
                    distance,
                    flow,
                }
            }
        };
        events.push_back(event);
        // Rounds are handed out in order, each once all its probes settled.
        while let Some(open) = self.open.front()
            && open.settled >= open.expected
            && let Some(open) = self.open.pop_front()
        {
            let horizon = open.horizon.unwrap_or(self.max);
            let last = open.reached.unwrap_or(horizon).min(horizon);
            self.horizon = open.reached.unwrap_or(self.max);
            for (distance, flow, answer) in open.outcomes {
                if distance > last {
                    continue;
                }
                let Some(hop) = self.hop(distance) else {
                    continue;
                };
                match answer {
                    Some((source, rtt, mpls)) => hop.answered(source, flow, rtt, &mpls),
                    None => hop.lost(),
                }
            }
            let hops = self
                .hops
                .iter()
                .filter(|hop| hop.distance() <= last)
                .cloned()
                .collect();
            events.push_back(RouteEvent::Round(RouteRound {
                round: open.round,
                reached: open.reached,
                hops,
            }));
        }
    }
}

impl Job for RouteJob {
    type Output = ();
    type Event = RouteEvent;

    fn next(&mut self, _in_flight: usize, now: Now) -> Option<Next> {
        let (after, distance, flow) = loop {
            match self.cursor {
                // Past the round's last distance (known once its first probe left).
                Some((distance, _))
                    if self
                        .open
                        .back()
                        .and_then(|open| open.horizon)
                        .is_some_and(|horizon| distance > u16::from(horizon)) =>
                {
                    self.cursor = None;
                }
                Some((distance, flow)) => match u8::try_from(distance) {
                    Ok(distance) => break (Duration::ZERO, distance, flow),
                    Err(_) => self.cursor = None,
                },
                None => {
                    let after = self.start_round(now.instant)?;
                    break (after, self.first, 0);
                }
            }
        };
        let round = self.next_round - 1;
        self.cursor = Some(if flow + 1 < self.flows.count() {
            (u16::from(distance), flow + 1)
        } else {
            (u16::from(distance) + 1, 0)
        });
        Some(Next {
            ttl: distance,
            flow: self.flows.sum(flow),
            // Rounds beyond 2^32 share tags with rounds long settled.
            tag: u32::try_from(round & u64::from(u32::MAX)).unwrap_or(0),
            after,
            payload_size: None,
            last: false,
        })
    }

    fn sent(&mut self, _probe: Mark, _now: Now) {
        self.fix_horizon();
    }

    fn failed(&mut self, probe: Mark, _error: Error, _now: Now, events: &mut Events<RouteEvent>) {
        self.fix_horizon();
        self.settled(probe, None, events);
    }

    /// An answer, or a loss: a timeout, or the engine's failure (its socket failed: the
    /// scheduler opens another before the next probe, or ends the trace with why).
    fn settle(
        &mut self,
        probe: Mark,
        sent_at: Instant,
        outcome: Result<IcmpReply>,
        _now: Now,
        events: &mut Events<RouteEvent>,
    ) {
        let answer = match outcome {
            Ok(reply) => Some((
                reply.source(),
                millis(reply.time().saturating_duration_since(sent_at)),
                reply.kind(),
                reply.mpls_labels().to_vec(),
            )),
            Err(_) => None,
        };
        self.settled(probe, answer, events);
    }

    fn finish(self, _address: IpAddr, _scope_id: u32) {}
}
