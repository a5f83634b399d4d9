//! Decoding what a socket read into something a request can be matched against: an echo
//! reply, or an ICMP error quoting one of our requests (from the packet itself on a raw
//! socket, from the kernel's error queue on a datagram socket).

use std::net::IpAddr;
use std::ops::Range;
use std::time::{Duration, Instant, SystemTime};

use super::core::SocketClass;
use super::reply::IcmpReply;
use super::request::IcmpRequest;
use super::sys::{self, Datagram};
use crate::clock;
use crate::family::Family;
use crate::packet::{
    IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN, Ipv4Header, Kind, Message, MplsLabel, is_packet_too_big,
    parse_extensions, parse_request_header, split_stripped_quote, v4,
};

/// A kernel timestamp older than this is not trusted (the wall clock may have jumped
/// between the packet's arrival and its reading): the reading time is used instead.
const MAX_QUEUE_DELAY: Duration = Duration::from_secs(10);

impl SocketClass {
    /// Decodes a datagram read by [`SocketClass::read`] from `buf`. `None` for anything
    /// that cannot be a reply to one of our requests (echo requests, other ICMP types,
    /// corrupt or truncated packets, errors quoting something else).
    pub fn decode(self, buf: &[u8], datagram: &Datagram) -> Option<Received> {
        self.decode_read_at(buf, datagram, ReadAt::now())
    }

    /// As [`SocketClass::decode`], for a datagram read before `read_at` (one reading of
    /// the clocks for a whole batch: two clock reads per datagram were 1.5 % of a
    /// loopback sweep's CPU).
    pub fn decode_read_at(
        self,
        buf: &[u8],
        datagram: &Datagram,
        read_at: ReadAt,
    ) -> Option<Received> {
        let bytes = buf.get(..datagram.len)?;
        if datagram.truncated {
            return None;
        }
        let time = read_at.arrival(datagram.timestamp);
        if let Some(error) = datagram.queued_error {
            // The error queue returns the quote from our own request's ICMP header on (the
            // kernel strips the quoted IP header) and whatever followed the quote in the
            // message: padding, an RFC 4884 extension structure. The kernel tells what
            // came back and from where.
            let (quoted, extensions) =
                split_stripped_quote(self.family, stripped_header_len(self.family), bytes);
            let echo = parse_request_header(self.family, quoted)?;
            if !error.from_icmp || self.is_advice(error.icmp_type) {
                return None;
            }
            let peer = datagram.source?;
            let source = error.offender.unwrap_or(peer);
            return Some(Received {
                source,
                // A link-local router answered on the interface the request left by.
                source_scope: scope_of(source, datagram.source_scope),
                peer,
                id: echo.id,
                sequence: echo.sequence,
                icmp_type: error.icmp_type,
                code: error.code,
                kind: Kind::of(self.family, error.icmp_type),
                payload: range_in(buf, echo.payload),
                quote_unbounded: true,
                bytes: datagram.len,
                time,
                // What arrived with an error-queue entry describes our own request.
                ttl: None,
                traffic_class: None,
                mtu: (is_packet_too_big(self.family, error.icmp_type, error.code)
                    && error.info != 0)
                    .then_some(error.info),
                mpls: mpls_labels(extensions),
            });
        }
        let mut source = datagram.source?;
        let mut offset = 0;
        let (mut ttl, mut traffic_class) = (datagram.ttl, datagram.traffic_class);
        if self.family == Family::V4 && sys::ipv4_header_included(self.privileged) {
            let (header, icmp) = Ipv4Header::parse(bytes).ok()?;
            offset = bytes.len() - icmp.len();
            source = IpAddr::V4(header.source);
            (ttl, traffic_class) = (Some(header.ttl), Some(header.tos));
        }
        let message = Message::parse(self.family, &bytes[offset..]).ok()?;
        let icmp_type = message.icmp_type(self.family);
        if self.is_advice(icmp_type) {
            return None;
        }
        let (peer, id, sequence, payload, extensions) = match message {
            Message::EchoReply(echo) => (source, echo.id, echo.sequence, echo.payload, None),
            _ => {
                // The quote is cut where its IP header says the request ended, without
                // the padding or RFC 4884 extensions a router may have appended.
                let quote = message.quote()?;
                let original = quote.request(self.family)?;
                (
                    original.destination,
                    original.id,
                    original.sequence,
                    original.payload,
                    quote.extensions,
                )
            }
        };
        Some(Received {
            source,
            source_scope: scope_of(source, datagram.source_scope),
            peer,
            id,
            sequence,
            icmp_type,
            code: message.code(self.family),
            kind: message.kind(self.family),
            payload: range_in(buf, payload),
            quote_unbounded: false,
            bytes: datagram.len,
            time,
            ttl,
            traffic_class,
            mtu: message.mtu(),
            mpls: mpls_labels(extensions),
        })
    }

    /// ICMPv4 Redirect and Source Quench: advice about the route, not a failure to deliver
    /// (the router forwarded the request). Taking one as the answer would report a live
    /// host as lost.
    fn is_advice(self, icmp_type: u8) -> bool {
        self.family == Family::V4 && matches!(icmp_type, v4::SOURCE_QUENCH | v4::REDIRECT)
    }
}

