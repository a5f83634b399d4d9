//! The echo requests to one host and its statistics.

use std::convert::Infallible;
use std::net::IpAddr;
use std::time::Instant;

use crate::clock::millis;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::options::ProbeOptions;
use crate::scheduler::{Events, Job, Mark, Next, Now, Pause};
use crate::socket::address::address_text;
use crate::socket::reply::IcmpReply;

/// `count` echo requests to one host, one after the other: each waits for its reply or
/// its timeout, then `interval`, then the next. Never fails: errors land in the host.
#[derive(Debug)]
pub(crate) struct EchoJob {
    /// Requests still to send.
    left: usize,
    ttl: u8,
    pause: Pause,
    sent: usize,
    /// Requests sent whose outcome is known.
    settled: usize,
    rtts: Vec<f64>,
    duplicates: usize,
    error: Option<Error>,
}

impl EchoJob {
    /// The requests `options` describe.
    pub(crate) fn new(options: &ProbeOptions) -> EchoJob {
        EchoJob {
            left: options.count,
            ttl: options.ttl,
            pause: Pause::new(options.interval),
            sent: 0,
            settled: 0,
            rtts: Vec::new(),
            duplicates: 0,
            error: None,
        }
    }
}

impl Job for EchoJob {
    type Output = Host;
    type Event = Infallible;

    fn next(&mut self, in_flight: usize, _now: Now) -> Option<Next> {
        if in_flight > 0 || self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(Next {
            ttl: self.ttl,
            flow: None,
            tag: 0,
            after: self.pause.next(),
            payload_size: None,
            last: self.left == 0,
        })
    }

    fn sent(&mut self, _probe: Mark, _now: Now) {
        self.sent += 1;
    }

    /// A request that could not be sent counts as lost, and its error is the host's.
    fn failed(&mut self, _probe: Mark, error: Error, _now: Now, _events: &mut Events<Infallible>) {
        self.error = Some(error);
    }

    /// A reply counts with its round-trip time; an ICMP error or an engine failure is
    /// kept as the host's error; a timeout only counts as lost.
    fn settle(
        &mut self,
        _probe: Mark,
        sent_at: Instant,
        outcome: Result<IcmpReply>,
        _now: Now,
        _events: &mut Events<Infallible>,
    ) {
        self.settled += 1;
        match outcome {
            Ok(reply) => match reply.raise_for_status() {
                Ok(()) => self
                    .rtts
                    .push(millis(reply.time().saturating_duration_since(sent_at))),
                Err(icmp_error) => self.error = Some(icmp_error),
            },
            Err(Error::TimeoutExceeded { .. }) => {}
            Err(other) => self.error = Some(other),
        }
    }

    fn duplicate(
        &mut self,
        _probe: Mark,
        _reply: &IcmpReply,
        _now: Now,
        _events: &mut Events<Infallible>,
    ) {
        self.duplicates += 1;
    }

    /// Every request asked for has its outcome, and none was a reply.
    fn unanswered(&self) -> bool {
        self.left == 0 && self.settled == self.sent && self.rtts.is_empty()
    }

    fn finish(self, address: IpAddr, scope_id: u32) -> Host {
        Host::new(address_text(address, scope_id), self.sent, self.rtts)
            .with_duplicates(self.duplicates)
            .with_error(self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::Told;
    use std::time::Duration;

    #[test]
    fn requests_go_one_after_the_other_with_the_interval_between() {
        let options = ProbeOptions::default()
            .count(3)
            .ttl(9)
            .interval(Duration::from_millis(250));
        let mut job = EchoJob::new(&options);
        let first = job.next_now(0).unwrap();
        assert_eq!((first.ttl, first.after), (9, Duration::ZERO));
        job.sent_now(9);
        assert_eq!(job.next_now(1), None, "one request in flight at a time");
        job.timed_out(9);
        assert_eq!(job.next_now(0).unwrap().after, Duration::from_millis(250));
        job.failed_now(9, Error::SocketBroadcast);
        assert_eq!(job.next_now(0).unwrap().after, Duration::from_millis(250));
        job.sent_now(9);
        assert_eq!(job.next_now(0), None, "all three asked for");
        assert!(!job.unanswered(), "the last request is in flight");
        job.timed_out(9);
        assert!(job.unanswered(), "every request is settled, none answered");
        let host = job.finish("192.0.2.1".parse().unwrap(), 0);
        assert_eq!((host.packets_sent(), host.packets_received()), (2, 0));
        assert!(matches!(host.error(), Some(Error::SocketBroadcast)));
    }

    /// An answer from `source` of this ICMPv4 type and code, received now.
    fn answer(icmp_type: u8, code: u8) -> IcmpReply {
        IcmpReply {
            source: "192.0.2.1".parse().unwrap(),
            scope_id: 0,
            family: crate::family::Family::V4,
            id: 1,
            sequence: 1,
            icmp_type,
            code,
            bytes_received: 64,
            time: Instant::now(),
            ttl: Some(64),
            traffic_class: None,
            mtu: None,
            mpls: Box::default(),
        }
    }

    #[test]
    fn one_reply_among_the_requests_is_an_answer_an_icmp_error_is_not() {
        let options = ProbeOptions::default().count(2);
        for (outcomes, unanswered) in [
            ([(3, 1), (3, 1)], true),
            ([(3, 1), (0, 0)], false),
            ([(0, 0), (3, 1)], false),
        ] {
            let mut job = EchoJob::new(&options);
            for (icmp_type, code) in outcomes {
                assert!(!job.unanswered(), "requests are left to send");
                job.next_now(0).unwrap();
                job.sent_now(64);
                job.settled_now(64, Instant::now(), Ok(answer(icmp_type, code)));
            }
            assert_eq!(job.unanswered(), unanswered, "{outcomes:?}");
        }
    }
}
