//! A tiny DNS responder for resolver tests: answers A and AAAA questions for the names it
//! was given, and PTR questions for the addresses given names ([`DnsResponder::set_ptr`]),
//! over UDP on loopback, NXDOMAIN for the rest, and counts the questions.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::Netns;

/// A DNS server on 127.0.0.1 inside a namespace, stopped on drop.
pub struct DnsResponder {
    address: SocketAddr,
    records: Arc<Mutex<HashMap<String, Vec<IpAddr>>>>,
    /// Reverse names: the `in-addr.arpa` / `ip6.arpa` name of an address, and its name.
    pointers: Arc<Mutex<HashMap<String, String>>>,
    /// The TTL of its answers, in seconds (60 unless set).
    ttl: Arc<AtomicU32>,
    queries: Arc<Mutex<HashMap<String, usize>>>,
    /// While set, questions are read and never answered: a dead server.
    silent: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DnsResponder {
    /// Serves `records` (lower-case names without the final dot) inside `netns`.
    pub fn start(netns: &Netns, records: &[(&str, &[IpAddr])]) -> DnsResponder {
        let records: Arc<Mutex<HashMap<String, Vec<IpAddr>>>> = Arc::new(Mutex::new(
            records
                .iter()
                .map(|(name, addresses)| (name.to_string(), addresses.to_vec()))
                .collect(),
        ));
        let ttl = Arc::new(AtomicU32::new(60));
        let socket = netns.run(|| UdpSocket::bind("127.0.0.1:0").expect("bind the DNS responder"));
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let address = socket.local_addr().unwrap();
        let queries = Arc::new(Mutex::new(HashMap::new()));
        let silent = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let pointers = Arc::new(Mutex::new(HashMap::new()));
        let thread = {
            let (queries, silent, stop) =
                (Arc::clone(&queries), Arc::clone(&silent), Arc::clone(&stop));
            let (records, ttl) = (Arc::clone(&records), Arc::clone(&ttl));
            let pointers = Arc::clone(&pointers);
            std::thread::spawn(move || {
                let zone = Zone {
                    records: &records,
                    pointers: &pointers,
                    ttl: &ttl,
                };
                serve(&socket, &zone, &queries, &silent, &stop);
            })
        };
        DnsResponder {
            address,
            records,
            pointers,
            ttl,
            queries,
            silent,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops answering (`true`: questions are read and dropped, as by a dead server) or
    /// answers again.
    pub fn set_silent(&self, silent: bool) {
        self.silent.store(silent, Ordering::Relaxed);
    }

    /// Answers `name` with `addresses` from now on.
    pub fn set_addresses(&self, name: &str, addresses: &[IpAddr]) {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_string(), addresses.to_vec());
    }

    /// Answers the reverse lookup of `address` with `name` from now on.
    pub fn set_ptr(&self, address: IpAddr, name: &str) {
        self.pointers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(arpa_name(address), name.to_string());
    }

    /// Gives its answers a TTL of `seconds` (0: resolvers keep none).
    pub fn set_ttl(&self, seconds: u32) {
        self.ttl.store(seconds, Ordering::Relaxed);
    }

    /// Where the server listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Questions asked about `name` so far.
    pub fn queries(&self, name: &str) -> usize {
        let queries = self.queries.lock().unwrap_or_else(PoisonError::into_inner);
        queries.get(name).copied().unwrap_or(0)
    }
}

impl Drop for DnsResponder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What a responder serves.
struct Zone<'a> {
    records: &'a Mutex<HashMap<String, Vec<IpAddr>>>,
    pointers: &'a Mutex<HashMap<String, String>>,
    ttl: &'a AtomicU32,
}

/// The reverse-lookup name of `address`: `4.3.2.1.in-addr.arpa`, or the nibbles of an
/// IPv6 address reversed under `ip6.arpa`.
pub fn arpa_name(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut labels: Vec<String> = v6
                .octets()
                .iter()
                .flat_map(|byte| [byte >> 4, byte & 0xf])
                .map(|nibble| format!("{nibble:x}"))
                .collect();
            labels.reverse();
            format!("{}.ip6.arpa", labels.join("."))
        }
    }
}