/// The length of the IP header the kernel strips from the quote it queues on a datagram
/// socket's error queue: our requests carry no IPv4 options and no IPv6 extension headers.
fn stripped_header_len(family: Family) -> usize {
    match family {
        Family::V4 => IPV4_MIN_HEADER_LEN,
        Family::V6 => IPV6_HEADER_LEN,
    }
}

/// Where `inner`, a slice of `outer`, lies in it.
fn range_in(outer: &[u8], inner: &[u8]) -> Option<Range<usize>> {
    let start = inner.as_ptr().addr().checked_sub(outer.as_ptr().addr())?;
    let end = start.checked_add(inner.len())?;
    (end <= outer.len()).then_some(start..end)
}

/// The scope of `source`: `scope` for a link-local IPv6 address, 0 for any other.
fn scope_of(source: IpAddr, scope: u32) -> u32 {
    match source {
        IpAddr::V6(v6) if v6.is_unicast_link_local() => scope,
        _ => 0,
    }
}

/// Both clocks, read once after a read: what turns the kernel timestamps of what it
/// read into instants on the monotonic clock. A datagram arrived at the monotonic
/// reading minus how long it waited in the socket buffer according to its kernel
/// timestamp (on the wall clock).
///
/// The wall clock is read first and the monotonic clock right after, so the conversion can
/// only come out late, by the time between the two reads, never early: read the other way
/// round, a thread interrupted between them put the arrival before the request left, a
/// round trip of 0 (seen about once in 30,000 loopback replies).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadAt {
    wall: SystemTime,
    now: Instant,
}

impl ReadAt {
    /// The clocks now: the wall clock first.
    pub(crate) fn now() -> ReadAt {
        let wall = SystemTime::now();
        ReadAt {
            wall,
            now: clock::now(),
        }
    }

    /// When a datagram read before these readings and stamped `timestamp` by the kernel
    /// arrived: the reading itself when it has no timestamp.
    fn arrival(self, timestamp: Option<SystemTime>) -> Instant {
        match timestamp {
            Some(timestamp) => arrival(self.now, self.wall, timestamp),
            None => self.now,
        }
    }
}

/// When a datagram stamped `timestamp` by the kernel arrived, given the wall clock `wall`
/// read at `now` or just before.
fn arrival(now: Instant, wall: SystemTime, timestamp: SystemTime) -> Instant {
    let queued = wall.duration_since(timestamp).unwrap_or(Duration::ZERO);
    if queued > MAX_QUEUE_DELAY {
        return now;
    }
    now.checked_sub(queued).unwrap_or(now)
}

/// A decoded datagram that may answer one of our requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received {
    /// Who sent it: the pinged host, or a router for an error.
    pub source: IpAddr,
    /// The interface of a link-local IPv6 source; 0 for none.
    pub source_scope: u32,
    /// The destination of the request it answers (the echo reply's source, or the
    /// destination quoted in an error).
    pub peer: IpAddr,
    pub id: u16,
    pub sequence: u16,
    pub icmp_type: u8,
    pub code: u8,
    pub kind: Kind,
    /// Where the payload lies in the buffer: the echo reply's, or as much of the request's
    /// as an error quoted.
    pub payload: Option<Range<usize>>,
    /// True when the quote's end is not known: the error queue strips the quoted IP header,
    /// whose length said where the request ended, and leaves the padding after it. The
    /// quote is then cut to the length of the request it is compared with.
    pub quote_unbounded: bool,
    pub bytes: usize,
    pub time: Instant,
    /// The TTL / hop limit and TOS / traffic class the message arrived with, if known.
    pub ttl: Option<u8>,
    pub traffic_class: Option<u8>,
    /// The MTU a Fragmentation Needed / Packet Too Big message gave.
    pub mtu: Option<u32>,
    /// The MPLS label stack of an error's RFC 4884 extension structure (empty, and not
    /// allocated, for the others).
    pub mpls: Box<[MplsLabel]>,
}

impl Received {
    /// True when this answers `request`: same peer, identifier (raw sockets only: the
    /// kernel owns the identifier of a datagram socket), sequence, and for an echo reply
    /// the same payload.
    pub fn answers(&self, request: &IcmpRequest, privileged: bool, buf: &[u8]) -> bool {
        self.peer == request.destination()
            && (!privileged || self.id == request.id())
            && self.sequence == request.sequence()
            && self.payload_is(request.payload(), buf)
    }

    /// True when the payload is the one sent: the whole of it in an echo reply, a prefix
    /// of it (what the router quoted, possibly nothing) in an error.
    pub fn payload_is(&self, expected: &[u8], buf: &[u8]) -> bool {
        let Some(payload) = self.payload.clone().and_then(|range| buf.get(range)) else {
            return false;
        };
        if self.kind == Kind::EchoReply {
            payload == expected
        } else if self.quote_unbounded {
            expected.starts_with(&payload[..payload.len().min(expected.len())])
        } else {
            expected.starts_with(payload)
        }
    }

