//! [`ProbeOptions`]: the one block of options every kind of probe shares (what each
//! request looks like, how many, how often, from where), its checks, and the setters that
//! the options of each kind ([`PingOptions`](crate::PingOptions),
//! [`MultipingOptions`](crate::MultipingOptions),
//! [`TracerouteOptions`](crate::TracerouteOptions),
//! [`PathMtuOptions`](crate::PathMtuOptions), [`WatchOptions`](crate::WatchOptions)) offer
//! for the fields that apply to them.

use std::net::IpAddr;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::family::Family;
use crate::socket::check_timeout;
use crate::socket::core::check_source;
use crate::socket::dont_fragment::DontFragment;
use crate::socket::kind::SocketKind;
use crate::socket::request::{DEFAULT_PAYLOAD_SIZE, DEFAULT_TTL, check_payload_size};

/// What every call shares: the requests sent to each host and the socket they leave
/// from. The options of each kind of probe hold one, as their `probe` field, with setters
/// of the same names for the fields that apply to that kind.
///
/// Fields are public; the methods of the same names set them in a chain. The defaults
/// are those of [`PingOptions`](crate::PingOptions).
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
    /// The kind of socket: [`SocketKind::Auto`] (default) leaves it to the pinger, whose
    /// own default opens a raw socket where the process may (root or `CAP_NET_RAW`), else
    /// a datagram socket where the system admits it (on Linux, the process's group in
    /// `net.ipv4.ping_group_range`); [`SocketKind::Raw`] or [`SocketKind::Datagram`]
    /// forces one. [`privileged`](Self::privileged) is a shorthand.
    pub socket_kind: SocketKind,
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
    /// For a name with several addresses: `false` (default) probes its first address only,
    /// as `ping` does; `true` goes on to the next address when one gets no answer, as a
    /// `connect()` loop does. Applies to ping, multiping and watch (a traceroute or a path
    /// MTU search refuses it: one path is one address).
    ///
    /// A ping or a host of a sweep sends its `count` requests to the first address; if
    /// none is answered (timeouts, ICMP errors or failures to send), `count` more to the
    /// next, and so on: the [`Host`](crate::Host) is that of the address that answered,
    /// or of the last one tried. An address that cannot be probed at all (its family is
    /// excluded, no socket for it) is passed over at once. A watched name moves to its
    /// next address at the first probe lost there, its probes in flight forgotten; after
    /// its last address, the name is looked up again and probed from its first. Each lost
    /// probe is an event and counts in the target's state, whichever address it went to.
    /// A name with one address, and an IP address, are probed as without it. (A watched
    /// name whose every address failed is looked up again whatever
    /// [`resolve_every`](crate::WatchOptions::resolve_every) says.)
    pub try_next_address: bool,
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
            socket_kind: SocketKind::Auto,
            payload: None,
            payload_size: DEFAULT_PAYLOAD_SIZE,
            traffic_class: 0,
            ttl: DEFAULT_TTL,
            dont_fragment: DontFragment::System,
            try_next_address: false,
        }
    }
}

/// Gives the setters of [`probe_setters!`] the probe options of an options type.
pub(crate) trait HasProbe {
    fn probe_mut(&mut self) -> &mut ProbeOptions;
}

impl HasProbe for ProbeOptions {
    fn probe_mut(&mut self) -> &mut ProbeOptions {
        self
    }
}

/// Chain setters on `$options` for the named fields of [`ProbeOptions`]: each kind of
/// probe offers those that apply to it. `$options { probe }` holds its probe options in its
/// field `probe` (and so implements [`HasProbe`]); otherwise it implements it itself.
macro_rules! probe_setters {
    ($options:ty { probe }: $($field:ident),+ $(,)?) => {
        impl $crate::options::HasProbe for $options {
            fn probe_mut(&mut self) -> &mut $crate::options::ProbeOptions {
                &mut self.probe
            }
        }

        $crate::options::probe_setters!($options: $($field),+);
    };
    ($options:ty: $($field:ident),+ $(,)?) => {
        impl $options {
            $($crate::options::probe_setter!($field);)+
        }
    };
}

