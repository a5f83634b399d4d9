//! The probes of a traceroute and the hops they find: echo requests of growing TTL, one
//! hop after the other or every hop at once.

use std::convert::Infallible;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::TracerouteOptions;
use crate::clock::millis;
use crate::error::{Error, Result};
use crate::hop::Hop;
use crate::host::Host;
use crate::packet::{Kind, MplsLabel};
use crate::scheduler::{Events, Job, Next, Now, Pause};
use crate::socket::address::address_text;
use crate::socket::reply::IcmpReply;

/// What came back for one probe.
#[derive(Debug, Clone)]
struct Answer {
    /// Who answered: a router (Time Exceeded, Destination Unreachable) or the host.
    source: IpAddr,
    /// The interface a link-local source answered on; 0 for other sources.
    scope_id: u32,
    /// Round-trip time in milliseconds.
    rtt: f64,
    kind: Kind,
    /// The error the answer stands for, when it ends the trace or is unexpected.
    error: Option<Error>,
    /// The MPLS label stack the router appended (RFC 4950).
    mpls: Box<[MplsLabel]>,
}

impl Answer {
    fn from_reply(reply: &IcmpReply, sent_at: Instant) -> Answer {
        let error = match reply.kind() {
            Kind::EchoReply | Kind::TimeExceeded => None,
            _ => reply.raise_for_status().err(),
        };
        Answer {
            source: reply.source(),
            scope_id: reply.scope_id(),
            rtt: millis(reply.time().saturating_duration_since(sent_at)),
            kind: reply.kind(),
            error,
            mpls: reply.mpls_labels().into(),
        }
    }

    /// True when the trace ends with this answer: the host itself, or a router saying it
    /// cannot be reached.
    fn ends_trace(&self) -> bool {
        matches!(self.kind, Kind::EchoReply | Kind::DestinationUnreachable)
    }
}

/// The probes of one distance: how many were sent, and the answers that came back.
#[derive(Debug, Default)]
struct Distance {
    sent: usize,
    answers: Vec<Answer>,
}

impl Distance {
    /// The hops at `distance`: one per address that answered, in the order of their first
    /// answer, so that several routers answering at one distance (ECMP) each appear
    /// rather than being merged. Each counts every probe sent at that distance.
    fn hops(&self, distance: u8) -> Vec<Hop> {
        let mut sources: Vec<(IpAddr, u32)> = Vec::new();
        for answer in &self.answers {
            if !sources.contains(&(answer.source, answer.scope_id)) {
                sources.push((answer.source, answer.scope_id));
            }
        }
        sources
            .into_iter()
            .map(|(source, scope_id)| {
                let answers = self
                    .answers
                    .iter()
                    .filter(|answer| (answer.source, answer.scope_id) == (source, scope_id));
                let rtts = answers.clone().map(|answer| answer.rtt).collect();
                let error = answers
                    .clone()
                    .filter_map(|answer| answer.error.clone())
                    .next_back();
                let mpls = answers
                    .filter(|answer| !answer.mpls.is_empty())
                    .map(|answer| answer.mpls.to_vec())
                    .next_back()
                    .unwrap_or_default();
                let address = address_text(source, scope_id);
                Hop::new(
                    Host::new(address, self.sent, rtts).with_error(error),
                    distance,
                )
                .with_mpls_labels(mpls)
            })
            .collect()
    }

    fn ends_trace(&self) -> bool {
        self.answers.iter().any(Answer::ends_trace)
    }
}

/// The probes of a traceroute: `count` per distance from `first` to `last`, one distance
/// after the other (as the Python library does, but with `fast` really moving on once a
/// distance answered), or in `parallel`: `count` rounds of every distance at once,
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
    /// By distance, from `first`.
    distances: Vec<Distance>,
    /// The distance of the next probe.
    ttl: u8,
    /// Probes asked for at `ttl` (one after the other), or rounds done (in parallel).
    asked: usize,
    done: bool,
    /// The first probe that could not be sent: the answer when none could.
    failed_send: Option<Error>,
    /// An engine failure: the trace's error.
    fatal: Option<Error>,
}

