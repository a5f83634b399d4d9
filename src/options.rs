//! The options of the calls: [`ProbeOptions`], the one block every call shares (what each
//! request looks like, how many, how often, from where), and the three option types that
//! hold it, [`PingOptions`], [`MultipingOptions`] and [`TracerouteOptions`], each with the
//! defaults of the Python library.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::family::Family;
use crate::pacer::Pacer;
use crate::scheduler::Settings;
use crate::socket::core::check_source;
use crate::socket::dont_fragment::DontFragment;
use crate::socket::request::{DEFAULT_PAYLOAD_SIZE, DEFAULT_TTL, check_payload_size};

/// Sockets per family a sweep may spread over ([`MultipingOptions::sockets`]).
pub(crate) const MAX_SOCKETS: usize = 64;

/// What every call shares: the requests sent to each host and the socket they leave
/// from. [`PingOptions`], [`MultipingOptions`] and [`TracerouteOptions`] each hold one, as
/// their `probe` field, with setters of the same names.
///
/// Fields are public; the methods of the same names set them in a chain. The defaults
/// are those of [`PingOptions`].
///
/// ```
/// use std::time::Duration;
/// use icmplib::{MultipingOptions, ProbeOptions};
///
/// let probe = ProbeOptions::default().count(2).timeout(Duration::from_millis(500));
/// let options = MultipingOptions::from(probe).concurrent_tasks(100);
/// assert_eq!(options.probe.count, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeOptions {
    /// Requests per host (per hop for a traceroute). Must be at least 1.
    pub count: usize,
    /// Pause between a reply (or its timeout) and the next request to the same host; for
    /// a parallel traceroute, between two rounds of probes.
    pub interval: Duration,
    /// How long to wait for each reply, from the moment its request left. Must be more
    /// than zero.
    pub timeout: Duration,
    /// ICMP identifier of raw requests; `None` (default) lets the library pick one that no
    /// other ping of the process uses. Datagram sockets ignore it: the kernel picks.
    pub id: Option<u16>,
    /// Local address to send from (default: the system chooses). Requests then go only to
    /// its family.
    pub source: Option<IpAddr>,
    /// For names: `None` (default) tries IPv4 then IPv6 (or the source's family); or force
    /// one family.
    pub family: Option<Family>,
    /// Raw socket (`true`, default: root or `CAP_NET_RAW`) or unprivileged datagram socket
    /// (`false`: on Linux, the process's group must be in `net.ipv4.ping_group_range`).
    pub privileged: bool,
    /// A fixed payload; `None` (default) sends `payload_size` random bytes per request.
    pub payload: Option<Vec<u8>>,
    /// Size of the random payload (default 56).
    pub payload_size: usize,
    /// IPv4 type of service / IPv6 traffic class (default 0).
    pub traffic_class: u8,
    /// Time to live / hop limit of the requests (default 64). A traceroute sets it per
    /// probe, from `first_hop` to `max_hops`, and refuses any other value here.
    pub ttl: u8,
    /// Whether requests may be fragmented on the way (default: the system's setting).
    /// A request larger than the path MTU then fails with
    /// [`Error::PacketTooBig`], which gives the MTU that passes.
    pub dont_fragment: DontFragment,
}

impl Default for ProbeOptions {
    fn default() -> ProbeOptions {
        ProbeOptions {
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
            dont_fragment: DontFragment::System,
        }
    }
}

