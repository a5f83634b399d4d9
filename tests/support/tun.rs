//! [`SimulatedNet`]: simulated hosts behind a TUN device in a [`Netns`]. A thread reads
//! the echo requests the namespace routes to the TUN and writes back crafted IP packets
//! (good replies, late ones, duplicates, broken ones, ICMP errors, floods) as scripted
//! per address.
//!
//! The device `simtun0` owns 198.51.100.1/24 and 2001:db8:5::1/64, so every other address
//! of those prefixes is routed to it. Nothing leaves the namespace.

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::fs::OpenOptions;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use icmplib::Family;
use icmplib::packet::{
    Echo, IPPROTO_ICMP, IPPROTO_ICMPV6, IPV4_MIN_HEADER_LEN, IPV6_HEADER_LEN, Ipv4Header,
    Ipv4Packet, Ipv6Header, Ipv6Packet, Kind, Message, Quote, parse_request_header,
};

use super::Netns;

/// Name of the TUN device inside the namespace.
pub const TUN_NAME: &str = "simtun0";
/// The namespace's own IPv4 address on the TUN (prefix /24).
pub const LOCAL_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The namespace's own IPv6 address on the TUN (prefix /64).
pub const LOCAL_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 5, 0, 0, 0, 0, 1);
/// Most crafted packets waiting to be written; the script of a request that would go
/// beyond is dropped whole.
pub const MAX_PENDING: usize = 100_000;

/// Longest wait of the serving thread between looks at the stop flag.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Packets read per wake-up, at most.
const MAX_READS_PER_WAKE: usize = 256;
/// Packets written per wake-up, at most (the rest on the next turn).
const MAX_WRITES_PER_WAKE: usize = 2048;
/// Largest IPv4 datagram an ICMPv4 error may be (RFC 1812 §4.3.2.3, as Linux does).
const V4_ERROR_MAX: usize = 576;
/// Largest IPv6 packet an ICMPv6 error may be (RFC 4443 §2.4 (c), the minimum MTU).
const V6_ERROR_MAX: usize = 1280;
/// TTL / hop limit of every crafted packet.
const HOP_LIMIT: u8 = 64;
/// The 8 bytes of IPv4 options of [`Craft::WithIpOptions`]: four NOPs then a Router
/// Alert (RFC 2113, value 0), which a host delivering locally ignores.
const IPV4_OPTIONS: [u8; 8] = [1, 1, 1, 1, 0x94, 4, 0, 0];

/// One scripted reply to an echo request (or something in its place).
#[derive(Debug, Clone)]
pub struct Reply {
    /// How long after the request it is written.
    pub after: Duration,
    /// What is written.
    pub craft: Craft,
}

impl Reply {
    /// A correct echo reply, at once.
    pub fn good() -> Reply {
        Reply::after(0, Craft::Good)
    }

    /// `craft`, `ms` milliseconds after the request.
    pub fn after(ms: u64, craft: Craft) -> Reply {
        Reply {
            after: Duration::from_millis(ms),
            craft,
        }
    }
}

/// How to craft a reply, starting from a correct echo reply to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Craft {
    /// A correct echo reply: same id, sequence and payload, right checksums.
    Good,
    /// The ICMP checksum is wrong (IPv4: ICMP checksum; IPv6: ICMPv6 checksum).
    BadChecksum,
    /// Id + 1 (checksum recomputed, so valid).
    WrongId,
    /// Sequence + 1 (checksum recomputed).
    WrongSequence,
    /// The last payload byte flipped (one byte added if the payload is empty), checksum
    /// recomputed.
    WrongPayload,
    /// A correct reply, but from this source address (same family).
    FromOtherSource(IpAddr),
    /// The correct reply's ICMP message cut to this many bytes (at least 1; nothing is cut
    /// when the message is not longer). The IP length fields (and the IPv4 header checksum)
    /// match the cut packet; the ICMP checksum is the one of the whole message, so it is
    /// wrong unless nothing was cut.
    Truncated(usize),
    /// IPv4 only: a correct reply whose IP header carries 8 bytes of options (IHL = 7:
    /// four NOPs and a Router Alert), header checksum right.
    WithIpOptions,
    /// Destination Unreachable (ICMPv4 type 3 / ICMPv6 type 1) with this code from `from`,
    /// quoting the request's IP header and whole ICMP message, cut so the error fits in
    /// 576 (IPv4) / 1280 (IPv6) bytes, as Linux does.
    Unreachable {
        /// Source of the error (same family).
        from: IpAddr,
        /// ICMP code.
        code: u8,
    },
    /// Time Exceeded (ICMPv4 type 11 / ICMPv6 type 3), code 0, from `from`, quoting the
    /// request like [`Craft::Unreachable`].
    TimeExceeded {
        /// Source of the error (same family).
        from: IpAddr,
    },
    /// IPv4 only: a Redirect (type 5, code 1) from `from` quoting the request: advice
    /// about the route, which says nothing about the host.
    Redirect {
        /// Source of the redirect (IPv4).
        from: IpAddr,
    },
    /// A Destination Unreachable from `from` that quotes the request's id and sequence but
    /// a payload that is not the one sent (its last quoted byte flipped): a forgery.
    ForgedUnreachable {
        /// Source of the error (same family).
        from: IpAddr,
        /// ICMP code.
        code: u8,
    },
    /// This many correct-looking echo replies from the request's destination, with other
    /// ids and sequences and random payloads of the request's payload length (valid
    /// checksums), written back to back.
    ForeignFlood(usize),
}