impl TraceJob {
    /// The probes `options` describe.
    pub(crate) fn new(options: &TracerouteOptions) -> TraceJob {
        let (first, last) = (options.first_hop, options.max_hops.max(options.first_hop));
        TraceJob {
            first,
            last,
            count: options.probe.count,
            pause: Pause::new(options.probe.interval),
            fast: options.fast,
            parallel: options.parallel,
            distances: (first..=last).map(|_| Distance::default()).collect(),
            ttl: first,
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

    /// The next probe of a parallel trace: every distance of a round at once, rounds
    /// `interval` apart.
    fn next_in_parallel(&mut self) -> Option<Next> {
        if self.asked >= self.count {
            self.done = true;
            return None;
        }
        let ttl = self.ttl;
        // A round's first probe follows the pause; the others leave with it.
        let after = if ttl == self.first {
            self.pause.next()
        } else {
            Duration::ZERO
        };
        if ttl == self.last {
            self.ttl = self.first;
            self.asked += 1;
        } else {
            self.ttl += 1;
        }
        Some(Next {
            ttl,
            after,
            payload_size: None,
            last: false,
        })
    }

    /// The next probe of a trace one distance after the other, once the last one is
    /// settled.
    fn next_in_turn(&mut self) -> Option<Next> {
        loop {
            let (asked, count, fast) = (self.asked, self.count, self.fast);
            let (ttl, last) = (self.ttl, self.last);
            let distance = self.distance(ttl)?;
            let answered = !distance.answers.is_empty();
            // This distance is done once all its probes were asked for, or (fast) once
            // one was answered.
            let done_here = asked >= count || (fast && answered);
            if !done_here {
                break;
            }
            if distance.ends_trace() || ttl == last {
                self.done = true;
                return None;
            }
            self.ttl += 1;
            self.asked = 0;
        }
        self.asked += 1;
        Some(Next {
            ttl: self.ttl,
            after: self.pause.next(),
            payload_size: None,
            last: false,
        })
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

    fn sent(&mut self, ttl: u8, _now: Now) {
        if let Some(distance) = self.distance(ttl) {
            distance.sent += 1;
        }
    }

    /// A probe whose send failed (a passing error) is not counted and the trace goes on.
    fn failed(&mut self, _ttl: u8, error: Error, _now: Now, _events: &mut Events<Infallible>) {
        self.failed_send.get_or_insert(error);
    }

    fn settle(
        &mut self,
        ttl: u8,
        sent_at: Instant,
        outcome: Result<IcmpReply>,
        _now: Now,
        _events: &mut Events<Infallible>,
    ) {
        match outcome {
            Ok(reply) => {
                if let Some(distance) = self.distance(ttl) {
                    distance.answers.push(Answer::from_reply(&reply, sent_at));
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
        let mut hops = Vec::new();
        for (ttl, distance) in (self.first..=self.last).zip(&self.distances) {
            hops.extend(distance.hops(ttl));
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

    fn answer(source: &str, rtt: f64, kind: Kind) -> Answer {
        Answer {
            source: source.parse().unwrap(),
            scope_id: 0,
            rtt,
            kind,
            error: None,
            mpls: Box::default(),
        }
    }

    #[test]
    fn a_hop_carries_the_labels_of_its_last_answer_with_some() {
        let label = |value| MplsLabel {
            label: value,
            traffic_class: 0,
            bottom_of_stack: true,
            ttl: 1,
        };
        let with = |value| Answer {
            mpls: vec![label(value)].into(),
            ..answer("192.0.2.1", 1.0, Kind::TimeExceeded)
        };
        let distance = Distance {
            sent: 4,
            answers: vec![
                with(100),
                with(200),
                answer("192.0.2.1", 1.0, Kind::TimeExceeded),
                answer("192.0.2.9", 1.0, Kind::TimeExceeded),
            ],
        };
        let hops = distance.hops(1);
        assert_eq!(hops[0].mpls_labels(), [label(200)]);
        assert!(hops[1].mpls_labels().is_empty());
    }

    #[test]
    fn routers_answering_at_one_distance_are_kept_apart() {
        let distance = Distance {
            sent: 3,
            answers: vec![
                answer("192.0.2.2", 1.0, Kind::TimeExceeded),
                answer("192.0.2.6", 2.0, Kind::TimeExceeded),
                answer("192.0.2.2", 3.0, Kind::TimeExceeded),
            ],
        };
        let hops = distance.hops(4);
        assert_eq!(hops.len(), 2);
        assert_eq!(
            (hops[0].address(), hops[0].rtts()),
            ("192.0.2.2", &[1.0, 3.0][..])
        );
        assert_eq!(
            (hops[1].address(), hops[1].rtts()),
            ("192.0.2.6", &[2.0][..])
        );
        assert!(
            hops.iter()
                .all(|hop| hop.distance() == 4 && hop.packets_sent() == 3)
        );
        assert!(!distance.ends_trace());
    }

    #[test]
    fn silent_distances_have_no_hop_and_ends_are_found() {
        assert!(
            Distance {
                sent: 2,
                answers: vec![]
            }
            .hops(3)
            .is_empty()
        );
        let reached = Distance {
            sent: 2,
            answers: vec![answer("192.0.2.9", 1.0, Kind::EchoReply)],
        };
        assert!(reached.ends_trace());
        let mut unreachable = answer("192.0.2.5", 1.0, Kind::DestinationUnreachable);
        unreachable.error = Some(Error::DestinationUnreachable {
            source: unreachable.source,
            code: 1,
            family: Family::V4,
        });
        let blocked = Distance {
            sent: 1,
            answers: vec![unreachable],
        };
        assert!(blocked.ends_trace());
        let hops = blocked.hops(2);
        assert!(matches!(
            hops[0].error(),
            Some(Error::DestinationUnreachable { code: 1, .. })
        ));
        assert!(hops[0].is_alive(), "the router answered");
    }

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
    fn a_trace_in_turn_waits_for_each_probe_and_moves_on_when_fast() {
        let options = TracerouteOptions::default()
            .max_hops(3)
            .count(2)
            .fast(true)
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
