//! What the probes of one distance of a trace came to: the answers, by router and by
//! flow, and the hops they make.

use std::net::IpAddr;
use std::time::Instant;

use crate::clock::millis;
use crate::error::Error;
use crate::hop::Hop;
use crate::host::Host;
use crate::packet::{Kind, MplsLabel};
use crate::socket::address::address_text;
use crate::socket::reply::IcmpReply;

/// What came back for one probe.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    /// Who answered: a router (Time Exceeded, Destination Unreachable) or the host.
    pub source: IpAddr,
    /// The interface a link-local source answered on; 0 for other sources.
    pub scope_id: u32,
    /// The flow of the probe (0 for a trace of one flow).
    pub flow: u16,
    /// Round-trip time in milliseconds.
    pub rtt: f64,
    pub kind: Kind,
    /// The error the answer stands for, when it ends the trace or is unexpected.
    pub error: Option<Error>,
    /// The MPLS label stack the router appended (RFC 4950).
    pub mpls: Box<[MplsLabel]>,
}

impl Answer {
    pub(super) fn from_reply(reply: &IcmpReply, flow: u16, sent_at: Instant) -> Answer {
        let error = match reply.kind() {
            Kind::EchoReply | Kind::TimeExceeded => None,
            _ => reply.raise_for_status().err(),
        };
        Answer {
            source: reply.source(),
            scope_id: reply.scope_id(),
            flow,
            rtt: millis(reply.time().saturating_duration_since(sent_at)),
            kind: reply.kind(),
            error,
            mpls: reply.mpls_labels().into(),
        }
    }

    /// True when the trace ends with this answer: the host itself, or a router saying it
    /// cannot be reached.
    pub(super) fn ends_trace(&self) -> bool {
        matches!(self.kind, Kind::EchoReply | Kind::DestinationUnreachable)
    }
}

/// The probes of one distance: how many each flow sent, and the answers that came back.
#[derive(Debug)]
pub(super) struct Distance {
    /// Probes sent, by flow.
    pub sent: Vec<usize>,
    pub answers: Vec<Answer>,
}

impl Distance {
    /// A distance probed by `flows` flows.
    pub(super) fn new(flows: u16) -> Distance {
        Distance {
            sent: vec![0; usize::from(flows)],
            answers: Vec::new(),
        }
    }

    /// True once every flow has an answer here.
    pub(super) fn every_flow_answered(&self) -> bool {
        (0..self.sent.len()).all(|flow| self.answers.iter().any(|a| usize::from(a.flow) == flow))
    }

    /// The hops at `distance`: one per address that answered, in the order of their first
    /// answer, so that several routers answering at one distance (a load balancer's legs)
    /// each appear rather than being merged. Each counts the probes of the flows that met
    /// it (every probe of the distance when there is one flow), and, when `flows` are
    /// known (flow-stable probes), lists them.
    pub(super) fn hops(&self, distance: u8, flows: bool) -> Vec<Hop> {
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
                    .clone()
                    .filter(|answer| !answer.mpls.is_empty())
                    .map(|answer| answer.mpls.to_vec())
                    .next_back()
                    .unwrap_or_default();
                let mut met: Vec<u16> = answers.map(|answer| answer.flow).collect();
                met.sort_unstable();
                met.dedup();
                let sent = met
                    .iter()
                    .filter_map(|flow| self.sent.get(usize::from(*flow)))
                    .sum();
                let address = address_text(source, scope_id);
                Hop::new(Host::new(address, sent, rtts).with_error(error), distance)
                    .with_mpls_labels(mpls)
                    .with_flows(if flows { met } else { Vec::new() })
            })
            .collect()
    }

    pub(super) fn ends_trace(&self) -> bool {
        self.answers.iter().any(Answer::ends_trace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::Family;

    pub(crate) fn answer(source: &str, rtt: f64, kind: Kind) -> Answer {
        Answer {
            source: source.parse().unwrap(),
            scope_id: 0,
            flow: 0,
            rtt,
            kind,
            error: None,
            mpls: Box::default(),
        }
    }

    fn one_flow(sent: usize, answers: Vec<Answer>) -> Distance {
        Distance {
            sent: vec![sent],
            answers,
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
        let distance = one_flow(
            4,
            vec![
                with(100),
                with(200),
                answer("192.0.2.1", 1.0, Kind::TimeExceeded),
                answer("192.0.2.9", 1.0, Kind::TimeExceeded),
            ],
        );
        let hops = distance.hops(1, false);
        assert_eq!(hops[0].mpls_labels(), [label(200)]);
        assert!(hops[1].mpls_labels().is_empty());
    }

    #[test]
    fn routers_answering_at_one_distance_are_kept_apart() {
        let distance = one_flow(
            3,
            vec![
                answer("192.0.2.2", 1.0, Kind::TimeExceeded),
                answer("192.0.2.6", 2.0, Kind::TimeExceeded),
                answer("192.0.2.2", 3.0, Kind::TimeExceeded),
            ],
        );
        let hops = distance.hops(4, false);
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
        assert!(hops.iter().all(|hop| hop.flows().is_empty()));
        assert!(!distance.ends_trace());
    }

    #[test]
    fn each_router_lists_the_flows_that_met_it_and_counts_their_probes() {
        let on = |source, flow| Answer {
            flow,
            ..answer(source, 1.0, Kind::TimeExceeded)
        };
        // Flows 0 and 2 through one leg, 1 and 3 through the other; flow 3 lost one.
        let distance = Distance {
            sent: vec![2, 2, 2, 2],
            answers: vec![
                on("192.0.2.2", 0),
                on("192.0.2.6", 1),
                on("192.0.2.2", 2),
                on("192.0.2.6", 3),
                on("192.0.2.2", 0),
                on("192.0.2.6", 1),
                on("192.0.2.2", 2),
            ],
        };
        assert!(distance.every_flow_answered());
        let hops = distance.hops(2, true);
        assert_eq!(hops[0].flows(), [0, 2]);
        assert_eq!(hops[1].flows(), [1, 3]);
        assert_eq!((hops[0].packets_sent(), hops[0].packets_received()), (4, 4));
        assert_eq!((hops[1].packets_sent(), hops[1].packets_received()), (4, 3));
    }

    #[test]
    fn silent_distances_have_no_hop_and_ends_are_found() {
        assert!(one_flow(2, vec![]).hops(3, true).is_empty());
        let reached = one_flow(2, vec![answer("192.0.2.9", 1.0, Kind::EchoReply)]);
        assert!(reached.ends_trace());
        let mut unreachable = answer("192.0.2.5", 1.0, Kind::DestinationUnreachable);
        unreachable.error = Some(Error::DestinationUnreachable {
            source: unreachable.source,
            code: 1,
            family: Family::V4,
        });
        let blocked = one_flow(1, vec![unreachable]);
        assert!(blocked.ends_trace());
        let hops = blocked.hops(2, true);
        assert!(matches!(
            hops[0].error(),
            Some(Error::DestinationUnreachable { code: 1, .. })
        ));
        assert!(hops[0].is_alive(), "the router answered");
        assert_eq!(hops[0].flows(), [0]);
    }
}