impl Craft {
    /// How many packets this craft writes.
    fn packets(&self) -> usize {
        match self {
            Craft::ForeignFlood(count) => *count,
            _ => 1,
        }
    }

    /// Panics unless this craft makes sense for a host of `family`.
    fn check(&self, family: Family) {
        let other = match self {
            Craft::FromOtherSource(from)
            | Craft::Unreachable { from, .. }
            | Craft::ForgedUnreachable { from, .. }
            | Craft::Redirect { from }
            | Craft::TimeExceeded { from } => Some(from),
            _ => None,
        };
        if let Some(from) = other {
            assert_eq!(
                Family::of(from),
                family,
                "{self:?} for an {family} host: the source must be of the same family"
            );
        }
        assert!(
            !(matches!(self, Craft::WithIpOptions | Craft::Redirect { .. })
                && family == Family::V6),
            "{self:?} is IPv4 only"
        );
        assert!(
            !matches!(self, Craft::Truncated(0)),
            "Craft::Truncated(0) would be an empty IP payload"
        );
    }
}

/// What a simulated address does with each echo request it gets (empty: silent).
pub type Script = Vec<Reply>;

/// An echo request read from the TUN.
#[derive(Debug, Clone)]
struct Request {
    family: Family,
    source: IpAddr,
    destination: IpAddr,
    id: u16,
    sequence: u16,
    /// The echo payload.
    payload: Vec<u8>,
    /// The whole IP packet (up to its length field), for quoting in errors.
    packet: Vec<u8>,
}

/// Parses an IPv4 or IPv6 packet; `Some` only for an ICMP / ICMPv6 echo request that is
/// not a fragment (IPv6: ICMPv6 right after the fixed header). Never panics.
fn parse_request(packet: &[u8]) -> Option<Request> {
    let (family, source, destination, whole, icmp) = match packet.first()? >> 4 {
        4 => {
            let ip = Ipv4Packet::new_checked(packet).ok()?;
            // More fragments or a non-zero offset: not a whole datagram.
            if ip.protocol() != IPPROTO_ICMP || ip.more_fragments() || ip.fragment_offset() != 0 {
                return None;
            }
            let whole = ip.datagram();
            let icmp = whole.get(ip.header_len()..)?;
            (
                Family::V4,
                ip.source().into(),
                ip.destination().into(),
                whole,
                icmp,
            )
        }
        6 => {
            let ip = Ipv6Packet::new_checked(packet).ok()?;
            if ip.next_header() != IPPROTO_ICMPV6 {
                return None;
            }
            let whole = ip.datagram();
            let icmp = whole.get(IPV6_HEADER_LEN..)?;
            (
                Family::V6,
                ip.source().into(),
                ip.destination().into(),
                whole,
                icmp,
            )
        }
        _ => return None,
    };
    let echo = parse_request_header(family, icmp)?;
    Some(Request {
        family,
        source,
        destination,
        id: echo.id,
        sequence: echo.sequence,
        payload: echo.payload.to_vec(),
        packet: whole.to_vec(),
    })
}

