//! The path MTU search: echo requests of chosen sizes with Don't Fragment set, one after
//! the other, until the largest size that passes is known.
//!
//! [`Search`] is the pure part (sizes in, next size out); [`PathMtuJob`] feeds it the
//! outcomes of the probes the scheduler sends.

use std::convert::Infallible;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::PathMtu;
use crate::error::{Error, Result};
use crate::family::Family;
use crate::packet::{HEADER_LEN, IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN};
use crate::scheduler::{Events, Job, Next, Now, Pause};
use crate::socket::address::address_text;
use crate::socket::reply::IcmpReply;
use crate::socket::request::{MAX_PAYLOAD_V4, MAX_PAYLOAD_V6};

/// The smallest MTU an IPv6 link may have (RFC 8200): a Packet Too Big below it is not
/// believed (RFC 8201).
const IPV6_MIN_MTU: u32 = 1280;

/// What one probe of `size` bytes came to, for the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It passed: the host answered.
    Passed,
    /// Too big: a router (`from_router`) or this host said so, with the MTU when it gave
    /// one.
    TooBig { mtu: Option<u32>, from_router: bool },
    /// No answer: lost, or dropped for its size without a word (a "black hole").
    Silent,
}

/// The search for the largest packet that passes, in bytes of IP packet (headers
/// included), between the smallest echo request of the family and the largest.
///
/// It starts with the largest packet, so that this host's own limit (given at once by a
/// refused send) or the first router's comes first; tries every MTU an answer gives next;
/// and halves the interval between what passed and what did not otherwise (a size that
/// stays silent `tries` times counts as too big).
///
/// A router's MTU is believed: nothing larger passes its link, so the size it gives ends
/// the search once it passes. This host's own is only tried first: it is the route's MTU
/// as the system knows it, which may be a path MTU learned minutes ago and since grown, so
/// the sizes above it are still searched (mostly refused here at once, without a packet).
#[derive(Debug, Clone)]
pub(crate) struct Search {
    family: Family,
    /// Largest size known to pass.
    passed: Option<usize>,
    /// Smallest size known not to pass.
    too_big: usize,
    /// The size to probe next (or in flight).
    current: usize,
    tries: usize,
    /// Silent probes of `current` so far.
    silent: usize,
}

impl Search {
    /// A search for `family`, trying each size up to `tries` times when nothing answers.
    pub(crate) fn new(family: Family, tries: usize) -> Search {
        let largest = overhead(family) + max_payload(family);
        Search {
            family,
            passed: None,
            too_big: largest + 1,
            current: largest,
            tries: tries.max(1),
            silent: 0,
        }
    }

    /// The size to probe next; `None` once the search is over.
    pub(crate) fn next(&self) -> Option<usize> {
        (!self.is_done()).then_some(self.current)
    }

    /// The largest size known to pass.
    pub(crate) fn passed(&self) -> Option<usize> {
        self.passed
    }

    /// True once the largest size that passes is known, or that none does.
    pub(crate) fn is_done(&self) -> bool {
        let floor = self.passed.unwrap_or(overhead(self.family) - 1);
        floor + 1 >= self.too_big
    }

    /// Takes the outcome of a probe of the current size.
    pub(crate) fn record(&mut self, outcome: Outcome) {
        let size = self.current;
        match outcome {
            Outcome::Passed => {
                self.passed = Some(self.passed.map_or(size, |passed| passed.max(size)));
            }
            Outcome::Silent => {
                self.silent += 1;
                if self.silent < self.tries {
                    return;
                }
                self.too_big = self.too_big.min(size);
            }
            Outcome::TooBig { mtu, from_router } => {
                self.too_big = self.too_big.min(size);
                if let Some(mtu) = self.believable(mtu) {
                    if from_router {
                        // Nothing larger passes the router's link.
                        self.too_big = self.too_big.min(mtu + 1);
                    }
                    self.silent = 0;
                    self.current = mtu;
                    return;
                }
            }
        }
        self.silent = 0;
        // Halve the interval left (nothing happens once the search is done).
        let floor = self.passed.unwrap_or(overhead(self.family) - 1);
        self.current = floor + (self.too_big - floor) / 2;
    }

    /// `mtu` if it can be the next size: inside the interval still open, and for IPv6 at
    /// least the minimum MTU.
    fn believable(&self, mtu: Option<u32>) -> Option<usize> {
        let mtu = mtu?;
        if self.family == Family::V6 && mtu < IPV6_MIN_MTU {
            return None;
        }
        let mtu = usize::try_from(mtu).ok()?;
        let floor = self.passed.unwrap_or(overhead(self.family) - 1);
        (mtu > floor && mtu < self.too_big && mtu >= overhead(self.family)).then_some(mtu)
    }
}

/// The bytes of an echo request that are not payload: the IP header (without options)
/// and the ICMP header.
pub(crate) fn overhead(family: Family) -> usize {
    HEADER_LEN
        + match family {
            Family::V4 => IPV4_MIN_HEADER_LEN,
            Family::V6 => IPV6_HEADER_LEN,
        }
}

