//! [`ping`] and [`async_ping`]: echo requests to one host, and its statistics.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::engine::{Engine, Probe};
use crate::pacer::Pacer;
use crate::runtime::block_on;
use crate::socket::{
    DEFAULT_PAYLOAD_SIZE, DEFAULT_TTL, IcmpReply, check_payload_size, random_payload,
};
use crate::{Error, Family, Host, Result};

/// Options of [`ping`] and [`async_ping`], with the defaults of the Python library.
///
/// Fields are public; the methods of the same names set them in a chain.
///
/// ```
/// use std::time::Duration;
/// use icmplib::PingOptions;
///
/// let options = PingOptions::default()
///     .count(10)
///     .interval(Duration::from_millis(200))
///     .privileged(false);
/// assert_eq!(options.timeout, Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PingOptions {
    /// Requests to send (default 4). Must be at least 1.
    pub count: usize,
    /// Pause between a reply (or its timeout) and the next request (default 1 s).
    pub interval: Duration,
    /// How long to wait for each reply, from the moment its request left (default 2 s).
    pub timeout: Duration,
    /// ICMP identifier of raw requests; `None` (default) lets the library pick one that no
    /// other ping of the process uses. Datagram sockets ignore it: the kernel picks.
    pub id: Option<u16>,
    /// Local address to send from (default: the system chooses).
    pub source: Option<IpAddr>,
    /// For names: `None` (default) tries IPv4 then IPv6; or force one family.
    pub family: Option<Family>,
    /// Raw socket (`true`, default: root or `CAP_NET_RAW`) or unprivileged datagram
    /// socket (`false`: Linux `net.ipv4.ping_group_range`).
    pub privileged: bool,
    /// A fixed payload; `None` (default) sends `payload_size` random bytes per request.
    pub payload: Option<Vec<u8>>,
    /// Size of the random payload (default 56).
    pub payload_size: usize,
    /// IPv4 type of service / IPv6 traffic class (default 0).
    pub traffic_class: u8,
    /// Time to live / hop limit of the requests (default 64).
    pub ttl: u8,
}

impl Default for PingOptions {
    fn default() -> PingOptions {
        PingOptions {
            count: 4,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
            id: None,
            source: None,
            family: None,
            privileged: true,
            payload: None,
            payload_size: DEFAULT_PAYLOAD_SIZE,
            traffic_class: 0,
            ttl: DEFAULT_TTL,
        }
    }
}

