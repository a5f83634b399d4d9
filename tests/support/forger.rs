//! [`Forger`]: a router of a [`Chain`] that sends ICMP errors written by the test:
//! - [`Forgery::TimeExceeded`]: its Time Exceeded messages, laid out as MPLS routers do:
//!   the quote padded to 128 bytes, then an RFC 4884 extension structure holding an MPLS
//!   label stack (RFC 4950). The router's own are dropped by an nftables rule on its
//!   output.
//! - [`Forgery::TooBig`]: a Fragmentation Needed / Packet Too Big with an MTU of the test's
//!   choosing, quoting a real echo request that passes through (and goes on: the router
//!   forwards it all the same), as anyone on the path could forge.
//!
//! A thread reads the echo requests from a packet socket on the router and answers from
//! the router's address through raw sockets whose packets carry a mark the drop rule lets
//! through. Nothing leaves the chain's namespaces.

use std::collections::HashSet;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use icmplib::Family;
use icmplib::packet::{
    IPPROTO_ICMP, IPPROTO_ICMPV6, Ipv4Packet, Ipv6Packet, Message, Quote, QuoteLayout,
    parse_request_header,
};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::Chain;

/// The mark of the forger's packets (`SO_MARK`), which the router's drop rule spares.
const MARK: u32 = 0x4884;
/// An RFC 4884 extension structure (version 2, checksum over it) holding one MPLS label
/// stack object (class 1, C-type 1) with one entry: label 100, EXP 0, bottom of stack,
/// TTL 1.
pub const MPLS_EXTENSION: [u8; 12] = [
    0x20, 0x00, 0x9d, 0xef, 0x00, 0x08, 0x01, 0x01, 0x00, 0x06, 0x41, 0x01,
];
/// How long a forger runs at most, whatever the test does.
const LIFETIME: Duration = Duration::from_secs(120);
/// Messages a forger sends at most.
const MAX_FORGED: usize = 10_000;
/// Longest wait of the forging thread between looks at the stop flag.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Length of the Ethernet header a packet socket of type `SOCK_RAW` reads.
const ETHERNET_HEADER: usize = 14;
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_IPV6: [u8; 2] = [0x86, 0xdd];

/// What a [`Forger`] forges.
#[derive(Debug, Clone, Copy)]
pub enum Forgery {
    /// A Time Exceeded for each echo request that expires at the router, its quote laid
    /// out as given ([`QuoteLayout::Rfc4884`] or [`QuoteLayout::Padded128`]), followed by
    /// [`MPLS_EXTENSION`].
    TimeExceeded(QuoteLayout),
    /// A Fragmentation Needed / Packet Too Big giving `mtu`, for the first echo request of
    /// each size larger than `mtu` from each sender (source address and identifier): one
    /// forged message per size a path MTU search tries, quoting its real probe.
    TooBig {
        /// The MTU claimed.
        mtu: u32,
    },
}

/// The router at a distance of a [`Chain`] answering echo requests with forged errors,
/// until dropped (then its thread is stopped and joined).
pub struct Forger {
    stop: Arc<AtomicBool>,
    forged: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl Forger {
    /// Makes router `distance` of `chain` answer the echo requests that arrive from the
    /// client's side with a TTL / hop limit of 1 with a Time Exceeded whose quote is laid
    /// out as `layout` says ([`QuoteLayout::Rfc4884`] or [`QuoteLayout::Padded128`]), followed
    /// by [`MPLS_EXTENSION`]. The router's own Time Exceeded messages are dropped.
    pub fn start(chain: &Chain, distance: usize, layout: QuoteLayout) -> Forger {
        Forger::forge(chain, distance, Forgery::TimeExceeded(layout))
    }

    /// Makes router `distance` of `chain` forge `forgery` for the echo requests that
    /// arrive from the client's side.
    pub fn forge(chain: &Chain, distance: usize, forgery: Forgery) -> Forger {
        let router = chain.router(distance);
        router.nft(&format!(
            "table inet icmplib_forger\n\
             delete table inet icmplib_forger\n\
             table inet icmplib_forger {{\n\
             \tchain output {{\n\
             \t\ttype filter hook output priority 0; policy accept;\n\
             \t\tmeta mark != {MARK} icmp type time-exceeded drop\n\
             \t\tmeta mark != {MARK} icmpv6 type time-exceeded drop\n\
             \t}}\n\
             }}\n"
        ));
        // `ip -br link` prints the name, the state and the address.
        let link = router.ip(&["-br", "link", "show", "dev", "vup"]);
        let mac = link
            .split_whitespace()
            .nth(2)
            .and_then(parse_mac)
            .unwrap_or_else(|| panic!("no MAC address in {link:?}"));
        let addresses = [
            chain.hop_address(distance, Family::V4),
            chain.hop_address(distance, Family::V6),
        ];
        // Sockets keep the namespace they were made in: made there, used from here.
        let sockets = router.run(move || Sockets::open(addresses));
        let stop = Arc::new(AtomicBool::new(false));
        let forged = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, forged) = (Arc::clone(&stop), Arc::clone(&forged));
            thread::Builder::new()
                .name("forger".into())
                .spawn(move || sockets.serve(mac, forgery, &stop, &forged))
                .expect("cannot spawn the forger")
        };
        Forger {
            stop,
            forged,
            thread: Some(thread),
        }
    }

    /// Messages forged so far.
    pub fn forged(&self) -> usize {
        self.forged.load(Ordering::Relaxed)
    }
}

impl Drop for Forger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // A panic of the thread already failed the test with its message.
            let _ = thread.join();
        }
    }
}