fn max_payload(family: Family) -> usize {
    match family {
        Family::V4 => MAX_PAYLOAD_V4,
        Family::V6 => MAX_PAYLOAD_V6,
    }
}

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
                    family: self.search.family,
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
            after: self.pause.next(),
            payload_size: Some(size - overhead(self.search.family)),
            last: false,
        })
    }

    fn sent(&mut self, _ttl: u8, _now: Now) {
        self.sent += 1;
    }

    /// A send refused for its size is the size's answer; any other failure ends the
    /// search.
    fn failed(&mut self, _ttl: u8, error: Error, _now: Now, _events: &mut Events<Infallible>) {
        self.record(Err(error));
    }

    fn settle(
        &mut self,
        _ttl: u8,
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
        let family = self.search.family;
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Runs a search against a path whose MTU is `mtu`, where a too-big probe gets the
    /// MTU back when `hints`, else silence; returns the size found and the probes spent.
    fn run(family: Family, mtu: usize, hints: bool, tries: usize) -> (Option<usize>, usize) {
        let mut search = Search::new(family, tries);
        let mut probes = 0;
        while let Some(size) = search.next() {
            probes += 1;
            assert!(probes <= 200, "the search must end");
            let outcome = if size <= mtu {
                Outcome::Passed
            } else if hints {
                Outcome::TooBig {
                    mtu: Some(mtu as u32),
                    from_router: true,
                }
            } else {
                Outcome::Silent
            };
            search.record(outcome);
        }
        (search.passed(), probes)
    }

    #[test]
    fn follows_the_mtu_the_router_gives() {
        // The largest packet, refused here for 1,500; then 1,500, too big for a 1,280
        // link.
        let mut search = Search::new(Family::V4, 2);
        assert_eq!(search.next(), Some(65_535));
        search.record(Outcome::TooBig {
            mtu: Some(1500),
            from_router: false,
        });
        assert_eq!(search.next(), Some(1500));
        search.record(router(1280));
        assert_eq!(search.next(), Some(1280));
        search.record(Outcome::Passed);
        assert_eq!((search.next(), search.passed()), (None, Some(1280)));
        assert_eq!(1280 - overhead(Family::V4), 1252);
    }

    #[test]
    fn this_hosts_own_mtu_is_only_a_first_guess() {
        // The system remembers a path MTU of 1,280 that has grown back to 1,500 since.
        let mut search = Search::new(Family::V4, 1);
        let refused_here = Outcome::TooBig {
            mtu: Some(1280),
            from_router: false,
        };
        search.record(refused_here);
        assert_eq!(search.next(), Some(1280));
        let mut probes = 1;
        while let Some(size) = search.next() {
            probes += 1;
            search.record(match size {
                ..=1500 => Outcome::Passed,
                _ => refused_here,
            });
        }
        assert_eq!(search.passed(), Some(1500));
        assert!(probes <= 20, "{probes}");
    }

    fn router(mtu: u32) -> Outcome {
        Outcome::TooBig {
            mtu: Some(mtu),
            from_router: true,
        }
    }

    #[test]
    fn a_silent_size_is_tried_again_then_halved() {
        let mut search = Search::new(Family::V4, 2);
        search.record(router(1500));
        search.record(Outcome::Silent);
        assert_eq!(search.next(), Some(1500), "tried again");
        search.record(Outcome::Silent);
        assert_eq!(search.next(), Some(27 + (1500 - 27) / 2));
    }

    #[test]
    fn hints_outside_the_open_interval_are_not_followed() {
        let mut search = Search::new(Family::V6, 1);
        // Below the IPv6 minimum: not believed, the interval is halved instead.
        search.record(router(600));
        assert_eq!(search.next(), Some(47 + (65_575 - 47) / 2));
        // Larger than what was just refused: not believed either.
        let mut search = Search::new(Family::V4, 1);
        search.record(router(1500));
        search.record(router(9000));
        assert_eq!(search.next(), Some(27 + (1500 - 27) / 2));
    }

    #[test]
    fn nothing_passes() {
        let (found, probes) = run(Family::V4, 20, false, 1);
        assert_eq!(found, None);
        assert!(probes <= 17, "{probes} probes");
    }

    proptest! {
        /// Whatever the path's MTU, the search finds exactly it: in a handful of probes
        /// when routers say the MTU, by halving (17 sizes at most) when they are silent.
        #[test]
        fn finds_the_path_mtu(v6 in any::<bool>(), mtu in 0usize..70_000, hints in any::<bool>(), tries in 1usize..4) {
            let family = if v6 { Family::V6 } else { Family::V4 };
            let smallest = overhead(family);
            let largest = smallest + max_payload(family);
            let (found, probes) = run(family, mtu, hints, tries);
            let expected = (mtu >= smallest).then_some(mtu.min(largest));
            prop_assert_eq!(found, expected);
            // A hint below the IPv6 minimum is not believed: halving finds that size.
            let believed = hints && mtu >= smallest && (!v6 || mtu >= IPV6_MIN_MTU as usize);
            let bound = if believed { 2 } else { 17 * tries + 1 };
            prop_assert!(probes <= bound, "{} probes for MTU {}", probes, mtu);
        }
    }
}