    /// The public form of this reply.
    pub fn to_reply(&self, family: Family) -> IcmpReply {
        IcmpReply {
            source: self.source,
            scope_id: self.source_scope,
            family,
            id: self.id,
            sequence: self.sequence,
            icmp_type: self.icmp_type,
            code: self.code,
            bytes_received: self.bytes,
            time: self.time,
            ttl: self.ttl,
            traffic_class: self.traffic_class,
            mtu: self.mtu,
            mpls: self.mpls.clone(),
        }
    }
}

/// The first MPLS label stack among the objects of the extension structure `extensions`;
/// empty without one (or for a structure that is not one).
fn mpls_labels(extensions: Option<&[u8]>) -> Box<[MplsLabel]> {
    extensions
        .and_then(|structure| parse_extensions(structure).ok())
        .and_then(|mut objects| objects.find_map(|object| object.mpls_labels()))
        .map(Iterator::collect)
        .unwrap_or_default()
}

/// Size of a receive buffer that holds any reply to `request`: its echo reply with an
/// IPv4 header with options, or an ICMP error quoting it (at most 1,280 bytes for ICMPv6
/// per RFC 4443, 576 for ICMPv4 per RFC 1812). Without a request, the largest datagram.
pub(crate) fn receive_buffer_len(request: Option<&IcmpRequest>) -> usize {
    match request {
        Some(request) => (request.payload_size() + 128).max(2048),
        None => 65_536,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{EchoKind, emit_echo};

    #[test]
    fn an_arrival_is_never_put_before_the_kernel_saw_the_packet() {
        // The kernel stamped the packet at wall time T, monotonic time M; the reader read
        // the wall clock 30 µs later and was then interrupted for 100 µs before it read the
        // monotonic clock. The arrival may come out late, never before M.
        let m = Instant::now();
        let t = SystemTime::now();
        let wall = t + Duration::from_micros(30);
        let now = m + Duration::from_micros(130);
        let arrived = arrival(now, wall, t);
        assert!(arrived >= m, "{:?} early", m - arrived);
        assert_eq!(arrived - m, Duration::from_micros(100));
    }

    #[test]
    fn kernel_timestamps_move_the_arrival_back() {
        let before = Instant::now();
        let arrived = ReadAt::now().arrival(Some(SystemTime::now() - Duration::from_millis(200)));
        assert!(before.saturating_duration_since(arrived) >= Duration::from_millis(150));
        // A timestamp in the future (clock stepped back) or far in the past (clock stepped
        // forward) is ignored.
        let future = ReadAt::now().arrival(Some(SystemTime::now() + Duration::from_secs(5)));
        assert!(future >= before);
        let ancient = ReadAt::now().arrival(Some(SystemTime::now() - Duration::from_secs(3600)));
        assert!(ancient >= before);
    }

    fn datagram(len: usize, source: &str) -> Datagram {
        Datagram {
            len,
            truncated: false,
            source: Some(source.parse().unwrap()),
            source_scope: 0,
            timestamp: None,
            queued_error: None,
            ttl: None,
            traffic_class: None,
        }
    }

    #[test]
    fn decode_and_match_an_echo_reply() {
        let kind = SocketClass {
            family: Family::V6,
            privileged: true,
        };
        let request =
            IcmpRequest::new("2001:db8::7".parse().unwrap(), 9, 3).with_payload(b"abc".to_vec());
        let mut buf = Vec::new();
        emit_echo(Family::V6, EchoKind::Reply, 9, 3, b"abc", &mut buf);
        let received = kind
            .decode(&buf, &datagram(buf.len(), "2001:db8::7"))
            .unwrap();
        assert!(received.answers(&request, true, &buf));
        // Wrong payload, wrong source, wrong id: not an answer.
        let other = request.clone().with_payload(b"abd".to_vec());
        assert!(!received.answers(&other, true, &buf));
        let elsewhere = kind
            .decode(&buf, &datagram(buf.len(), "2001:db8::8"))
            .unwrap();
        assert!(!elsewhere.answers(&request, true, &buf));
        let wrong_id = IcmpRequest::new(request.destination(), 10, 3).with_payload(b"abc".to_vec());
        assert!(!received.answers(&wrong_id, true, &buf));
        // A datagram socket ignores the identifier (the kernel owns it).
        assert!(received.answers(&wrong_id, false, &buf));
    }

    #[test]
    fn echo_requests_and_truncated_datagrams_are_not_replies() {
        let kind = SocketClass {
            family: Family::V6,
            privileged: true,
        };
        let mut buf = Vec::new();
        emit_echo(Family::V6, EchoKind::Request, 9, 3, b"abc", &mut buf);
        assert_eq!(kind.decode(&buf, &datagram(buf.len(), "::1")), None);
        buf.clear();
        emit_echo(Family::V6, EchoKind::Reply, 9, 3, b"abc", &mut buf);
        let mut cut = datagram(buf.len(), "::1");
        cut.truncated = true;
        assert_eq!(kind.decode(&buf, &cut), None);
    }
}