/// The ICMP bytes of `message` sent from `source` to `destination`, with the checksum of
/// its family (ICMPv6: over the pseudo-header).
fn icmp_bytes(message: &Message, source: IpAddr, destination: IpAddr) -> Vec<u8> {
    let mut icmp = Vec::with_capacity(message.buffer_len(Family::of(&source)));
    match (source, destination) {
        (IpAddr::V6(source), IpAddr::V6(destination)) => {
            message.emit_v6(&source, &destination, &mut icmp);
        }
        _ => message.emit(Family::V4, &mut icmp),
    }
    icmp
}

/// Wraps `icmp` in an IP header from `source` to `destination` (same family), with TTL /
/// hop limit 64; IPv4 `options` (a multiple of 4 bytes) go into the header.
fn ip_packet(
    source: IpAddr,
    destination: IpAddr,
    options: &[u8],
    icmp: &[u8],
    ip_id: u16,
) -> Vec<u8> {
    let mut packet = Vec::with_capacity(IPV6_HEADER_LEN + options.len() + icmp.len());
    match (source, destination) {
        (IpAddr::V4(source), IpAddr::V4(destination)) => {
            let mut header = Ipv4Header::new(source, destination, IPPROTO_ICMP, 0);
            header.options = options;
            header.total_len = (header.header_len() + icmp.len()) as u16;
            header.ident = ip_id;
            header.ttl = HOP_LIMIT;
            header.emit(&mut packet);
        }
        (IpAddr::V6(source), IpAddr::V6(destination)) => {
            let mut header = Ipv6Header::new(source, destination, IPPROTO_ICMPV6, icmp.len());
            header.hop_limit = HOP_LIMIT;
            header.emit(&mut packet);
        }
        _ => unreachable!("checked when scripted: {source} and {destination} differ in family"),
    }
    packet.extend_from_slice(icmp);
    packet
}

/// A small xorshift generator: random enough for payloads and ids, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn u16_other_than(&mut self, not: u16) -> u16 {
        let value = self.next() as u16;
        if value == not {
            value.wrapping_add(1)
        } else {
            value
        }
    }
}

/// Builds the IP packets `craft` writes for `request`.
fn craft_packets(request: &Request, craft: &Craft, rng: &mut Rng, ip_id: u16) -> Vec<Vec<u8>> {
    let family = request.family;
    let echo = |source: IpAddr, id: u16, sequence: u16, payload: &[u8]| {
        let reply = Message::EchoReply(Echo {
            id,
            sequence,
            payload,
        });
        icmp_bytes(&reply, source, request.source)
    };
    let reply = |source: IpAddr, options: &[u8], icmp: &[u8]| {
        ip_packet(source, request.source, options, icmp, ip_id)
    };
    let good = || {
        echo(
            request.destination,
            request.id,
            request.sequence,
            &request.payload,
        )
    };
    let quote = |from: IpAddr, icmp_type: u8, code: u8, forged: bool| {
        let (limit, ip_header) = match family {
            Family::V4 => (V4_ERROR_MAX, IPV4_MIN_HEADER_LEN),
            Family::V6 => (V6_ERROR_MAX, IPV6_HEADER_LEN),
        };
        let mut quoted = request.packet[..request.packet.len().min(limit - ip_header - 8)].to_vec();
        if forged && let Some(last) = quoted.last_mut() {
            *last ^= 0xff;
        }
        let quote = Quote::new(&quoted);
        let message = match Kind::of(family, icmp_type) {
            Kind::DestinationUnreachable => Message::DestinationUnreachable { code, quote },
            Kind::TimeExceeded => Message::TimeExceeded { code, quote },
            _ => Message::OtherError {
                icmp_type,
                code,
                header: [0; 4],
                quote,
            },
        };
        reply(from, &[], &icmp_bytes(&message, from, request.source))
    };
    let error = |from: IpAddr, icmp_type: u8, code: u8| quote(from, icmp_type, code, false);
    let source = request.destination;
    match craft {
        Craft::Good => vec![reply(source, &[], &good())],
        Craft::BadChecksum => {
            let mut icmp = good();
            icmp[2] ^= 0x5a;
            icmp[3] ^= 0xa5;
            vec![reply(source, &[], &icmp)]
        }
        Craft::WrongId => {
            let icmp = echo(
                source,
                request.id.wrapping_add(1),
                request.sequence,
                &request.payload,
            );
            vec![reply(source, &[], &icmp)]
        }
        Craft::WrongSequence => {
            let icmp = echo(
                source,
                request.id,
                request.sequence.wrapping_add(1),
                &request.payload,
            );
            vec![reply(source, &[], &icmp)]
        }
        Craft::WrongPayload => {
            let mut payload = request.payload.clone();
            match payload.last_mut() {
                Some(last) => *last ^= 0xff,
                None => payload.push(0xff),
            }
            let icmp = echo(source, request.id, request.sequence, &payload);
            vec![reply(source, &[], &icmp)]
        }
        Craft::FromOtherSource(other) => {
            let icmp = echo(*other, request.id, request.sequence, &request.payload);
            vec![reply(*other, &[], &icmp)]
        }
        Craft::Truncated(len) => {
            let icmp = good();
            let cut = (*len).clamp(1, icmp.len());
            vec![reply(source, &[], &icmp[..cut])]
        }
        Craft::WithIpOptions => vec![reply(source, &IPV4_OPTIONS, &good())],
        Craft::Unreachable { from, code } => {
            let icmp_type = match family {
                Family::V4 => 3,
                Family::V6 => 1,
            };
            vec![error(*from, icmp_type, *code)]
        }
        Craft::TimeExceeded { from } => {
            let icmp_type = match family {
                Family::V4 => 11,
                Family::V6 => 3,
            };
            vec![error(*from, icmp_type, 0)]
        }
        Craft::Redirect { from } => vec![error(*from, 5, 1)],
        Craft::ForgedUnreachable { from, code } => {
            let icmp_type = match family {
                Family::V4 => 3,
                Family::V6 => 1,
            };
            vec![quote(*from, icmp_type, *code, true)]
        }
        Craft::ForeignFlood(count) => (0..*count)
            .map(|_| {
                let id = rng.u16_other_than(request.id);
                let sequence = rng.u16_other_than(request.sequence);
                let payload: Vec<u8> = (0..request.payload.len())
                    .map(|_| rng.next() as u8)
                    .collect();
                reply(source, &[], &echo(source, id, sequence, &payload))
            })
            .collect(),
    }
}