/// Chain setters for the fields of [`ProbeOptions`], on the block itself (`probe` empty)
/// or on an options type holding it in its `probe` field.
macro_rules! probe_setters {
    ($options:ty $(, $probe:ident)?) => {
        impl $options {
            /// Sets [`ProbeOptions::count`].
            pub fn count(mut self, count: usize) -> Self {
                self$(.$probe)?.count = count;
                self
            }

            /// Sets [`ProbeOptions::interval`].
            pub fn interval(mut self, interval: ::std::time::Duration) -> Self {
                self$(.$probe)?.interval = interval;
                self
            }

            /// Sets [`ProbeOptions::timeout`].
            pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
                self$(.$probe)?.timeout = timeout;
                self
            }

            /// Sets [`ProbeOptions::id`].
            pub fn id(mut self, id: u16) -> Self {
                self$(.$probe)?.id = Some(id);
                self
            }

            /// Sets [`ProbeOptions::source`].
            pub fn source(mut self, source: ::std::net::IpAddr) -> Self {
                self$(.$probe)?.source = Some(source);
                self
            }

            /// Sets [`ProbeOptions::family`].
            pub fn family(mut self, family: $crate::family::Family) -> Self {
                self$(.$probe)?.family = Some(family);
                self
            }

            /// Sets [`ProbeOptions::privileged`].
            pub fn privileged(mut self, privileged: bool) -> Self {
                self$(.$probe)?.privileged = privileged;
                self
            }

            /// Sets [`ProbeOptions::payload`].
            pub fn payload(mut self, payload: Vec<u8>) -> Self {
                self$(.$probe)?.payload = Some(payload);
                self
            }

            /// Sets [`ProbeOptions::payload_size`].
            pub fn payload_size(mut self, payload_size: usize) -> Self {
                self$(.$probe)?.payload_size = payload_size;
                self
            }

            /// Sets [`ProbeOptions::traffic_class`].
            pub fn traffic_class(mut self, traffic_class: u8) -> Self {
                self$(.$probe)?.traffic_class = traffic_class;
                self
            }

            /// Sets [`ProbeOptions::ttl`].
            pub fn ttl(mut self, ttl: u8) -> Self {
                self$(.$probe)?.ttl = ttl;
                self
            }

            /// Sets [`ProbeOptions::dont_fragment`].
            pub fn dont_fragment(mut self, dont_fragment: $crate::socket::dont_fragment::DontFragment) -> Self {
                self$(.$probe)?.dont_fragment = dont_fragment;
                self
            }
        }
    };
}
pub(crate) use probe_setters;

probe_setters!(ProbeOptions);
probe_setters!(PingOptions, probe);
probe_setters!(MultipingOptions, probe);
probe_setters!(TracerouteOptions, probe);

impl ProbeOptions {
    /// Checks the options: a count and a timeout above zero, a TTL of at least 1, a
    /// payload that fits an IPv6 packet (the family's own limit is checked once known),
    /// a source of the forced family.
    fn check(&self) -> Result<()> {
        if self.count == 0 {
            return Err(Error::invalid("count must be at least 1"));
        }
        if self.timeout.is_zero() {
            return Err(Error::invalid("timeout must be greater than zero"));
        }
        if self.ttl == 0 {
            return Err(Error::invalid("ttl must be at least 1"));
        }
        if cfg!(windows) && self.traffic_class != 0 {
            return Err(Error::invalid(
                "Windows cannot set the TOS / traffic class of ICMP requests: leave \
                 traffic_class at 0",
            ));
        }
        if cfg!(windows) && self.dont_fragment != DontFragment::System {
            return Err(Error::invalid(
                "Windows cannot set Don't Fragment on ICMP requests here yet: leave \
                 dont_fragment at DontFragment::System",
            ));
        }
        if let Some(source) = self.source {
            check_source(self.family.unwrap_or(Family::of(&source)), source)?;
        }
        let payload_len = self.payload.as_ref().map_or(self.payload_size, Vec::len);
        let family = self.family.or(self.source.as_ref().map(Family::of));
        check_payload_size(family, payload_len)
    }

    /// The scheduler's settings for these options, checked, with `concurrency` targets in
    /// flight and `pacer` spacing the requests; `source` is where they leave from.
    pub(crate) fn settings(
        &self,
        source: Option<IpAddr>,
        concurrency: usize,
        pacer: Option<Arc<Pacer>>,
    ) -> Result<Settings> {
        self.check()?;
        Ok(Settings {
            timeout: self.timeout,
            family: self.family,
            source_family: source.as_ref().map(Family::of),
            concurrency,
            pacer,
            id: self.id,
            payload: self.payload.clone().map(Arc::from),
            payload_size: self.payload_size,
            traffic_class: self.traffic_class,
        })
    }
}

