//! The echo request a socket sends.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::family::Family;
use crate::packet::{EchoKind, emit_echo};
use crate::socket::limits::{self, Capability};

/// Payload size of a request when none is given, as ping and the Python library use.
pub const DEFAULT_PAYLOAD_SIZE: usize = 56;
/// TTL / hop limit of a request when none is given.
pub const DEFAULT_TTL: u8 = 64;

/// The largest ICMPv4 echo payload: 65,535 bytes minus the IPv4 and ICMP headers.
pub(crate) const MAX_PAYLOAD_V4: usize = 65_535 - 20 - 8;
/// The largest ICMPv6 echo payload (no jumbograms): 65,535 bytes minus the ICMPv6 header.
pub(crate) const MAX_PAYLOAD_V6: usize = 65_535 - 8;

/// An ICMP echo request: where it goes, its identifier and sequence number, its payload,
/// and the TTL and traffic class it is sent with.
///
/// Cloning is cheap: the payload is shared.
///
/// ```
/// use icmplib::IcmpRequest;
///
/// let request = IcmpRequest::new("127.0.0.1".parse().unwrap(), 42, 1)
///     .with_payload(b"hello".to_vec())
///     .with_ttl(16);
/// assert_eq!(request.payload(), b"hello");
/// assert_eq!((request.id(), request.sequence(), request.ttl()), (42, 1, 16));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpRequest {
    destination: IpAddr,
    id: u16,
    sequence: u16,
    payload: Arc<[u8]>,
    /// A payload size asked for that no packet can carry: the request is refused when
    /// sent, and no such payload is ever allocated.
    oversized: Option<usize>,
    /// The interface of a link-local IPv6 destination (its zone); 0 for none.
    scope_id: u32,
    ttl: u8,
    traffic_class: u8,
}

impl IcmpRequest {
    /// A request to `destination` with a random payload of [`DEFAULT_PAYLOAD_SIZE`]
    /// bytes, TTL [`DEFAULT_TTL`] and traffic class 0.
    ///
    /// On an unprivileged (datagram) socket the kernel replaces `id` with its own.
    pub fn new(destination: IpAddr, id: u16, sequence: u16) -> IcmpRequest {
        IcmpRequest {
            destination,
            id,
            sequence,
            payload: random_payload(DEFAULT_PAYLOAD_SIZE),
            oversized: None,
            scope_id: 0,
            ttl: DEFAULT_TTL,
            traffic_class: 0,
        }
    }

    /// A request from all its parts, without drawing a random payload first.
    pub(crate) fn from_parts(
        destination: IpAddr,
        id: u16,
        sequence: u16,
        payload: Arc<[u8]>,
        ttl: u8,
        traffic_class: u8,
    ) -> IcmpRequest {
        IcmpRequest {
            destination,
            id,
            sequence,
            payload,
            oversized: None,
            scope_id: 0,
            ttl,
            traffic_class,
        }
    }

    /// Uses `payload` as the payload.
    pub fn with_payload(mut self, payload: impl Into<Arc<[u8]>>) -> IcmpRequest {
        self.payload = payload.into();
        self.oversized = None;
        self
    }

    /// Uses a random payload of `size` bytes. A size no ICMP packet can carry (more than
    /// 65,527 bytes) allocates nothing: the request then has an empty payload and sending
    /// it fails with [`Error::InvalidOption`] naming the size. To be told at once, use
    /// [`try_with_payload_size`](IcmpRequest::try_with_payload_size).
    ///
    /// ```
    /// use icmplib::IcmpRequest;
    ///
    /// let request = IcmpRequest::new("::1".parse().unwrap(), 1, 1).with_payload_size(usize::MAX);
    /// assert_eq!(request.payload_size(), 0);
    /// ```
    pub fn with_payload_size(mut self, size: usize) -> IcmpRequest {
        if size > MAX_PAYLOAD_V6 {
            self.payload = Arc::from(&[][..]);
            self.oversized = Some(size);
        } else {
            self.payload = random_payload(size);
            self.oversized = None;
        }
        self
    }

