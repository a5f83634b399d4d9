//! What a continuous trace hands out: each probe's fate, and each round's figures.

use std::net::IpAddr;

use super::stats::HopStats;
use crate::error::Error;
use crate::packet::MplsLabel;

/// One event of a continuous trace ([`RouteWatch`](crate::RouteWatch)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RouteEvent {
    /// A probe was answered: by a router (Time Exceeded, or Destination Unreachable, which
    /// ends the path there) or by the host.
    Reply {
        /// The round it belongs to, from 0.
        round: u64,
        /// Its TTL.
        distance: u8,
        /// Its flow (0 for one flow).
        flow: u16,
        /// Who answered.
        source: IpAddr,
        /// The round trip, in milliseconds.
        rtt: f64,
        /// The answer ends the path: the host itself, or a router saying it cannot be
        /// reached.
        reached: bool,
        /// The MPLS label stack of the answer (RFC 4950), if any.
        mpls: Vec<MplsLabel>,
    },
    /// A probe got no answer within the timeout, or could not be sent.
    Lost {
        /// The round it belongs to, from 0.
        round: u64,
        /// Its TTL.
        distance: u8,
        /// Its flow (0 for one flow).
        flow: u16,
    },
    /// Every probe of a round settled: the figures of every distance probed, since the
    /// trace started.
    Round(RouteRound),
    /// The trace cannot go on: its name does not resolve, no socket opens for it, its
    /// socket failed and no other opens. The last event.
    Error(Error),
}

/// The figures after a round of a continuous trace.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RouteRound {
    pub(crate) round: u64,
    pub(crate) reached: Option<u8>,
    pub(crate) hops: Vec<HopStats>,
}

impl RouteRound {
    /// The round, from 0.
    pub fn round(&self) -> u64 {
        self.round
    }

    /// The distance at which the path ended in this round (the host answered, or a router
    /// said it cannot be reached); `None` when it ended nowhere within `max_hops`.
    pub fn reached(&self) -> Option<u8> {
        self.reached
    }

    /// The figures of each distance this round probed, from `first_hop` on (up to where
    /// the path ended in the round before, or `max_hops`), silent ones included.
    pub fn hops(&self) -> &[HopStats] {
        &self.hops
    }
}