/// "aa:bb:cc:dd:ee:ff" as bytes.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// The forger's sockets, made in the router's namespace.
struct Sockets {
    /// Every frame of the router's interfaces (`AF_PACKET`, `ETH_P_ALL`).
    capture: Socket,
    /// Raw ICMP sockets bound to the router's addresses, their packets marked.
    v4: Socket,
    v6: Socket,
    /// The router's address facing the client, per family.
    addresses: [IpAddr; 2],
}

impl Sockets {
    fn open(addresses: [IpAddr; 2]) -> Sockets {
        let all = i32::from((libc::ETH_P_ALL as u16).to_be());
        let capture = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(all)))
            .expect("a packet socket");
        capture
            .set_read_timeout(Some(POLL_INTERVAL))
            .expect("a read timeout");
        let raw = |domain, protocol, address: IpAddr| {
            let socket = Socket::new(domain, Type::RAW, Some(protocol)).expect("a raw socket");
            socket.set_mark(MARK).expect("SO_MARK");
            socket
                .bind(&SockAddr::from(SocketAddr::new(address, 0)))
                .expect("bind to the router's address");
            socket
        };
        Sockets {
            capture,
            v4: raw(Domain::IPV4, Protocol::ICMPV4, addresses[0]),
            v6: raw(Domain::IPV6, Protocol::ICMPV6, addresses[1]),
            addresses,
        }
    }

    /// Reads frames sent to the router's `mac` and answers the echo requests as `forgery`
    /// says, until `stop`, [`LIFETIME`] or [`MAX_FORGED`].
    fn serve(&self, mac: [u8; 6], forgery: Forgery, stop: &AtomicBool, forged: &AtomicUsize) {
        let deadline = Instant::now() + LIFETIME;
        let mut frame = vec![0u8; 65_536];
        let mut message = Vec::new();
        // The sizes already claimed too big, per sender.
        let mut claimed = HashSet::new();
        while !stop.load(Ordering::Relaxed)
            && Instant::now() < deadline
            && forged.load(Ordering::Relaxed) < MAX_FORGED
        {
            let Ok(len) = (&self.capture).read(&mut frame) else {
                continue;
            };
            let frame = &frame[..len];
            // Frames to the router's interface only: the packet socket also sees what the
            // router forwards out of its other side, with a TTL already decremented.
            if frame.len() < ETHERNET_HEADER || frame[..6] != mac {
                continue;
            }
            let ip = &frame[ETHERNET_HEADER..];
            let Some(request) = self.request(&frame[12..14], ip) else {
                continue;
            };
            let (family, source, quoted) = (request.family, request.source, request.datagram);
            message.clear();
            // The kernel fills in the ICMPv6 checksum of raw ICMPv6 sockets.
            match forgery {
                Forgery::TimeExceeded(layout) => {
                    if request.ttl != 1 {
                        continue;
                    }
                    let quote = Quote {
                        datagram: quoted,
                        extensions: Some(&MPLS_EXTENSION),
                        layout,
                    };
                    Message::TimeExceeded { code: 0, quote }.emit(family, &mut message);
                }
                Forgery::TooBig { mtu } => {
                    let size = quoted.len();
                    if size <= mtu as usize || !claimed.insert((source, request.id, size)) {
                        continue;
                    }
                    // As much of the datagram as a router quotes: what fits in 576 bytes
                    // (IPv4, RFC 1812) or 1,280 (IPv6, RFC 4443) with the headers.
                    let room = match family {
                        Family::V4 => 576 - 20 - 8,
                        Family::V6 => 1280 - 40 - 8,
                    };
                    let quote = Quote {
                        datagram: &quoted[..size.min(room)],
                        extensions: None,
                        layout: QuoteLayout::Plain,
                    };
                    Message::PacketTooBig { mtu, quote }.emit(family, &mut message);
                }
            }
            let socket = match family {
                Family::V4 => &self.v4,
                Family::V6 => &self.v6,
            };
            let to = SockAddr::from(SocketAddr::new(source, 0));
            if socket.send_to(&message, &to).is_ok() {
                forged.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The echo request in `ip` (of `ethertype`), if it is one not addressed to the
    /// router.
    fn request<'a>(&self, ethertype: &[u8], ip: &'a [u8]) -> Option<Request<'a>> {
        let (family, source, destination, datagram, icmp, ttl) = if ethertype == ETHERTYPE_IPV4 {
            let packet = Ipv4Packet::new_checked(ip).ok()?;
            if packet.protocol() != IPPROTO_ICMP {
                return None;
            }
            (
                Family::V4,
                IpAddr::V4(packet.source()),
                IpAddr::V4(packet.destination()),
                packet.datagram(),
                packet.payload(),
                packet.ttl(),
            )
        } else if ethertype == ETHERTYPE_IPV6 {
            let packet = Ipv6Packet::new_checked(ip).ok()?;
            if packet.next_header() != IPPROTO_ICMPV6 {
                return None;
            }
            (
                Family::V6,
                IpAddr::V6(packet.source()),
                IpAddr::V6(packet.destination()),
                packet.datagram(),
                packet.payload(),
                packet.hop_limit(),
            )
        } else {
            return None;
        };
        if self.addresses.contains(&destination) {
            return None;
        }
        let echo = parse_request_header(family, icmp)?;
        Some(Request {
            family,
            source,
            id: echo.id,
            ttl,
            datagram,
        })
    }
}

/// An echo request passing through the router.
struct Request<'a> {
    family: Family,
    source: IpAddr,
    id: u16,
    /// Its TTL / hop limit on arrival.
    ttl: u8,
    /// The whole IP packet.
    datagram: &'a [u8],
}
