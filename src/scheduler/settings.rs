//! What each probe of a call looks like, and the rules of the whole call: a scheduler's
//! [`Settings`].

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{Mark, Pacer};
use crate::engine::Probe;
use crate::error::Result;
use crate::family::Family;
use crate::options::ProbeOptions;
use crate::socket::request::{check_payload_size, random_payload};

/// What each probe looks like, and the rules of the whole call.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// How long each probe waits for its answer, from the moment it left.
    pub timeout: Duration,
    /// The family every target must have, if the options force one.
    pub family: Option<Family>,
    /// The family of the source address, if one is set: names are looked up in it (an
    /// address of the other family is left to the engine, whose error says why).
    pub source_family: Option<Family>,
    /// Targets in flight at most.
    pub concurrency: usize,
    /// Spaces the probes of the whole call.
    /// Shared by the schedulers of one call (a watch runs several).
    pub pacer: Option<Arc<Pacer>>,
    /// The identifier of raw probes; `None` for the engine's own.
    pub id: Option<u16>,
    /// A fixed payload, else `payload_size` random bytes per probe.
    pub payload: Option<Arc<[u8]>>,
    pub payload_size: usize,
    pub traffic_class: u8,
    /// How early a probe may leave to share a wake-up with those due just after it (none
    /// by default: a watch of many targets sets it, as its probes are due all the time).
    pub slack: Duration,
    /// A name's next address is probed when its job is through with one unanswered
    /// ([`ProbeOptions::try_next_address`]).
    pub next_address: bool,
}

impl Settings {
    /// The settings of the probes `probe` describes, sent from `source` (the call's
    /// address, if it has one), with `concurrency` targets in flight and at most
    /// `rate_limit` probes per second (at least 1).
    pub(crate) fn new(
        probe: &ProbeOptions,
        source: Option<IpAddr>,
        concurrency: usize,
        rate_limit: Option<u32>,
    ) -> Settings {
        Settings {
            timeout: probe.timeout,
            family: probe.family,
            source_family: source.as_ref().map(Family::of),
            concurrency,
            pacer: rate_limit.map(|rate| Arc::new(Pacer::per_second(rate))),
            id: probe.id,
            payload: probe.payload.clone().map(Arc::from),
            payload_size: probe.payload_size,
            traffic_class: probe.traffic_class,
            slack: Duration::ZERO,
            next_address: probe.try_next_address,
        }
    }

    /// The family names are looked up in: the forced one, or the source's; `None` for
    /// IPv4, then IPv6.
    pub(crate) fn lookup_family(&self) -> Option<Family> {
        self.family.or(self.source_family)
    }

    fn payload_len(&self) -> usize {
        self.payload
            .as_ref()
            .map_or(self.payload_size, |payload| payload.len())
    }

    /// Checks the payload size against the limit of `family`.
    pub(crate) fn check_family(&self, family: Family) -> Result<()> {
        check_payload_size(Some(family), self.payload_len())
    }

    /// The probe to send to `destination` (through interface `scope_id`) with the TTL and
    /// flow of `mark`, and `payload_size` random bytes when given.
    pub(super) fn probe(
        &self,
        destination: IpAddr,
        scope_id: u32,
        mark: Mark,
        payload_size: Option<usize>,
        last: bool,
    ) -> Probe {
        let payload = match (payload_size, &self.payload) {
            (Some(size), _) => random_payload(size),
            (None, Some(payload)) => Arc::clone(payload),
            (None, None) => random_payload(self.payload_size),
        };
        Probe {
            destination,
            scope_id,
            id: self.id,
            payload,
            ttl: mark.ttl,
            flow: mark.flow,
            traffic_class: self.traffic_class,
            timeout: self.timeout,
            duplicates: !last,
        }
    }
}