/// Options of [`ping`](crate::ping), [`async_ping`](crate::async_ping) and
/// [`Pinger::ping`](crate::Pinger::ping): the [`ProbeOptions`] with their defaults
/// (4 requests, 1 s apart, 2 s timeout).
///
/// ```
/// use std::time::Duration;
/// use icmplib::PingOptions;
///
/// let options = PingOptions::default()
///     .count(10)
///     .interval(Duration::from_millis(200))
///     .privileged(false);
/// assert_eq!(options.probe.timeout, Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PingOptions {
    /// The requests and the socket.
    pub probe: ProbeOptions,
}

impl From<ProbeOptions> for PingOptions {
    fn from(probe: ProbeOptions) -> PingOptions {
        PingOptions { probe }
    }
}

/// Options of [`multiping`](crate::multiping), [`async_multiping`](crate::async_multiping)
/// and [`multiping_stream`](crate::multiping_stream): the [`ProbeOptions`] (defaults: 2
/// requests per host, 0.5 s apart, 2 s timeout), the hosts in flight and a rate limit.
///
/// ```
/// use std::time::Duration;
/// use icmplib::MultipingOptions;
///
/// let options = MultipingOptions::default()
///     .count(1)
///     .timeout(Duration::from_secs(1))
///     .concurrent_tasks(1_000)
///     .rate_limit(20_000);
/// assert_eq!(options.probe.interval, Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MultipingOptions {
    /// The requests to each host and the socket.
    pub probe: ProbeOptions,
    /// Hosts in flight at once (default 50). Memory grows with this, not with the number
    /// of hosts.
    pub concurrent_tasks: usize,
    /// At most this many requests per second for the whole call (default: no limit), for
    /// networks that must not see bursts.
    pub rate_limit: Option<u32>,
    /// Sockets per family the sweep spreads over (default 1, at most 64): each with its
    /// own reader, and its share of the targets and of `concurrent_tasks` probed by a task
    /// of its own, so that a sweep can use several cores where one socket's send path is
    /// the limit (measured: two datagram sockets on a 2-core machine sweep 1.35 times as
    /// fast as one). Needs a multi-thread runtime to help.
    ///
    /// Raw sockets (`privileged = true`) spread only on Linux, where each of a pinger's raw
    /// sockets has an in-kernel filter on its echo identifier: every raw socket receives a
    /// copy of every reply, and the filter drops the others' before they are queued. A
    /// raw sweep's sockets are its own, not the pinger's shared one. Elsewhere, where the
    /// system refuses the filter, and with a chosen [`ProbeOptions::id`] (which every
    /// socket would share), a raw sweep uses one socket whatever this says.
    pub sockets: usize,
}

impl Default for MultipingOptions {
    fn default() -> MultipingOptions {
        MultipingOptions::from(
            ProbeOptions::default()
                .count(2)
                .interval(Duration::from_millis(500)),
        )
    }
}

impl From<ProbeOptions> for MultipingOptions {
    /// These requests, 50 hosts in flight, no rate limit.
    fn from(probe: ProbeOptions) -> MultipingOptions {
        MultipingOptions {
            probe,
            concurrent_tasks: 50,
            rate_limit: None,
            sockets: 1,
        }
    }
}

impl MultipingOptions {
    /// Sets [`MultipingOptions::concurrent_tasks`].
    pub fn concurrent_tasks(mut self, concurrent_tasks: usize) -> Self {
        self.concurrent_tasks = concurrent_tasks;
        self
    }

    /// Sets [`MultipingOptions::rate_limit`].
    pub fn rate_limit(mut self, rate_limit: u32) -> Self {
        self.rate_limit = Some(rate_limit);
        self
    }

    /// Sets [`MultipingOptions::sockets`].
    pub fn sockets(mut self, sockets: usize) -> Self {
        self.sockets = sockets;
        self
    }