/// The IP packets `craft` would write in answer to the IP packet `request`, or `None`
/// when `request` is not an echo request. Lets a test look at crafted bytes without a
/// TUN (IPv4 header id 0; ForeignFlood payloads from a fixed seed).
pub fn craft_replies(request: &[u8], craft: &Craft) -> Option<Vec<Vec<u8>>> {
    let request = parse_request(request)?;
    craft.check(request.family);
    Some(craft_packets(&request, craft, &mut Rng::new(0x5eed), 0))
}

/// Packets due at one instant. Ordered by due time, then by scheduling order, with the
/// earliest first out of a [`BinaryHeap`].
struct Scheduled {
    due: Instant,
    order: u64,
    packets: Vec<Vec<u8>>,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        // Reversed: BinaryHeap is a max-heap.
        (other.due, other.order).cmp(&(self.due, self.order))
    }
}

/// State shared by [`SimulatedNet`] and its serving thread.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    scripts: Mutex<HashMap<IpAddr, Script>>,
    seen: Mutex<HashMap<IpAddr, usize>>,
    /// Scripts dropped because of [`MAX_PENDING`].
    dropped: Mutex<usize>,
}

/// A TUN device in a namespace with simulated hosts behind it.
///
/// Dropping it stops and joins the serving thread (within about 20 ms) and closes the TUN,
/// which deletes the device. Drop it before its [`Netns`].
pub struct SimulatedNet {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    netns: String,
}

impl fmt::Debug for SimulatedNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedNet")
            .field("netns", &self.netns)
            .field("device", &TUN_NAME)
            .finish_non_exhaustive()
    }
}

/// Opens /dev/net/tun and attaches it to a new TUN device `name` (IFF_TUN | IFF_NO_PI)
/// in the calling thread's network namespace.
fn open_tun(name: &str) -> io::Result<OwnedFd> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/net/tun")?;
    // SAFETY: ifreq is plain old data (arrays, integers, a union of those and pointers)
    // for which all-zero bytes are a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    assert!(
        name.len() < libc::IFNAMSIZ,
        "interface name {name} too long"
    );
    for (slot, byte) in request.ifr_name.iter_mut().zip(name.bytes()) {
        *slot = byte as libc::c_char;
    }
    request.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: the fd is open for the duration of the call, and TUNSETIFF reads and writes
    // one `struct ifreq`, which `request` is and which outlives the call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut request) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file.into())
}

