//! The probes of a traceroute and the hops they find: echo requests of growing TTL, one
//! hop after the other or every hop at once, each probe once per flow.

use std::convert::Infallible;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::TracerouteOptions;
use super::distance::{Answer, Distance};
use super::flows::Flows;
use crate::error::{Error, Result};
use crate::hop::Hop;
use crate::scheduler::{Events, Job, Mark, Next, Now, Pause};
use crate::socket::reply::IcmpReply;

/// The probes of a traceroute: `count` per distance and flow from `first` to `last`, one
/// distance after the other (as the Python library does, but with `fast` really moving on
/// once a distance answered), or in `parallel`: `count` rounds of every distance at once,
/// `interval` apart. The trace is cut at the first distance where it ends.
#[derive(Debug)]
pub(crate) struct TraceJob {
    first: u8,
    last: u8,
    count: usize,
    /// Between two probes (one distance after the other), or two rounds (in parallel).
    pause: Pause,
    fast: bool,
    parallel: bool,
    /// The flows followed.
    flows: Flows,
    /// By distance, from `first`.
    distances: Vec<Distance>,
    /// The distance of the next probe.
    ttl: u8,
    /// The flow of the next probe.
    flow: u16,
    /// Probes asked for at `ttl` (one after the other), or rounds done (in parallel).
    asked: usize,
    done: bool,
    /// The first probe that could not be sent: the answer when none could.
    failed_send: Option<Error>,
    /// An engine failure: the trace's error.
    fatal: Option<Error>,
}

impl TraceJob {
    /// The probes `options` describe; flows get sums of their own, different from one
    /// trace to the next.
    pub(crate) fn new(options: &TracerouteOptions) -> TraceJob {
        TraceJob::with_seed(options, rand::random())
    }

    /// As [`TraceJob::new`], the flows' sums drawn from `seed`.
    pub(crate) fn with_seed(options: &TracerouteOptions, seed: u16) -> TraceJob {
        let (first, last) = (options.first_hop, options.max_hops.max(options.first_hop));
        let flows = Flows::new(options.flow_stable, options.flows, seed);
        TraceJob {
            first,
            last,
            count: options.probe.count,
            pause: Pause::new(options.probe.interval),
            fast: options.fast,
            parallel: options.parallel,
            distances: (first..=last)
                .map(|_| Distance::new(flows.count()))
                .collect(),
            flows,
            ttl: first,
            flow: 0,
            asked: 0,
            done: false,
            failed_send: None,
            fatal: None,
        }
    }

    fn distance(&mut self, ttl: u8) -> Option<&mut Distance> {
        self.distances
            .get_mut(usize::from(ttl.checked_sub(self.first)?))
    }

    /// The probe at `ttl` for the current flow, `after` this long; moves to the next flow.
    fn probe(&mut self, ttl: u8, after: Duration) -> Next {
        let flow = self.flows.sum(self.flow);
        self.flow = (self.flow + 1) % self.flows.count();
        Next {
            ttl,
            flow,
            tag: 0,
            after,
            payload_size: None,
            last: false,
        }
    }

    /// The next probe of a parallel trace: every distance of a round at once, once per
    /// flow, rounds `interval` apart.
    fn next_in_parallel(&mut self) -> Option<Next> {
        if self.asked >= self.count {
            self.done = true;
            return None;
        }
        let ttl = self.ttl;
        // A round's first probe follows the pause; the others leave with it.
        let after = if ttl == self.first && self.flow == 0 {
            self.pause.next()
        } else {
            Duration::ZERO
        };
        let next = self.probe(ttl, after);
        if self.flow == 0 {
            if ttl == self.last {
                self.ttl = self.first;
                self.asked += 1;
            } else {
                self.ttl += 1;
            }
        }
        Some(next)
    }