    /// The scheduler's settings, checked.
    pub(crate) fn settings(&self, source: Option<IpAddr>) -> Result<Settings> {
        if self.concurrent_tasks == 0 {
            return Err(Error::invalid("concurrent_tasks must be at least 1"));
        }
        if self.rate_limit == Some(0) {
            return Err(Error::invalid(
                "rate_limit must be at least 1 request per second",
            ));
        }
        if !(1..=MAX_SOCKETS).contains(&self.sockets) {
            return Err(Error::invalid(format!(
                "sockets must be 1 to {MAX_SOCKETS}, not {}",
                self.sockets
            )));
        }
        let pacer = self
            .rate_limit
            .map(|rate| Arc::new(Pacer::per_second(rate)));
        self.probe.settings(source, self.concurrent_tasks, pacer)
    }
}

/// Options of [`traceroute`](crate::traceroute), [`async_traceroute`](crate::async_traceroute)
/// and [`Pinger::traceroute`](crate::Pinger::traceroute): the [`ProbeOptions`] (defaults:
/// 2 probes per hop, 0.05 s apart, 2 s timeout; `ttl` is set per probe) and the distances
/// to probe.
///
/// ```
/// use icmplib::TracerouteOptions;
///
/// let options = TracerouteOptions::default().max_hops(16).fast(true).parallel(true);
/// assert_eq!(options.probe.count, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TracerouteOptions {
    /// The probes of each hop and the socket.
    pub probe: ProbeOptions,
    /// The TTL of the first probes (default 1).
    pub first_hop: u8,
    /// The largest TTL probed (default 30).
    pub max_hops: u8,
    /// Go to the next hop as soon as one probe of a hop was answered (default false).
    pub fast: bool,
    /// Probe every hop at once (default false: one hop after the other, as the Python
    /// library): a whole trace then takes about one timeout instead of one per silent hop.
    pub parallel: bool,
}

impl Default for TracerouteOptions {
    fn default() -> TracerouteOptions {
        TracerouteOptions::from(
            ProbeOptions::default()
                .count(2)
                .interval(Duration::from_millis(50)),
        )
    }
}

impl From<ProbeOptions> for TracerouteOptions {
    /// These probes, from hop 1 to 30, one hop after the other.
    fn from(probe: ProbeOptions) -> TracerouteOptions {
        TracerouteOptions {
            probe,
            first_hop: 1,
            max_hops: 30,
            fast: false,
            parallel: false,
        }
    }
}

impl TracerouteOptions {
    /// Sets [`TracerouteOptions::first_hop`].
    pub fn first_hop(mut self, first_hop: u8) -> Self {
        self.first_hop = first_hop;
        self
    }

    /// Sets [`TracerouteOptions::max_hops`].
    pub fn max_hops(mut self, max_hops: u8) -> Self {
        self.max_hops = max_hops;
        self
    }

    /// Sets [`TracerouteOptions::fast`].
    pub fn fast(mut self, fast: bool) -> Self {
        self.fast = fast;
        self
    }

    /// Sets [`TracerouteOptions::parallel`].
    pub fn parallel(mut self, parallel: bool) -> Self {
        self.parallel = parallel;
        self
    }