impl SimulatedNet {
    /// Most crafted packets waiting to be written ([`MAX_PENDING`]).
    pub const MAX_PENDING: usize = MAX_PENDING;

    /// Creates the TUN device [`TUN_NAME`] inside `netns`, brings it up with
    /// 198.51.100.1/24 and 2001:db8:5::1/64 (nodad), turns reverse path filtering off
    /// (so that [`Craft::FromOtherSource`] replies from anywhere get in) and starts the
    /// serving thread. Panics on failure.
    pub fn new(netns: &Netns) -> SimulatedNet {
        for key in ["all", "default"] {
            netns.sysctl(&format!("net.ipv4.conf.{key}.rp_filter"), "0");
        }
        // The device belongs to the namespace of the thread that opens the fd and
        // creates it; the fd then works from any thread.
        let fd = netns
            .run(|| open_tun(TUN_NAME))
            .unwrap_or_else(|e| panic!("[{}] create TUN {TUN_NAME}: {e}", netns.name()));
        // A panic from here on drops `fd`, which deletes the device.
        netns.sysctl(&format!("net.ipv4.conf.{TUN_NAME}.rp_filter"), "0");
        netns.ip_batch(&format!(
            "addr add {LOCAL_V4}/24 dev {TUN_NAME}\n\
             addr add {LOCAL_V6}/64 dev {TUN_NAME} nodad\n\
             link set dev {TUN_NAME} up\n"
        ));
        let shared = Arc::new(Shared::default());
        let thread = thread::Builder::new()
            .name(format!("simnet-{}", netns.name()))
            .spawn({
                let shared = Arc::clone(&shared);
                move || serve(fd, &shared)
            })
            .expect("cannot spawn the TUN serving thread");
        SimulatedNet {
            shared,
            thread: Some(thread),
            netns: netns.name().to_string(),
        }
    }

    /// Sets the script for `address` (IPv4 in 198.51.100.0/24 except .1, IPv6 in
    /// 2001:db8:5::/64 except ::1), replacing any previous one; it applies to requests
    /// read from now on. Addresses without a script are silent. Panics on an address
    /// outside the prefixes or a craft of the wrong family.
    pub fn script(&self, address: IpAddr, script: Script) {
        let inside = match address {
            IpAddr::V4(v4) => v4.octets()[..3] == LOCAL_V4.octets()[..3] && v4 != LOCAL_V4,
            IpAddr::V6(v6) => v6.segments()[..4] == LOCAL_V6.segments()[..4] && v6 != LOCAL_V6,
        };
        assert!(
            inside,
            "{address} is not a simulated address (198.51.100.0/24 or 2001:db8:5::/64, not ::1 / .1)"
        );
        let family = Family::of(&address);
        for reply in &script {
            reply.craft.check(family);
        }
        lock(&self.shared.scripts).insert(address, script);
    }

    /// 198.51.100.n or 2001:db8:5::n (n in 2..=254; IPv6 n written in hex, so
    /// `host(V6, 254)` is 2001:db8:5::fe).
    pub fn host(family: Family, n: u8) -> IpAddr {
        assert!((2..=254).contains(&n), "host number {n} outside 2..=254");
        match family {
            Family::V4 => {
                let [a, b, c, _] = LOCAL_V4.octets();
                Ipv4Addr::new(a, b, c, n).into()
            }
            Family::V6 => Ipv6Addr::new(0x2001, 0xdb8, 5, 0, 0, 0, 0, u16::from(n)).into(),
        }
    }

    /// The namespace's own address on the TUN: 198.51.100.1 or 2001:db8:5::1.
    pub fn local(family: Family) -> IpAddr {
        match family {
            Family::V4 => LOCAL_V4.into(),
            Family::V6 => LOCAL_V6.into(),
        }
    }

    /// How many echo requests to `address` the TUN has read so far (scripted or not),
    /// whatever their checksum.
    pub fn requests_seen(&self, address: IpAddr) -> usize {
        lock(&self.shared.seen).get(&address).copied().unwrap_or(0)
    }

    /// How many requests' scripts were dropped because [`MAX_PENDING`] packets were
    /// already waiting.
    pub fn scripts_dropped(&self) -> usize {
        *lock(&self.shared.dropped)
    }
}