    /// The next probe of a trace one distance after the other, once the last one is
    /// settled.
    fn next_in_turn(&mut self) -> Option<Next> {
        let per_distance = self.count.saturating_mul(usize::from(self.flows.count()));
        loop {
            let (asked, fast) = (self.asked, self.fast);
            let (ttl, last) = (self.ttl, self.last);
            let distance = self.distance(ttl)?;
            // This distance is done once all its probes were asked for, or (fast) once
            // every flow was answered.
            let done_here = asked >= per_distance || (fast && distance.every_flow_answered());
            if !done_here {
                break;
            }
            if distance.ends_trace() || ttl == last {
                self.done = true;
                return None;
            }
            self.ttl += 1;
            self.flow = 0;
            self.asked = 0;
        }
        self.asked += 1;
        let after = self.pause.next();
        Some(self.probe(self.ttl, after))
    }
}

impl Job for TraceJob {
    type Output = Result<Vec<Hop>>;
    type Event = Infallible;

    fn next(&mut self, in_flight: usize, _now: Now) -> Option<Next> {
        if self.done || self.fatal.is_some() {
            return None;
        }
        if self.parallel {
            self.next_in_parallel()
        } else if in_flight > 0 {
            None
        } else {
            self.next_in_turn()
        }
    }

    fn sent(&mut self, probe: Mark, _now: Now) {
        let flow = usize::from(self.flows.of(probe));
        if let Some(sent) = self
            .distance(probe.ttl)
            .and_then(|distance| distance.sent.get_mut(flow))
        {
            *sent += 1;
        }
    }

    /// A probe whose send failed (a passing error) is not counted and the trace goes on.
    fn failed(&mut self, _probe: Mark, error: Error, _now: Now, _events: &mut Events<Infallible>) {
        self.failed_send.get_or_insert(error);
    }

    fn settle(
        &mut self,
        probe: Mark,
        sent_at: Instant,
        outcome: Result<IcmpReply>,
        _now: Now,
        _events: &mut Events<Infallible>,
    ) {
        match outcome {
            Ok(reply) => {
                let flow = self.flows.of(probe);
                if let Some(distance) = self.distance(probe.ttl) {
                    distance
                        .answers
                        .push(Answer::from_reply(&reply, flow, sent_at));
                }
            }
            Err(Error::TimeoutExceeded { .. }) => {}
            Err(error) => {
                self.fatal.get_or_insert(error);
            }
        }
    }

