//! The path MTU search to one host as a scheduler job: echo requests of chosen sizes with
//! Don't Fragment set, one after the other, their outcomes fed to the [`Search`]
//! (`search.rs`) until the largest size that passes is known.

use std::convert::Infallible;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::PathMtu;
use super::search::{Outcome, Search, overhead};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::scheduler::{Events, Job, Mark, Next, Now, Pause};
use crate::socket::address::address_text;
use crate::socket::reply::IcmpReply;

/// The path MTU search to one host, as a scheduler job: one probe at a time, at most
/// `max_probes` in all.
#[derive(Debug)]
pub(crate) struct PathMtuJob {
    search: Search,
    ttl: u8,
    pause: Pause,
    probes_left: usize,
    sent: usize,
    /// The router whose message gave the MTU found.
    reported_by: Option<(IpAddr, usize)>,
    /// Why the search stopped before finding anything: an answer that is not about size.
    error: Option<Error>,
    /// The last thing that went wrong about size or silence, for a search that finds
    /// nothing at all.
    last: Option<Error>,
}

impl PathMtuJob {
    /// A search for `family` with `tries` per silent size, `max_probes` in all, `interval`
    /// between probes, sent with `ttl`.
    pub(crate) fn new(
        family: Family,
        tries: usize,
        max_probes: usize,
        interval: Duration,
        ttl: u8,
    ) -> PathMtuJob {
        PathMtuJob {
            search: Search::new(family, tries),
            ttl,
            pause: Pause::new(interval),
            probes_left: max_probes,
            sent: 0,
            reported_by: None,
            error: None,
            last: None,
        }
    }

    fn record(&mut self, outcome: Result<(), Error>) {
        let size = self.search.next();
        let outcome = match outcome {
            Ok(()) => Outcome::Passed,
            Err(Error::PacketTooBig { source, mtu, .. }) => {
                if let (Some(router), Some(mtu)) = (source, mtu) {
                    self.reported_by = Some((router, mtu as usize));
                }
                self.last = Some(Error::PacketTooBig {
                    source,
                    mtu,
                    family: self.search.family(),
                });
                Outcome::TooBig {
                    mtu,
                    from_router: source.is_some(),
                }
            }
            Err(error @ Error::TimeoutExceeded { .. }) => {
                self.last = Some(error);
                Outcome::Silent
            }
            Err(other) => {
                self.error = Some(other);
                return;
            }
        };
        if size.is_some() {
            self.search.record(outcome);
        }
    }
}

impl Job for PathMtuJob {
    type Output = Result<PathMtu>;
    type Event = Infallible;

    fn next(&mut self, in_flight: usize, _now: Now) -> Option<Next> {
        if in_flight > 0 || self.error.is_some() || self.probes_left == 0 {
            return None;
        }
        let size = self.search.next()?;
        self.probes_left -= 1;
        Some(Next {
            ttl: self.ttl,
            flow: None,
            tag: 0,
            after: self.pause.next(),
            payload_size: Some(size - overhead(self.search.family())),
            last: false,
        })
    }

    fn sent(&mut self, _probe: Mark, _now: Now) {
        self.sent += 1;
    }

    /// A send refused for its size is the size's answer; any other failure ends the
    /// search.
    fn failed(&mut self, _probe: Mark, error: Error, _now: Now, _events: &mut Events<Infallible>) {
        self.record(Err(error));
    }

    fn settle(
        &mut self,
        _probe: Mark,
        _sent_at: Instant,
        outcome: Result<IcmpReply>,
        _now: Now,
        _events: &mut Events<Infallible>,
    ) {
        self.record(outcome.and_then(|reply| reply.raise_for_status()));
    }

    fn finish(self, address: IpAddr, scope_id: u32) -> Result<PathMtu> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let Some(mtu) = self.search.passed() else {
            return Err(self.last.unwrap_or(Error::SocketUnavailable));
        };
        let family = self.search.family();
        Ok(PathMtu {
            address: address_text(address, scope_id),
            mtu: mtu as u32,
            payload_size: mtu - overhead(family),
            // The router counts only if the size it gave is the one found.
            reported_by: self
                .reported_by
                .filter(|&(_, given)| given == mtu)
                .map(|(router, _)| router),
            probes_sent: self.sent,
            complete: self.search.is_done(),
        })
    }
}