fn serve(
    socket: &UdpSocket,
    zone: &Zone<'_>,
    queries: &Mutex<HashMap<String, usize>>,
    silent: &AtomicBool,
    stop: &AtomicBool,
) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) {
        let Ok((len, peer)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let Some((name, qtype, question_end)) = parse_question(&buf[..len]) else {
            continue;
        };
        *queries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(name.clone())
            .or_default() += 1;
        if silent.load(Ordering::Relaxed) {
            continue;
        }
        let ttl = zone.ttl.load(Ordering::Relaxed);
        let reply = if qtype == PTR {
            let pointer = zone
                .pointers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&name)
                .cloned();
            answer_ptr(&buf[..question_end], pointer.as_deref(), ttl)
        } else {
            let addresses = zone
                .records
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&name)
                .cloned();
            answer(&buf[..question_end], addresses.as_ref(), qtype, ttl)
        };
        let _ = socket.send_to(&reply, peer);
    }
}

/// The lower-cased name, the type and the end of the (single) question.
fn parse_question(packet: &[u8]) -> Option<(String, u16, usize)> {
    if packet.len() < 12 || u16::from_be_bytes([packet[4], packet[5]]) != 1 {
        return None;
    }
    let mut labels = Vec::new();
    let mut at = 12;
    loop {
        let len = usize::from(*packet.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(packet.get(at..at + len)?).to_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]);
    Some((labels.join("."), qtype, at + 4))
}

/// The type number of a PTR question.
const PTR: u16 = 12;

/// A response to the PTR query whose header and question are `query`: `name`, or
/// NXDOMAIN.
fn answer_ptr(query: &[u8], name: Option<&str>, ttl: u32) -> Vec<u8> {
    let mut reply = query.to_vec();
    reply[2] = 0x81 | (query[2] & 0x01);
    reply[3] = 0x80 | if name.is_none() { 3 } else { 0 };
    reply[6..8].copy_from_slice(&u16::from(name.is_some()).to_be_bytes());
    reply[8..12].fill(0);
    if let Some(name) = name {
        let mut data = Vec::new();
        for label in name.split('.').filter(|label| !label.is_empty()) {
            data.push(u8::try_from(label.len()).expect("a label of at most 63 bytes"));
            data.extend_from_slice(label.as_bytes());
        }
        data.push(0);
        reply.extend_from_slice(&[0xc0, 12]);
        reply.extend_from_slice(&PTR.to_be_bytes());
        reply.extend_from_slice(&[0, 1]);
        reply.extend_from_slice(&ttl.to_be_bytes());
        reply.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
        reply.extend_from_slice(&data);
    }
    reply
}

/// A response to the query whose header and question are `query`.
fn answer(query: &[u8], addresses: Option<&Vec<IpAddr>>, qtype: u16, ttl: u32) -> Vec<u8> {
    let matching: Vec<&IpAddr> = addresses
        .map(|all| {
            all.iter()
                .filter(|a| (qtype == 1 && a.is_ipv4()) || (qtype == 28 && a.is_ipv6()))
                .collect()
        })
        .unwrap_or_default();
    let mut reply = query.to_vec();
    let rcode = if addresses.is_none() { 3 } else { 0 };
    reply[2] = 0x81 | (query[2] & 0x01); // QR, opcode 0, AA, RD copied
    reply[3] = 0x80 | rcode; // RA
    reply[6..8].copy_from_slice(&(matching.len() as u16).to_be_bytes());
    reply[8..12].fill(0); // no authority, no additional records
    for address in matching {
        reply.extend_from_slice(&[0xc0, 12]); // the name of the question
        reply.extend_from_slice(&qtype.to_be_bytes());
        reply.extend_from_slice(&[0, 1]); // class IN
        reply.extend_from_slice(&ttl.to_be_bytes());
        match address {
            IpAddr::V4(v4) => {
                reply.extend_from_slice(&4u16.to_be_bytes());
                reply.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                reply.extend_from_slice(&16u16.to_be_bytes());
                reply.extend_from_slice(&v6.octets());
            }
        }
    }
    reply
}