macro_rules! setters {
    ($options:ty { $($(#[$doc:meta])* $field:ident: $type:ty,)* }) => {
        impl $options {
            $(
                $(#[$doc])*
                pub fn $field(mut self, $field: $type) -> Self {
                    self.$field = $field.into();
                    self
                }
            )*
        }
    };
}
pub(crate) use setters;

setters!(PingOptions {
    /// Sets [`PingOptions::count`].
    count: usize,
    /// Sets [`PingOptions::interval`].
    interval: Duration,
    /// Sets [`PingOptions::timeout`].
    timeout: Duration,
    /// Sets [`PingOptions::id`].
    id: u16,
    /// Sets [`PingOptions::source`].
    source: IpAddr,
    /// Sets [`PingOptions::family`].
    family: Family,
    /// Sets [`PingOptions::privileged`].
    privileged: bool,
    /// Sets [`PingOptions::payload`].
    payload: Vec<u8>,
    /// Sets [`PingOptions::payload_size`].
    payload_size: usize,
    /// Sets [`PingOptions::traffic_class`].
    traffic_class: u8,
    /// Sets [`PingOptions::ttl`].
    ttl: u8,
});

impl PingOptions {
    /// What the requests to one host look like, checked.
    pub(crate) fn requests(&self) -> Result<Requests> {
        check_source_family(self.source, self.family)?;
        Requests {
            count: self.count,
            interval: self.interval,
            timeout: self.timeout,
            id: self.id,
            payload: self.payload.clone().map(Arc::from),
            payload_size: self.payload_size,
            ttl: self.ttl,
            traffic_class: self.traffic_class,
            pacer: None,
        }
        .check()
    }
}

/// Checks that a source address and a forced family agree.
pub(crate) fn check_source_family(source: Option<IpAddr>, family: Option<Family>) -> Result<()> {
    match (source, family) {
        (Some(source), Some(family)) if Family::of(&source) != family => Err(Error::invalid(
            format!("source {source} is not an {family} address"),
        )),
        _ => Ok(()),
    }
}

/// The requests to send to each host.
#[derive(Debug, Clone)]
pub(crate) struct Requests {
    pub count: usize,
    pub interval: Duration,
    pub timeout: Duration,
    pub id: Option<u16>,
    pub payload: Option<Arc<[u8]>>,
    pub payload_size: usize,
    pub ttl: u8,
    pub traffic_class: u8,
    /// Spaces the requests of a whole call to respect a rate limit.
    pub pacer: Option<Arc<Pacer>>,
}

impl Requests {
    /// Checks the options: a count and a timeout above zero, a TTL of at least 1, a
    /// payload that fits an IPv6 packet (the family's own limit is checked once known).
    pub(crate) fn check(self) -> Result<Requests> {
        if self.count == 0 {
            return Err(Error::invalid("count must be at least 1"));
        }
        if self.timeout.is_zero() {
            return Err(Error::invalid("timeout must be greater than zero"));
        }
        if self.ttl == 0 {
            return Err(Error::invalid("ttl must be at least 1"));
        }
        check_payload_size(Family::V6, self.payload_len())?;
        Ok(self)
    }

    fn payload_len(&self) -> usize {
        self.payload
            .as_ref()
            .map_or(self.payload_size, |payload| payload.len())
    }

    /// The probe to send to `destination` with this TTL.
    pub(crate) fn probe(&self, destination: IpAddr, ttl: u8) -> Probe {
        Probe {
            destination,
            id: self.id,
            payload: self
                .payload
                .clone()
                .unwrap_or_else(|| random_payload(self.payload_size)),
            ttl,
            traffic_class: self.traffic_class,
        }
    }

    /// Checks the payload size against the limit of `family`.
    pub(crate) fn check_family(&self, family: Family) -> Result<()> {
        check_payload_size(family, self.payload_len())
    }

    /// Waits for the rate limit, if there is one.
    pub(crate) async fn pace(&self) {
        if let Some(pacer) = &self.pacer {
            pacer.wait().await;
        }
    }
}

/// Milliseconds between two instants, as used in [`Host`].
pub(crate) fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// What the requests to one host came to so far: the figures of its [`Host`].
#[derive(Debug, Default)]
pub(crate) struct Tally {
    sent: usize,
    rtts: Vec<f64>,
    error: Option<Error>,
}

impl Tally {
    /// A request could not be sent: it counts as lost, and its error is the host's.
    pub(crate) fn send_failed(&mut self, error: Error) {
        self.error = Some(error);
    }

    /// A request left.
    pub(crate) fn sent(&mut self) {
        self.sent += 1;
    }

    /// The outcome of a request that left at `sent_at`: a reply counts with its round
    /// trip time; an ICMP error or an engine failure is kept as the host's error; a
    /// timeout only counts as lost.
    pub(crate) fn settle(&mut self, sent_at: Instant, result: Result<IcmpReply>) {
        match result {
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

    /// The host's statistics.
    pub(crate) fn into_host(self, address: IpAddr) -> Host {
        Host::new(address.to_string(), self.sent, self.rtts).with_error(self.error)
    }
}

/// Pings `address` on `engine`: `count` requests, one after the other, each waiting for
/// its reply or its timeout, then `interval`. Never fails: errors land in the host.
pub(crate) async fn ping_address(engine: &Engine, address: IpAddr, requests: &Requests) -> Host {
    let mut tally = Tally::default();
    for index in 0..requests.count {
        if index > 0 && !requests.interval.is_zero() {
            tokio::time::sleep(requests.interval).await;
        }
        requests.pace().await;
        let in_flight = match engine.send(&requests.probe(address, requests.ttl)).await {
            Ok(in_flight) => in_flight,
            Err(send_error) => {
                tally.send_failed(send_error);
                continue;
            }
        };
        tally.sent();
        let sent_at = in_flight.sent_at();
        tally.settle(sent_at, in_flight.reply(requests.timeout).await);
    }
    tally.into_host(address)
}

/// Resolves and pings one target with the engines of `engines`.
pub(crate) async fn ping_target(
    context: &Context,
    address: &str,
    options: &PingOptions,
) -> Result<Host> {
    let requests = options.requests()?;
    let destination = context.resolve(address, options.family).await?;
    let family = Family::of(&destination);
    requests.check_family(family)?;
    let engine = context.engine(family)?;
    Ok(ping_address(&engine, destination, &requests)
        .await
        .with_target(address))
}

/// Pings `address` (an IP address or a name) and returns its statistics, as
/// `icmplib.ping` does: `count` requests, each waiting for its reply up to `timeout`,
/// separated by `interval`.
///
/// An ICMP error for a request (Destination Unreachable, Time Exceeded) or a failed send
/// does not fail the call: it is kept in [`Host::error`] and the request counts as lost.
///
/// Runs on a small runtime of its own; call it from ordinary threads, not from async
/// code (use [`async_ping`] there).
///
/// ```no_run
/// use icmplib::{PingOptions, ping};
///
/// let host = ping("127.0.0.1", &PingOptions::default().count(2)).unwrap();
/// println!("{host}");
/// ```
///
/// # Errors
/// [`Error::InvalidOption`] for a zero count or timeout, a payload too large or a zero
/// TTL; [`Error::NameLookup`] for a name without an address; [`Error::SocketPermission`]
/// and [`Error::SocketAddress`] when the socket cannot be opened; [`Error::Runtime`] when
/// called within a tokio runtime.
pub fn ping(address: &str, options: &PingOptions) -> Result<Host> {
    block_on("ping", async_ping(address, options))
}

/// The async form of [`ping`]. All pings of a runtime share one socket per family (and
/// privilege and source address), with one receive task routing replies to them.
///
/// ```no_run
/// # async fn run() -> icmplib::Result<()> {
/// use icmplib::{PingOptions, async_ping};
///
/// let host = async_ping("::1", &PingOptions::default().count(3)).await?;
/// assert!(host.is_alive());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// As [`ping`], [`Error::Runtime`] outside a tokio runtime.
///
/// # Cancel safety
/// Cancel safe: dropping the future abandons the ping; its requests in flight are
/// forgotten and their late replies dropped.
pub async fn async_ping(address: &str, options: &PingOptions) -> Result<Host> {
    ping_target(
        &Context::new(options.privileged, options.source),
        address,
        options,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_options_are_refused() {
        let invalid =
            |options: PingOptions| matches!(options.requests(), Err(Error::InvalidOption { .. }));
        assert!(invalid(PingOptions::default().count(0)));
        assert!(invalid(PingOptions::default().timeout(Duration::ZERO)));
        assert!(invalid(PingOptions::default().ttl(0)));
        assert!(invalid(PingOptions::default().payload_size(70_000)));
        assert!(invalid(
            PingOptions::default()
                .source("192.0.2.1".parse::<IpAddr>().unwrap())
                .family(Family::V6)
        ));
        assert!(
            PingOptions::default()
                .interval(Duration::ZERO)
                .requests()
                .is_ok()
        );
        // Fits IPv6 but not IPv4.
        assert!(invalid(PingOptions::default().payload_size(65_528)));
        let requests = PingOptions::default()
            .payload_size(65_510)
            .requests()
            .unwrap();
        assert!(requests.check_family(Family::V6).is_ok());
        assert!(requests.check_family(Family::V4).is_err());
    }

    #[test]
    fn blocking_ping_inside_a_runtime_is_an_error_not_a_panic() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let result = runtime.block_on(async { ping("127.0.0.1", &PingOptions::default()) });
        let Err(Error::Runtime { reason }) = result else {
            panic!("{result:?}")
        };
        assert!(reason.contains("async_ping"), "{reason}");
    }
}