    /// The scheduler's settings, checked.
    pub(crate) fn settings(&self, source: Option<IpAddr>) -> Result<Settings> {
        if self.first_hop == 0 {
            return Err(Error::invalid("first_hop must be at least 1"));
        }
        if self.max_hops < self.first_hop {
            return Err(Error::invalid(format!(
                "max_hops ({}) must be at least first_hop ({})",
                self.max_hops, self.first_hop
            )));
        }
        if self.probe.ttl != DEFAULT_TTL {
            return Err(Error::invalid(
                "ttl does not apply to a traceroute: its probes carry TTLs first_hop to max_hops",
            ));
        }
        self.probe.settings(source, 1, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(result: Result<Settings>) -> bool {
        matches!(result, Err(Error::InvalidOption { .. }))
    }

    #[test]
    fn invalid_probe_options_are_refused() {
        let settings = |options: ProbeOptions| options.settings(None, 1, None);
        assert!(invalid(settings(ProbeOptions::default().count(0))));
        assert!(invalid(settings(
            ProbeOptions::default().timeout(Duration::ZERO)
        )));
        assert!(invalid(settings(ProbeOptions::default().ttl(0))));
        assert!(invalid(settings(
            ProbeOptions::default().payload_size(70_000)
        )));
        assert!(invalid(settings(
            ProbeOptions::default()
                .source("192.0.2.1".parse::<IpAddr>().unwrap())
                .family(Family::V6)
        )));
        assert!(settings(ProbeOptions::default().interval(Duration::ZERO)).is_ok());
        // The limit quoted is the family's when it is known, both otherwise.
        let reason = |result: Result<Settings>| match result {
            Err(Error::InvalidOption { reason }) => reason,
            other => panic!("{other:?}"),
        };
        let v4 = reason(settings(
            ProbeOptions::default()
                .family(Family::V4)
                .payload_size(65_510),
        ));
        assert!(v4.contains("65507") && !v4.contains("IPv6"), "{v4}");
        let either = reason(settings(ProbeOptions::default().payload_size(70_000)));
        assert!(
            either.contains("IPv4") && either.contains("IPv6"),
            "{either}"
        );
        // Fits IPv6 but not IPv4.
        let settings = settings(ProbeOptions::default().payload_size(65_510)).unwrap();
        assert!(settings.check_family(Family::V6).is_ok());
        assert!(settings.check_family(Family::V4).is_err());
    }

    #[test]
    fn the_source_gives_names_their_family() {
        let source: IpAddr = "2001:db8::1".parse().unwrap();
        let settings = ProbeOptions::default()
            .settings(Some(source), 1, None)
            .unwrap();
        assert_eq!(settings.lookup_family(), Some(Family::V6));
        assert_eq!(
            settings.family, None,
            "an address of the other family is not refused"
        );
        let forced = ProbeOptions::default()
            .family(Family::V4)
            .settings(None, 1, None)
            .unwrap();
        assert_eq!(forced.lookup_family(), Some(Family::V4));
    }

    #[test]
    fn invalid_multiping_options_are_refused() {
        let settings = |options: MultipingOptions| options.settings(None);
        assert!(invalid(settings(
            MultipingOptions::default().concurrent_tasks(0)
        )));
        assert!(invalid(settings(MultipingOptions::default().count(0))));
        assert!(invalid(settings(MultipingOptions::default().rate_limit(0))));
        assert!(settings(MultipingOptions::default().rate_limit(1)).is_ok());
    }

    #[test]
    fn invalid_traceroute_options_are_refused() {
        let settings = |options: TracerouteOptions| options.settings(None);
        assert!(invalid(settings(TracerouteOptions::default().first_hop(0))));
        assert!(invalid(settings(
            TracerouteOptions::default().first_hop(5).max_hops(4)
        )));
        assert!(invalid(settings(TracerouteOptions::default().count(0))));
        assert!(invalid(settings(TracerouteOptions::default().ttl(3))));
        assert!(settings(TracerouteOptions::default().first_hop(5).max_hops(5)).is_ok());
    }

    #[test]
    fn each_options_type_keeps_the_defaults_of_the_python_library() {
        let ping = PingOptions::default().probe;
        assert_eq!((ping.count, ping.interval), (4, Duration::from_secs(1)));
        let multiping = MultipingOptions::default();
        assert_eq!(
            (
                multiping.probe.count,
                multiping.probe.interval,
                multiping.concurrent_tasks
            ),
            (2, Duration::from_millis(500), 50)
        );
        let traceroute = TracerouteOptions::default();
        assert_eq!(
            (traceroute.probe.count, traceroute.probe.interval),
            (2, Duration::from_millis(50))
        );
        assert_eq!((traceroute.first_hop, traceroute.max_hops), (1, 30));
        for probe in [ping, multiping.probe, traceroute.probe] {
            assert_eq!(probe.timeout, Duration::from_secs(2));
            assert_eq!(
                (probe.payload_size, probe.ttl, probe.traffic_class),
                (56, 64, 0)
            );
            assert!(probe.privileged && probe.source.is_none() && probe.id.is_none());
        }
    }
}