    /// Uses a random payload of `size` bytes, refusing at once a size no packet of the
    /// destination's family can carry (65,507 bytes for IPv4, 65,527 for IPv6) with
    /// [`Error::InvalidOption`] quoting that limit. [`with_payload_size`] is the
    /// infallible form, as in the Python library, whose send fails instead.
    ///
    /// [`with_payload_size`]: IcmpRequest::with_payload_size
    ///
    /// ```
    /// use icmplib::{Error, IcmpRequest};
    ///
    /// let request = IcmpRequest::new("127.0.0.1".parse().unwrap(), 1, 1);
    /// assert_eq!(request.clone().try_with_payload_size(1_000)?.payload_size(), 1_000);
    /// assert!(matches!(
    ///     request.try_with_payload_size(65_508),
    ///     Err(Error::InvalidOption { .. })
    /// ));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_with_payload_size(self, size: usize) -> Result<IcmpRequest> {
        check_payload_size(Some(self.family()), size)?;
        Ok(self.with_payload_size(size))
    }

    /// Sends the request out of the interface of this index: the zone a link-local IPv6
    /// destination needs (`fe80::1%2`). 0 (the default) leaves it to the routes.
    pub fn with_scope_id(mut self, scope_id: u32) -> IcmpRequest {
        self.scope_id = scope_id;
        self
    }

    /// The interface a link-local IPv6 destination is reached through; 0 for none.
    pub fn scope_id(&self) -> u32 {
        self.scope_id
    }

    /// Sends the request with this TTL (IPv4) or hop limit (IPv6).
    pub fn with_ttl(mut self, ttl: u8) -> IcmpRequest {
        self.ttl = ttl;
        self
    }

    /// Sends the request with this type of service (IPv4) or traffic class (IPv6) byte.
    pub fn with_traffic_class(mut self, traffic_class: u8) -> IcmpRequest {
        self.traffic_class = traffic_class;
        self
    }

    /// The destination address.
    pub fn destination(&self) -> IpAddr {
        self.destination
    }

    /// The family of the destination.
    pub fn family(&self) -> Family {
        Family::of(&self.destination)
    }

    /// The identifier.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The sequence number.
    pub fn sequence(&self) -> u16 {
        self.sequence
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload size in bytes.
    pub fn payload_size(&self) -> usize {
        self.payload.len()
    }

    /// The TTL (IPv4) or hop limit (IPv6).
    pub fn ttl(&self) -> u8 {
        self.ttl
    }

    /// The type of service (IPv4) or traffic class (IPv6).
    pub fn traffic_class(&self) -> u8 {
        self.traffic_class
    }

    /// The payload, shared.
    #[cfg(windows)]
    pub(crate) fn payload_arc(&self) -> Arc<[u8]> {
        Arc::clone(&self.payload)
    }

    /// Checks that the request can be sent on a socket of `family`.
    pub(crate) fn validate(&self, family: Family) -> Result<()> {
        if self.family() != family {
            return Err(Error::invalid(format!(
                "cannot send an {} request to {} on an {family} socket",
                self.family(),
                self.destination
            )));
        }
        check_payload_size(Some(family), self.oversized.unwrap_or(self.payload.len()))?;
        if self.scope_id != 0 && family == Family::V4 {
            return Err(Error::invalid(format!(
                "{} is an IPv4 address: it has no zone (scope id {})",
                self.destination, self.scope_id
            )));
        }
        if self.ttl == 0 {
            return Err(Error::invalid("ttl must be at least 1"));
        }
        if self.traffic_class != 0 {
            limits::check(Capability::TrafficClass, true)?;
        }
        Ok(())
    }

    /// Appends the ICMP message to `out` (see [`emit_echo`]).
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        emit_echo(
            self.family(),
            EchoKind::Request,
            self.id,
            self.sequence,
            &self.payload,
            out,
        );
    }
}

/// Checks a payload size against the largest datagram of `family`, or of either family
/// when it is not known yet.
pub(crate) fn check_payload_size(family: Option<Family>, size: usize) -> Result<()> {
    let max = match family {
        Some(Family::V4) => MAX_PAYLOAD_V4,
        Some(Family::V6) | None => MAX_PAYLOAD_V6,
    };
    if size <= max {
        return Ok(());
    }
    let limit = match family {
        Some(family) => format!("{max} bytes fit in an {family} packet"),
        None => format!(
            "{MAX_PAYLOAD_V4} bytes fit in an IPv4 packet, {MAX_PAYLOAD_V6} in an IPv6 packet"
        ),
    };
    Err(Error::invalid(format!(
        "payload of {size} bytes is too large: at most {limit}"
    )))
}

/// A payload of `size` random bytes.
pub(crate) fn random_payload(size: usize) -> Arc<[u8]> {
    // The usual sizes are drawn on the stack and copied once into the `Arc`, instead of
    // allocating a vector first (a few percent of a sweep's own time).
    let mut small = [0u8; 128];
    if let Some(payload) = small.get_mut(..size) {
        rand::fill(payload);
        return Arc::from(&*payload);
    }
    let mut payload = vec![0u8; size];
    rand::fill(&mut payload[..]);
    payload.into()
}

