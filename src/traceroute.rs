//! [`traceroute`] and [`async_traceroute`]: the routers on the path to a host, found with
//! echo requests of growing TTL, privileged or not, one hop at a time or all at once.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;

use crate::context::Context;
use crate::engine::{Engine, InFlight};
use crate::packet::Kind;
use crate::ping::{Requests, check_source_family, millis};
use crate::runtime::block_on;
use crate::socket::{DEFAULT_PAYLOAD_SIZE, IcmpReply};
use crate::{Error, Family, Hop, Host, Pinger, Result};

/// Options of [`traceroute`] and [`async_traceroute`], with the defaults of the Python
/// library.
///
/// ```
/// use std::time::Duration;
/// use icmplib::TracerouteOptions;
///
/// let options = TracerouteOptions::default().max_hops(16).fast(true).parallel(true);
/// assert_eq!(options.count, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TracerouteOptions {
    /// Probes per hop (default 2). Must be at least 1.
    pub count: usize,
    /// Pause between two probes (default 0.05 s).
    pub interval: Duration,
    /// How long to wait for the answer to each probe, from the moment it left (default 2 s).
    pub timeout: Duration,
    /// The TTL of the first probes (default 1).
    pub first_hop: u8,
    /// The largest TTL probed (default 30).
    pub max_hops: u8,
    /// Go to the next hop as soon as one probe of a hop was answered (default false).
    pub fast: bool,
    /// Probe every hop at once (default false: one hop after the other, as the Python
    /// library): a whole trace then takes about one timeout instead of one per silent hop.
    pub parallel: bool,
    /// ICMP identifier of raw probes; `None` (default) lets the library pick one.
    pub id: Option<u16>,
    /// Local address to send from.
    pub source: Option<IpAddr>,
    /// For names: `None` (default) tries IPv4 then IPv6; or force one family.
    pub family: Option<Family>,
    /// Raw sockets (`true`, default) or unprivileged datagram sockets, whose ICMP errors
    /// Linux delivers on the socket's error queue.
    pub privileged: bool,
    /// A fixed payload; `None` (default) sends `payload_size` random bytes per probe.
    pub payload: Option<Vec<u8>>,
    /// Size of the random payload (default 56).
    pub payload_size: usize,
    /// IPv4 type of service / IPv6 traffic class (default 0).
    pub traffic_class: u8,
}

impl Default for TracerouteOptions {
    fn default() -> TracerouteOptions {
        TracerouteOptions {
            count: 2,
            interval: Duration::from_millis(50),
            timeout: Duration::from_secs(2),
            first_hop: 1,
            max_hops: 30,
            fast: false,
            parallel: false,
            id: None,
            source: None,
            family: None,
            privileged: true,
            payload: None,
            payload_size: DEFAULT_PAYLOAD_SIZE,
            traffic_class: 0,
        }
    }
}

crate::ping::setters!(TracerouteOptions {
    /// Sets [`TracerouteOptions::count`].
    count: usize,
    /// Sets [`TracerouteOptions::interval`].
    interval: Duration,
    /// Sets [`TracerouteOptions::timeout`].
    timeout: Duration,
    /// Sets [`TracerouteOptions::first_hop`].
    first_hop: u8,
    /// Sets [`TracerouteOptions::max_hops`].
    max_hops: u8,
    /// Sets [`TracerouteOptions::fast`].
    fast: bool,
    /// Sets [`TracerouteOptions::parallel`].
    parallel: bool,
    /// Sets [`TracerouteOptions::id`].
    id: u16,
    /// Sets [`TracerouteOptions::source`].
    source: IpAddr,
    /// Sets [`TracerouteOptions::family`].
    family: Family,
    /// Sets [`TracerouteOptions::privileged`].
    privileged: bool,
    /// Sets [`TracerouteOptions::payload`].
    payload: Vec<u8>,
    /// Sets [`TracerouteOptions::payload_size`].
    payload_size: usize,
    /// Sets [`TracerouteOptions::traffic_class`].
    traffic_class: u8,
});

impl TracerouteOptions {
    fn requests(&self) -> Result<Requests> {
        if self.first_hop == 0 {
            return Err(Error::invalid("first_hop must be at least 1"));
        }
        if self.max_hops < self.first_hop {
            return Err(Error::invalid(format!(
                "max_hops ({}) must be at least first_hop ({})",
                self.max_hops, self.first_hop
            )));
        }
        check_source_family(self.source, self.family)?;
        Requests {
            count: self.count,
            interval: self.interval,
            timeout: self.timeout,
            id: self.id,
            payload: self.payload.clone().map(Arc::from),
            payload_size: self.payload_size,
            ttl: self.first_hop,
            traffic_class: self.traffic_class,
            pacer: None,
        }
        .check()
    }
}

