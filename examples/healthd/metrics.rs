//! The figures of each target, kept in atomics: the watches' events add to them and a
//! scrape reads them, neither waiting for the other. Targets are found by name in a map
//! (a scan of the names cost a full core at 50,000 targets); the map is replaced whole
//! when the config is reloaded, and a target kept keeps its cell, counters and all.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use icmplib::{Error, WatchEvent, WatchHandle};

/// The upper bounds of the response-time buckets, in nanoseconds: smokeping_prober's
/// (Prometheus' `ExponentialBuckets(0.00005, 2, 20)`), 50 µs to 26.2 s.
pub const BUCKETS_NS: [u64; 20] = {
    let mut bounds = [0; 20];
    let mut at = 0;
    while at < 20 {
        bounds[at] = 50_000 << at;
        at += 1;
    }
    bounds
};

/// One target's figures since it was first watched.
pub struct Cell {
    /// The target as given (its canonical form).
    pub host: Arc<str>,
    /// Its group's `source` label and labels; replaced on reload.
    group: Mutex<Labels>,
    /// The address last probed, when known.
    ip: Mutex<Option<IpAddr>>,
    /// 1 once up, 0 otherwise (down or not known yet).
    up: AtomicU8,
    pub requests: AtomicU64,
    pub timeouts: AtomicU64,
    pub send_errors: AtomicU64,
    pub error_replies: AtomicU64,
    pub duplicates: AtomicU64,
    /// The TTL (hop limit) of the last reply; 0 before the first.
    pub ttl: AtomicU8,
    /// Replies per bucket (not cumulative), the last one above the largest bound.
    buckets: [AtomicU64; BUCKETS_NS.len() + 1],
    /// The sum of the response times, in nanoseconds: whole numbers, so that a sum shows
    /// no float noise.
    sum_ns: AtomicU64,
    /// Whether the last outcome was an error (to log a failure once, not every period).
    failing: AtomicBool,
}

/// The labels a group gives its targets.
#[derive(Clone, Default)]
pub struct Labels {
    pub source: Arc<str>,
    pub extra: Arc<[(String, String)]>,
}

/// A snapshot of a cell's figures, as a scrape shows them.
pub struct Figures {
    pub ip: Option<IpAddr>,
    pub labels: Labels,
    pub up: u8,
    /// Cumulative counts per bucket bound, then +Inf (the count of replies).
    pub cumulative: [u64; BUCKETS_NS.len() + 1],
    pub sum_ns: u64,
}

impl Cell {
    pub fn new(host: Arc<str>, labels: Labels) -> Cell {
        Cell {
            ip: Mutex::new(host.parse().ok()),
            host,
            group: Mutex::new(labels),
            up: AtomicU8::new(0),
            requests: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            error_replies: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            ttl: AtomicU8::new(0),
            buckets: Default::default(),
            sum_ns: AtomicU64::new(0),
            failing: AtomicBool::new(false),
        }
    }

    pub fn relabel(&self, labels: Labels) {
        *self.group.lock().unwrap_or_else(|e| e.into_inner()) = labels;
    }

    fn saw(&self, address: IpAddr) {
        let mut ip = self.ip.lock().unwrap_or_else(|e| e.into_inner());
        if *ip != Some(address) {
            *ip = Some(address);
        }
    }

    /// Adds `event`'s outcome to the figures; true when it settled a probe.
    pub fn record(&self, event: &WatchEvent) -> bool {
        match event {
            WatchEvent::Reply {
                address, rtt, ttl, ..
            } => {
                self.saw(*address);
                self.requests.fetch_add(1, Relaxed);
                // The RTT comes in milliseconds.
                let ns = (rtt * 1e6).max(0.0) as u64;
                let bucket = BUCKETS_NS.partition_point(|&bound| bound < ns);
                self.buckets[bucket].fetch_add(1, Relaxed);
                self.sum_ns.fetch_add(ns, Relaxed);
                if let Some(ttl) = ttl {
                    self.ttl.store(*ttl, Relaxed);
                }
                if self.failing.swap(false, Relaxed) {
                    eprintln!("healthd: {}: answers again", self.host);
                }
            }
            WatchEvent::Timeout { address, .. } => {
                self.saw(*address);
                self.requests.fetch_add(1, Relaxed);
                self.timeouts.fetch_add(1, Relaxed);
            }
            WatchEvent::Error { address, error, .. } => {
                if let Some(address) = address {
                    self.saw(*address);
                }
                self.requests.fetch_add(1, Relaxed);
                let counter = match error {
                    Error::DestinationUnreachable { .. }
                    | Error::TimeExceeded { .. }
                    | Error::Icmp { .. } => &self.error_replies,
                    _ => &self.send_errors,
                };
                counter.fetch_add(1, Relaxed);
                // A name that does not resolve fails every period: said once, until it
                // answers again.
                if !self.failing.swap(true, Relaxed) {
                    eprintln!("healthd: {}: {error}", self.host);
                }
            }
            WatchEvent::Duplicate { address, .. } => {
                self.saw(*address);
                self.duplicates.fetch_add(1, Relaxed);
                return false;
            }
            WatchEvent::State { up, .. } => {
                self.up.store(u8::from(*up), Relaxed);
                return false;
            }
            _ => return false,
        }
        true
    }

    /// The figures now (each counter read once; a reply landing meanwhile shows in the
    /// next scrape).
    pub fn figures(&self) -> Figures {
        let mut cumulative = [0; BUCKETS_NS.len() + 1];
        let mut total = 0;
        for (at, bucket) in self.buckets.iter().enumerate() {
            total += bucket.load(Relaxed);
            cumulative[at] = total;
        }
        Figures {
            ip: *self.ip.lock().unwrap_or_else(|e| e.into_inner()),
            labels: self.group.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            up: self.up.load(Relaxed),
            cumulative,
            sum_ns: self.sum_ns.load(Relaxed),
        }
    }
}

/// A target watched: its figures and the watch that probes it.
#[derive(Clone)]
pub struct Entry {
    pub cell: Arc<Cell>,
    pub handle: WatchHandle,
}

/// Every target watched, by name and in the config's order.
#[derive(Default)]
pub struct Board {
    pub by_host: HashMap<Arc<str>, Entry>,
    pub order: Vec<Entry>,
}

impl Board {
    pub fn push(&mut self, entry: Entry) {
        self.by_host
            .insert(Arc::clone(&entry.cell.host), entry.clone());
        self.order.push(entry);
    }

    /// Adds `event` to its target's figures (an event of a target just removed finds
    /// none); true when it settled a probe.
    pub fn record(&self, event: &WatchEvent) -> bool {
        self.by_host
            .get(event.target())
            .is_some_and(|entry| entry.cell.record(event))
    }
}