impl fmt::Display for IcmpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "echo request to {}: id={} seq={} size={} ttl={}",
            self.destination,
            self.id,
            self.sequence,
            self.payload.len(),
            self.ttl
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_random_payloads() {
        let a = IcmpRequest::new("127.0.0.1".parse().unwrap(), 1, 2);
        let b = IcmpRequest::new("127.0.0.1".parse().unwrap(), 1, 2);
        assert_eq!(a.payload_size(), DEFAULT_PAYLOAD_SIZE);
        assert_eq!((a.ttl(), a.traffic_class()), (DEFAULT_TTL, 0));
        assert_ne!(a.payload(), b.payload(), "payloads are random");
        assert_eq!(
            a.to_string(),
            "echo request to 127.0.0.1: id=1 seq=2 size=56 ttl=64"
        );
    }

    #[test]
    fn random_payloads_have_their_size_on_both_sides_of_the_stack_buffer() {
        for size in [0, 1, 56, 127, 128, 129, 1472, 65_000] {
            let (a, b) = (random_payload(size), random_payload(size));
            assert_eq!((a.len(), b.len()), (size, size));
            if size >= 16 {
                assert_ne!(a, b, "{size} bytes are random");
            }
        }
    }

    #[test]
    fn validation() {
        let v4 = IcmpRequest::new("192.0.2.1".parse().unwrap(), 1, 1);
        assert!(v4.validate(Family::V4).is_ok());
        assert!(matches!(
            v4.validate(Family::V6),
            Err(Error::InvalidOption { .. })
        ));
        let big = v4.clone().with_payload_size(MAX_PAYLOAD_V4 + 1);
        assert_eq!(big.payload_size(), MAX_PAYLOAD_V4 + 1);
        assert!(matches!(
            big.validate(Family::V4),
            Err(Error::InvalidOption { .. })
        ));
        let fits = v4.clone().with_payload_size(MAX_PAYLOAD_V4);
        assert!(fits.validate(Family::V4).is_ok());
        assert!(v4.with_ttl(0).validate(Family::V4).is_err());
        let v6 = IcmpRequest::new("2001:db8::1".parse().unwrap(), 1, 1);
        assert!(
            v6.clone()
                .with_payload_size(MAX_PAYLOAD_V6)
                .validate(Family::V6)
                .is_ok()
        );
        // A size no packet can carry allocates nothing and is refused when sent.
        for size in [usize::MAX, 1 << 40, MAX_PAYLOAD_V6 + 1] {
            let huge = v6.clone().with_payload_size(size);
            assert_eq!(huge.payload_size(), 0);
            let Err(Error::InvalidOption { reason }) = huge.validate(Family::V6) else {
                panic!("{size} bytes accepted");
            };
            assert!(reason.contains(&size.to_string()), "{reason}");
        }
        // An IPv4 request too large for IPv4 quotes the IPv4 limit.
        let Err(Error::InvalidOption { reason }) = big.validate(Family::V4) else {
            panic!("too large accepted");
        };
        assert!(
            reason.contains("65507") && reason.contains("IPv4"),
            "{reason}"
        );
        assert!(!reason.contains("IPv6"), "{reason}");
    }

    #[test]
    fn try_with_payload_size_refuses_at_construction_what_the_family_cannot_carry() {
        let v4 = IcmpRequest::new("192.0.2.1".parse().unwrap(), 1, 1);
        let v6 = IcmpRequest::new("2001:db8::1".parse().unwrap(), 1, 1);
        assert_eq!(
            v4.clone()
                .try_with_payload_size(MAX_PAYLOAD_V4)
                .unwrap()
                .payload_size(),
            MAX_PAYLOAD_V4
        );
        assert_eq!(
            v6.clone()
                .try_with_payload_size(MAX_PAYLOAD_V6)
                .unwrap()
                .payload_size(),
            MAX_PAYLOAD_V6
        );
        for size in [MAX_PAYLOAD_V4 + 1, MAX_PAYLOAD_V6 + 1, 1 << 40, usize::MAX] {
            let Err(Error::InvalidOption { reason }) = v4.clone().try_with_payload_size(size)
            else {
                panic!("{size} bytes accepted for IPv4");
            };
            assert!(
                reason.contains("65507") && reason.contains("IPv4"),
                "{reason}"
            );
        }
        for size in [MAX_PAYLOAD_V6 + 1, usize::MAX] {
            let Err(Error::InvalidOption { reason }) = v6.clone().try_with_payload_size(size)
            else {
                panic!("{size} bytes accepted for IPv6");
            };
            assert!(
                reason.contains("65527") && reason.contains("IPv6"),
                "{reason}"
            );
        }
    }
}