/// What came back for one probe.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// Who answered: a router (Time Exceeded, Destination Unreachable) or the host.
    pub source: IpAddr,
    /// Round-trip time in milliseconds.
    pub rtt: f64,
    pub kind: Kind,
    /// The error the answer stands for, when it ends the trace or is unexpected.
    pub error: Option<Error>,
}

impl Answer {
    fn from_reply(reply: &IcmpReply, sent_at: std::time::Instant) -> Answer {
        let error = match reply.kind() {
            Kind::EchoReply | Kind::TimeExceeded => None,
            _ => reply.raise_for_status().err(),
        };
        Answer {
            source: reply.source(),
            rtt: millis(reply.time().saturating_duration_since(sent_at)),
            kind: reply.kind(),
            error,
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
pub(crate) struct Distance {
    pub sent: usize,
    pub answers: Vec<Answer>,
}

impl Distance {
    /// The hops at `distance`: one per address that answered, in the order of their first
    /// answer, so that several routers answering at one distance (ECMP) each appear
    /// rather than being merged. Each counts every probe sent at that distance.
    pub(crate) fn hops(&self, distance: u8) -> Vec<Hop> {
        let mut sources: Vec<IpAddr> = Vec::new();
        for answer in &self.answers {
            if !sources.contains(&answer.source) {
                sources.push(answer.source);
            }
        }
        sources
            .into_iter()
            .map(|source| {
                let answers = self.answers.iter().filter(|answer| answer.source == source);
                let rtts = answers.clone().map(|answer| answer.rtt).collect();
                let error = answers
                    .filter_map(|answer| answer.error.clone())
                    .next_back();
                Hop::new(
                    Host::new(source.to_string(), self.sent, rtts).with_error(error),
                    distance,
                )
            })
            .collect()
    }

    fn ends_trace(&self) -> bool {
        self.answers.iter().any(Answer::ends_trace)
    }
}

/// Waits for a probe's answer: `None` when nothing came back in time.
async fn answer(in_flight: InFlight, timeout: Duration) -> Result<Option<Answer>> {
    let sent_at = in_flight.sent_at();
    match in_flight.reply(timeout).await {
        Ok(reply) => Ok(Some(Answer::from_reply(&reply, sent_at))),
        Err(Error::TimeoutExceeded { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// One hop after the other, as the Python library does, but with `fast` really moving on
/// once a hop answered.
async fn sequential(
    engine: &Engine,
    destination: IpAddr,
    requests: &Requests,
    first: u8,
    last: u8,
    fast: bool,
) -> Result<Vec<Hop>> {
    let mut hops = Vec::new();
    let mut first_probe = true;
    let mut failed_send = None;
    for ttl in first..=last {
        let mut distance = Distance::default();
        for _ in 0..requests.count {
            if !first_probe && !requests.interval.is_zero() {
                tokio::time::sleep(requests.interval).await;
            }
            first_probe = false;
            let in_flight = match engine.send(&requests.probe(destination, ttl)).await {
                Ok(in_flight) => in_flight,
                Err(error) => {
                    failed_send.get_or_insert(error);
                    continue;
                }
            };
            distance.sent += 1;
            if let Some(answer) = answer(in_flight, requests.timeout).await? {
                distance.answers.push(answer);
                if fast {
                    break;
                }
            }
        }
        hops.extend(distance.hops(ttl));
        if distance.ends_trace() {
            break;
        }
    }
    finish(hops, failed_send)
}

/// The trace, unless no probe could be sent at all: then the send error is the answer.
/// A probe whose send failed (a passing error) is not counted and the trace goes on.
fn finish(hops: Vec<Hop>, failed_send: Option<Error>) -> Result<Vec<Hop>> {
    match failed_send {
        Some(error) if hops.is_empty() => Err(error),
        _ => Ok(hops),
    }
}

/// Every hop at once: `count` rounds of probes with TTLs `first..=last`, `interval` apart,
/// then the answers; the trace is cut at the first distance where it ends.
async fn parallel(
    engine: &Engine,
    destination: IpAddr,
    requests: &Requests,
    first: u8,
    last: u8,
) -> Result<Vec<Hop>> {
    let mut waiting = Vec::new();
    let mut failed_send = None;
    for round in 0..requests.count {
        if round > 0 && !requests.interval.is_zero() {
            tokio::time::sleep(requests.interval).await;
        }
        for ttl in first..=last {
            match engine.send(&requests.probe(destination, ttl)).await {
                Ok(in_flight) => {
                    waiting.push(async move { (ttl, answer(in_flight, requests.timeout).await) })
                }
                Err(error) => {
                    failed_send.get_or_insert(error);
                }
            }
        }
    }
    let mut distances: Vec<Distance> = (first..=last).map(|_| Distance::default()).collect();
    for (ttl, answer) in join_all(waiting).await {
        let distance = &mut distances[usize::from(ttl - first)];
        distance.sent += 1;
        distance.answers.extend(answer?);
    }
    let mut hops = Vec::new();
    for (ttl, distance) in (first..=last).zip(&distances) {
        hops.extend(distance.hops(ttl));
        if distance.ends_trace() {
            break;
        }
    }
    finish(hops, failed_send)
}

/// Resolves `address` and traces the path to it with `context`'s engines.
pub(crate) async fn trace(
    context: &Context,
    address: &str,
    options: &TracerouteOptions,
) -> Result<Vec<Hop>> {
    let requests = options.requests()?;
    let destination = context.resolve(address, options.family).await?;
    let family = Family::of(&destination);
    requests.check_family(family)?;
    let engine = context.engine(family)?;
    let (first, last) = (options.first_hop, options.max_hops);
    if options.parallel {
        parallel(&engine, destination, &requests, first, last).await
    } else {
        sequential(&engine, destination, &requests, first, last, options.fast).await
    }
}

/// Traces the route to `address` (an IP address or a name), as `icmplib.traceroute`
/// does: echo requests with TTL `first_hop`, `first_hop + 1`, ... up to `max_hops`, until
/// the host answers or a router reports it unreachable (that hop then carries the
/// [`Error::DestinationUnreachable`]). Hops that never answered are left out; hops come
/// sorted by distance.
///
/// Works unprivileged on Linux too (`privileged = false`): the Time Exceeded messages of
/// datagram sockets are read from the socket's error queue.
///
/// ```no_run
/// use icmplib::{TracerouteOptions, traceroute};
///
/// for hop in traceroute("127.0.0.1", &TracerouteOptions::default()).unwrap() {
///     println!("{hop}");
/// }
/// ```
///
/// # Errors
/// [`Error::InvalidOption`] for invalid options (`first_hop` 0, `max_hops` below it, a
/// zero count or timeout); [`Error::NameLookup`]; socket errors ([`Error::SocketPermission`],
/// a failed send); [`Error::Runtime`] within a tokio runtime.
pub fn traceroute(address: &str, options: &TracerouteOptions) -> Result<Vec<Hop>> {
    block_on("traceroute", async_traceroute(address, options))
}

/// The async form of [`traceroute`], on the runtime's shared sockets: any number of
/// traceroutes and pings run at once without taking each other's replies.
///
/// # Errors
/// As [`traceroute`], with [`Error::Runtime`] outside a tokio runtime.
///
/// # Cancel safety
/// Cancel safe: dropping the future abandons the trace; its probes in flight are
/// forgotten and their late answers dropped.
pub async fn async_traceroute(address: &str, options: &TracerouteOptions) -> Result<Vec<Hop>> {
    trace(
        &Context::new(options.privileged, options.source),
        address,
        options,
    )
    .await
}

impl Pinger {
    /// Traces the route to `address`, as [`async_traceroute`] does, on this pinger's
    /// sockets.
    ///
    /// # Errors
    /// As [`async_traceroute`].
    ///
    /// # Cancel safety
    /// Cancel safe, as [`async_traceroute`].
    pub async fn traceroute(&self, address: &str, options: &TracerouteOptions) -> Result<Vec<Hop>> {
        trace(&Context::pinger(self), address, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(source: &str, rtt: f64, kind: Kind) -> Answer {
        Answer {
            source: source.parse().unwrap(),
            rtt,
            kind,
            error: None,
        }
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

    #[test]
    fn invalid_options_are_refused() {
        let invalid = |options: TracerouteOptions| {
            matches!(options.requests(), Err(Error::InvalidOption { .. }))
        };
        assert!(invalid(TracerouteOptions::default().first_hop(0)));
        assert!(invalid(
            TracerouteOptions::default().first_hop(5).max_hops(4)
        ));
        assert!(invalid(TracerouteOptions::default().count(0)));
        assert!(invalid(
            TracerouteOptions::default().timeout(Duration::ZERO)
        ));
        assert!(
            TracerouteOptions::default()
                .first_hop(5)
                .max_hops(5)
                .requests()
                .is_ok()
        );
    }
}
