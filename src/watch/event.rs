//! What a watch tells: [`WatchEvent`].

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::Error;

/// What happened to a watched target. Round trips are in milliseconds, as everywhere in
/// the crate ([`Host`](crate::Host), [`Stats`](crate::Stats)); the target is the name or
/// address as given, shared by all its events.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WatchEvent {
    /// A probe was answered.
    Reply {
        /// The target as given.
        target: Arc<str>,
        /// The address probed.
        address: IpAddr,
        /// The probe's sequence number.
        sequence: u16,
        /// Its round trip, in milliseconds (not rounded).
        rtt: f64,
        /// The TTL / hop limit the reply arrived with, when the system said.
        ttl: Option<u8>,
        /// The TOS / traffic class it arrived with, when the system said.
        traffic_class: Option<u8>,
        /// The reply's size in bytes, as read.
        bytes: usize,
        /// When it arrived, on the wall clock.
        at: SystemTime,
    },
    /// Another reply to a probe answered already (not counted as an answer).
    Duplicate {
        /// The target as given.
        target: Arc<str>,
        /// The address probed.
        address: IpAddr,
        /// The probe's sequence number.
        sequence: u16,
    },
    /// A probe got no answer in time.
    Timeout {
        /// The target as given.
        target: Arc<str>,
        /// The address probed.
        address: IpAddr,
    },
    /// A probe was answered by an ICMP error (Destination Unreachable, Time Exceeded),
    /// could not leave, or the target's name could not be looked up.
    Error {
        /// The target as given.
        target: Arc<str>,
        /// The address probed, once known.
        address: Option<IpAddr>,
        /// What went wrong.
        error: Error,
    },
    /// The target's state changed: up after `up_after` answers in a row, down after
    /// `down_after` losses in a row.
    State {
        /// The target as given.
        target: Arc<str>,
        /// Its new state.
        up: bool,
        /// Its state before; `None` for the first one known.
        previous: Option<bool>,
    },
}

impl WatchEvent {
    /// The target the event is about, as given.
    pub fn target(&self) -> &str {
        match self {
            WatchEvent::Reply { target, .. }
            | WatchEvent::Duplicate { target, .. }
            | WatchEvent::Timeout { target, .. }
            | WatchEvent::Error { target, .. }
            | WatchEvent::State { target, .. } => target,
        }
    }
}