    /// The hops by distance, cut where the trace ends; the send error when no probe could
    /// be sent at all.
    fn finish(self, _address: IpAddr, _scope_id: u32) -> Result<Vec<Hop>> {
        if let Some(error) = self.fatal {
            return Err(error);
        }
        let flows = self.flows.stable();
        let mut hops = Vec::new();
        for (ttl, distance) in (self.first..=self.last).zip(&self.distances) {
            hops.extend(distance.hops(ttl, flows));
            if distance.ends_trace() {
                break;
            }
        }
        match self.failed_send {
            Some(error) if hops.is_empty() => Err(error),
            _ => Ok(hops),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::Family;
    use crate::scheduler::Told;

    fn asked(job: &mut TraceJob, in_flight: usize) -> Vec<(u8, u64)> {
        std::iter::from_fn(|| job.next_now(in_flight))
            .map(|next| (next.ttl, next.after.as_millis() as u64))
            .collect()
    }

    #[test]
    fn a_parallel_trace_asks_for_every_distance_per_round_rounds_apart() {
        let options = TracerouteOptions::default()
            .first_hop(2)
            .max_hops(4)
            .count(2)
            .interval(Duration::from_millis(50))
            .parallel(true);
        let mut job = TraceJob::new(&options);
        assert_eq!(
            asked(&mut job, 3),
            [(2, 0), (3, 0), (4, 0), (2, 50), (3, 0), (4, 0)]
        );
    }

    #[test]
    fn each_flow_keeps_its_sum_and_every_distance_is_probed_once_per_flow() {
        let options = TracerouteOptions::default()
            .max_hops(2)
            .count(2)
            .flows(3)
            .interval(Duration::from_millis(50))
            .parallel(true);
        let mut job = TraceJob::with_seed(&options, 0xfffd);
        let probes: Vec<(u8, Option<u16>, u64)> = std::iter::from_fn(|| job.next_now(0))
            .map(|next| (next.ttl, next.flow, next.after.as_millis() as u64))
            .collect();
        let flows = Flows::new(true, 3, 0xfffd);
        let sums: Vec<u16> = (0..3).filter_map(|flow| flows.sum(flow)).collect();
        assert_eq!(sums.len(), 3);
        assert!(sums.iter().all(|sum| (1..=0xfffe).contains(sum)));
        let mut expected = Vec::new();
        for round in 0..2 {
            for ttl in 1..=2 {
                for (flow, sum) in sums.iter().enumerate() {
                    let after = if round == 1 && ttl == 1 && flow == 0 {
                        50
                    } else {
                        0
                    };
                    expected.push((ttl, Some(*sum), after));
                }
            }
        }
        assert_eq!(probes, expected);
        // Without flow-stable probes: no sum, one probe per distance per round.
        let mut varying = TraceJob::new(&options.clone().flows(1).flow_stable(false));
        assert!(std::iter::from_fn(|| varying.next_now(0)).all(|next| next.flow.is_none()));
    }

    #[test]
    fn an_answer_is_counted_for_its_flow() {
        let options = TracerouteOptions::default().max_hops(1).count(1).flows(2);
        let mut job = TraceJob::with_seed(&options, 7);
        let router: IpAddr = "2001:db8::1".parse().unwrap();
        // The probe `next` asks for leaves and the router answers it.
        let answered = |job: &mut TraceJob, next: &Next| {
            let mark = Mark::of(next);
            job.sent(mark, Now::test());
            let reply = Ok(time_exceeded(router));
            job.settle(mark, Instant::now(), reply, Now::test(), &mut Events::new());
        };
        let first = job.next_now(0).unwrap();
        answered(&mut job, &first);
        let second = job.next_now(0).unwrap();
        assert_ne!(first.flow, second.flow);
        answered(&mut job, &second);
        assert_eq!(job.next_now(0), None);
        let hops = job.finish(router, 0).unwrap();
        assert_eq!(hops[0].flows(), [0, 1]);
        assert_eq!(hops[0].packets_sent(), 2);
    }

    #[test]
    fn a_trace_in_turn_waits_for_each_probe_and_moves_on_when_fast() {
        let options = TracerouteOptions::default()
            .max_hops(3)
            .count(2)
            .fast(true)
            .flow_stable(false)
            .interval(Duration::from_millis(50));
        let mut job = TraceJob::new(&options);
        assert_eq!(job.next_now(0).map(|next| next.ttl), Some(1));
        assert_eq!(job.next_now(1), None, "one probe at a time");
        job.sent_now(1);
        // Distance 1 answered: fast moves to distance 2 at once.
        let router: IpAddr = "2001:db8::1".parse().unwrap();
        job.settled_now(1, Instant::now(), Ok(time_exceeded(router)));
        assert_eq!(
            job.next_now(0),
            Some(Next {
                ttl: 2,
                flow: None,
                tag: 0,
                after: Duration::from_millis(50),
                payload_size: None,
                last: false,
            })
        );
        job.sent_now(2);
        job.timed_out(2);
        assert_eq!(
            job.next_now(0).map(|next| next.ttl),
            Some(2),
            "second probe"
        );
        job.failed_now(2, Error::SocketBroadcast);
        assert_eq!(job.next_now(0).map(|next| next.ttl), Some(3));
        job.sent_now(3);
        job.timed_out(3);
        assert_eq!(job.next_now(0).map(|next| next.ttl), Some(3));
        assert_eq!(job.next_now(0), None, "the last distance is done");
        let hops = job.finish(router, 0).unwrap();
        assert_eq!(hops.len(), 1);
        assert_eq!((hops[0].distance(), hops[0].packets_sent()), (1, 1));
    }

    fn time_exceeded(router: IpAddr) -> IcmpReply {
        IcmpReply {
            source: router,
            scope_id: 0,
            family: Family::V6,
            id: 1,
            sequence: 1,
            icmp_type: crate::packet::v6::TIME_EXCEEDED,
            code: 0,
            bytes_received: 64,
            time: Instant::now(),
            ttl: None,
            traffic_class: None,
            mtu: None,
            mpls: Box::default(),
        }
    }
}