impl Drop for SimulatedNet {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The thread owns the TUN fd: it is closed (and the device deleted) when the
            // thread ends, panicking or not.
            if let Err(payload) = thread.join() {
                if thread::panicking() {
                    eprintln!("[{}] the TUN serving thread panicked too", self.netns);
                } else {
                    std::panic::resume_unwind(payload);
                }
            }
        }
    }
}

/// Locks `mutex`, going on if a panicking holder poisoned it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits up to `timeout` for the fd to be readable. Returns whether it is, and sleeps
/// the timeout on a poll error so that a broken fd does not spin.
fn wait_readable(fd: &OwnedFd, timeout: Duration) -> bool {
    let mut pollfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let spec = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: `pollfd` and `spec` are valid for the duration of the call, the count is 1
    // and a null signal mask means "leave the mask alone".
    let rc = unsafe { libc::ppoll(&mut pollfd, 1, &spec, std::ptr::null()) };
    if rc < 0 {
        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            thread::sleep(timeout);
        }
        return false;
    }
    if pollfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
        thread::sleep(timeout);
        return false;
    }
    pollfd.revents & libc::POLLIN != 0
}

/// Reads one packet into `buffer`; `None` when nothing is waiting (or on an error).
fn read_packet(fd: &OwnedFd, buffer: &mut [u8]) -> Option<usize> {
    // SAFETY: `buffer` is valid for writes of its length and the fd is open.
    let n = unsafe { libc::read(fd.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len()) };
    usize::try_from(n).ok().filter(|&n| n > 0)
}

/// Writes one packet; errors (e.g. a packet the kernel refuses) are ignored.
fn write_packet(fd: &OwnedFd, packet: &[u8]) {
    // SAFETY: `packet` is valid for reads of its length and the fd is open.
    let _ = unsafe { libc::write(fd.as_raw_fd(), packet.as_ptr().cast(), packet.len()) };
}

/// The serving loop: reads requests, schedules their scripts, writes what is due, until
/// the stop flag is set. Every wait is at most [`POLL_INTERVAL`] and every turn handles
/// a bounded number of packets.
fn serve(fd: OwnedFd, shared: &Shared) {
    let mut buffer = vec![0u8; 65536];
    let mut queue: BinaryHeap<Scheduled> = BinaryHeap::new();
    let mut pending = 0usize;
    let mut order = 0u64;
    let mut ip_id = 0u16;
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64);
    let mut rng = Rng::new(clock ^ (u64::from(std::process::id()) << 32));
    while !shared.stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let timeout = queue
            .peek()
            .map_or(POLL_INTERVAL, |next| {
                next.due.saturating_duration_since(now)
            })
            .min(POLL_INTERVAL);
        if wait_readable(&fd, timeout) {
            for _ in 0..MAX_READS_PER_WAKE {
                let Some(len) = read_packet(&fd, &mut buffer) else {
                    break;
                };
                let Some(request) = parse_request(&buffer[..len]) else {
                    continue;
                };
                *lock(&shared.seen).entry(request.destination).or_default() += 1;
                let Some(script) = lock(&shared.scripts).get(&request.destination).cloned() else {
                    continue;
                };
                let count: usize = script.iter().map(|reply| reply.craft.packets()).sum();
                if pending.saturating_add(count) > MAX_PENDING {
                    *lock(&shared.dropped) += 1;
                    continue;
                }
                let received = Instant::now();
                for reply in &script {
                    ip_id = ip_id.wrapping_add(1);
                    let packets = craft_packets(&request, &reply.craft, &mut rng, ip_id);
                    pending += packets.len();
                    order += 1;
                    queue.push(Scheduled {
                        due: received + reply.after,
                        order,
                        packets,
                    });
                }
            }
        }
        let mut written = 0;
        while written < MAX_WRITES_PER_WAKE {
            match queue.peek_mut() {
                Some(mut next) if next.due <= Instant::now() => {
                    // Write from the front, in order, a bounded number per turn.
                    let take = next.packets.len().min(MAX_WRITES_PER_WAKE - written);
                    for packet in next.packets.drain(..take) {
                        write_packet(&fd, &packet);
                    }
                    written += take;
                    pending -= take;
                    if next.packets.is_empty() {
                        std::collections::binary_heap::PeekMut::pop(next);
                    }
                }
                _ => break,
            }
        }
    }
}