/// One setter of [`probe_setters!`].
macro_rules! probe_setter {
    (count) => {
        /// Sets [`ProbeOptions::count`](crate::ProbeOptions::count).
        pub fn count(mut self, count: usize) -> Self {
            $crate::options::HasProbe::probe_mut(&mut self).count = count;
            self
        }
    };
    (interval) => {
        /// Sets [`ProbeOptions::interval`](crate::ProbeOptions::interval).
        pub fn interval(mut self, interval: ::std::time::Duration) -> Self {
            $crate::options::HasProbe::probe_mut(&mut self).interval = interval;
            self
        }
    };
    (timeout) => {
        /// Sets [`ProbeOptions::timeout`](crate::ProbeOptions::timeout).
        pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
            $crate::options::HasProbe::probe_mut(&mut self).timeout = timeout;
            self
        }
    };
    (id) => {
        /// Sets [`ProbeOptions::id`](crate::ProbeOptions::id).
        pub fn id(mut self, id: u16) -> Self {
            $crate::options::HasProbe::probe_mut(&mut self).id = Some(id);
            self
        }
    };
    (source) => {
        /// Sets [`ProbeOptions::source`](crate::ProbeOptions::source).
        pub fn source(mut self, source: ::std::net::IpAddr) -> Self {
            $crate::options::HasProbe::probe_mut(&mut self).source = Some(source);
            self
        }
    };
    (family) => {
        /// Sets [`ProbeOptions::family`](crate::ProbeOptions::family).
        pub fn family(mut self, family: $crate::family::Family) -> Self {
            $crate::options::HasProbe::probe_mut(&mut self).family = Some(family);
            self
        }
    };
    (socket_kind) => {
        /// Sets [`ProbeOptions::socket_kind`](crate::ProbeOptions::socket_kind).
        pub fn socket_kind(mut self, kind: $crate::socket::kind::SocketKind) -> Self {
            $crate::options::HasProbe::probe_mut(&mut self).socket_kind = kind;
            self
        }

        /// Forces a raw socket (`true`) or a datagram socket (`false`), as Python
        /// icmplib's `privileged` does: a shorthand for
        /// [`socket_kind`](Self::socket_kind) with
        /// [`SocketKind::Raw`](crate::SocketKind::Raw) or
        /// [`SocketKind::Datagram`](crate::SocketKind::Datagram).
        pub fn privileged(self, privileged: bool) -> Self {
            self.socket_kind($crate::socket::kind::SocketKind::from_privileged(
                privileged,
            ))
        }
    };
    (payload) => {
        /// Sets [`ProbeOptions::payload`](crate::ProbeOptions::payload).
        pub fn payload(mut self, payload: Vec<u8>) -> Self {
            $crate::options::HasProbe::probe_mut(&mut self).payload = Some(payload);
            self
        }
    };
    (payload_size) => {
        /// Sets [`ProbeOptions::payload_size`](crate::ProbeOptions::payload_size).
        pub fn payload_size(mut self, payload_size: usize) -> Self {
            $crate::options::HasProbe::probe_mut(&mut self).payload_size = payload_size;
            self
        }
    };
    (traffic_class) => {
        /// Sets [`ProbeOptions::traffic_class`](crate::ProbeOptions::traffic_class).
        pub fn traffic_class(mut self, traffic_class: u8) -> Self {
            $crate::options::HasProbe::probe_mut(&mut self).traffic_class = traffic_class;
            self
        }
    };
    (ttl) => {
        /// Sets [`ProbeOptions::ttl`](crate::ProbeOptions::ttl).
        pub fn ttl(mut self, ttl: u8) -> Self {
            $crate::options::HasProbe::probe_mut(&mut self).ttl = ttl;
            self
        }
    };
    (try_next_address) => {
        /// Sets [`ProbeOptions::try_next_address`](crate::ProbeOptions::try_next_address).
        pub fn try_next_address(mut self, try_next_address: bool) -> Self {
            $crate::options::HasProbe::probe_mut(&mut self).try_next_address = try_next_address;
            self
        }
    };
    (dont_fragment) => {
        /// Sets [`ProbeOptions::dont_fragment`](crate::ProbeOptions::dont_fragment).
        pub fn dont_fragment(
            mut self,
            dont_fragment: $crate::socket::dont_fragment::DontFragment,
        ) -> Self {
            $crate::options::HasProbe::probe_mut(&mut self).dont_fragment = dont_fragment;
            self
        }
    };
}
pub(crate) use {probe_setter, probe_setters};

probe_setters!(ProbeOptions: count, interval, timeout, id, source, family, socket_kind, payload,
    payload_size, traffic_class, ttl, dont_fragment, try_next_address);

impl ProbeOptions {
    /// Checks the options: a count and a timeout above zero, a TTL of at least 1, a
    /// payload that fits an IPv6 packet (the family's own limit is checked once known),
    /// a source of the forced family. What this system cannot do is checked where the
    /// call is set up, which knows the socket kind.
    pub(crate) fn check(&self) -> Result<()> {
        if self.count == 0 {
            return Err(Error::invalid("count must be at least 1"));
        }
        check_timeout(self.timeout)?;
        if self.ttl == 0 {
            return Err(Error::invalid("ttl must be at least 1"));
        }
        if let Some(source) = self.source {
            check_source(self.family.unwrap_or(Family::of(&source)), source)?;
        }
        check_payload_size(
            self.family.or(self.source.as_ref().map(Family::of)),
            self.payload_len(),
        )
    }

    /// The size of each request's payload.
    pub(crate) fn payload_len(&self) -> usize {
        self.payload.as_ref().map_or(self.payload_size, Vec::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MultipingOptions, PingOptions, TracerouteOptions};

    #[test]
    fn invalid_probe_options_are_refused() {
        let check = |options: ProbeOptions| options.check();
        assert!(Error::is_invalid(&check(ProbeOptions::default().count(0))));
        assert!(Error::is_invalid(&check(
            ProbeOptions::default().timeout(Duration::ZERO)
        )));
        assert!(Error::is_invalid(&check(ProbeOptions::default().ttl(0))));
        assert!(Error::is_invalid(&check(
            ProbeOptions::default().payload_size(70_000)
        )));
        assert!(Error::is_invalid(&check(
            ProbeOptions::default()
                .source("192.0.2.1".parse::<IpAddr>().unwrap())
                .family(Family::V6)
        )));
        assert!(check(ProbeOptions::default().interval(Duration::ZERO)).is_ok());
        // The limit quoted is the family's when it is known, both otherwise.
        let reason = |result: Result<()>| match result {
            Err(Error::InvalidOption { reason }) => reason,
            other => panic!("{other:?}"),
        };
        let v4 = reason(check(
            ProbeOptions::default()
                .family(Family::V4)
                .payload_size(65_510),
        ));
        assert!(v4.contains("65507") && !v4.contains("IPv6"), "{v4}");
        let either = reason(check(ProbeOptions::default().payload_size(70_000)));
        assert!(
            either.contains("IPv4") && either.contains("IPv6"),
            "{either}"
        );
        // Fits IPv6 but not IPv4: the family's own limit is checked once it is known.
        assert!(check(ProbeOptions::default().payload_size(65_510)).is_ok());
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
            assert_eq!(probe.socket_kind, SocketKind::Auto);
            assert!(probe.source.is_none() && probe.id.is_none());
        }
    }
}
