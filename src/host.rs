//! Results: [`Host`] (a pinged host and its statistics) and [`Hop`] (a host on the path
//! of a traceroute, with its distance).

use std::fmt;
use std::net::IpAddr;

use crate::error::Error;
use crate::stats;

/// A pinged host: how many requests were sent and answered, and the round-trip times.
///
/// Times are in milliseconds. `min_rtt`, `avg_rtt`, `max_rtt`, `jitter` and `stddev` are
/// rounded to 3 decimals, `packet_loss` to 2; `rtts` holds the raw values.
///
/// ```
/// use icmplib::Host;
///
/// let host = Host::new("192.0.2.1", 4, vec![10.0, 12.5, 11.0]);
/// assert_eq!(host.packets_received(), 3);
/// assert_eq!(host.packet_loss(), 0.25);
/// assert_eq!(host.avg_rtt(), 11.167);
/// assert_eq!(host.jitter(), 2.0); // (|10 - 12.5| + |12.5 - 11|) / 2
/// assert_eq!(host.stddev(), 1.027);
/// assert!(host.is_alive());
/// ```
///
/// With the `serde` feature a host serializes with these field names plus `error` (its
/// message) and `target` (as given); deserializing restores all but the error.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
pub struct Host {
    address: String,
    min_rtt: f64,
    avg_rtt: f64,
    max_rtt: f64,
    rtts: Vec<f64>,
    packets_sent: usize,
    packets_received: usize,
    packet_loss: f64,
    jitter: f64,
    /// Absent from JSON written before it existed: computed again from `rtts`.
    #[cfg_attr(feature = "serde", serde(default))]
    stddev: Option<f64>,
    /// Replies beyond the first to a request (absent from older JSON: 0).
    #[cfg_attr(feature = "serde", serde(default))]
    duplicates: usize,
    is_alive: bool,
    /// Serialized as its message; not restored by deserialization.
    #[cfg_attr(feature = "serde", serde(skip_deserializing))]
    error: Option<Error>,
    /// The target as the caller gave it, when not the address itself (a name).
    #[cfg_attr(feature = "serde", serde(default))]
    target: Option<String>,
}

/// Every field under its name, `error` as its message and `target` always (the address
/// when it was the target).
#[cfg(feature = "serde")]
impl serde::Serialize for Host {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;

        let mut host = serializer.serialize_struct("Host", 14)?;
        host.serialize_field("address", &self.address)?;
        host.serialize_field("min_rtt", &self.min_rtt)?;
        host.serialize_field("avg_rtt", &self.avg_rtt)?;
        host.serialize_field("max_rtt", &self.max_rtt)?;
        host.serialize_field("rtts", &self.rtts)?;
        host.serialize_field("packets_sent", &self.packets_sent)?;
        host.serialize_field("packets_received", &self.packets_received)?;
        host.serialize_field("packet_loss", &self.packet_loss)?;
        host.serialize_field("jitter", &self.jitter)?;
        host.serialize_field("stddev", &self.stddev())?;
        host.serialize_field("duplicates", &self.duplicates)?;
        host.serialize_field("is_alive", &self.is_alive)?;
        host.serialize_field("error", &self.error)?;
        host.serialize_field("target", self.target())?;
        host.end()
    }
}

/// Rounds to `decimals` decimal places.
pub(crate) fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    let rounded = (value * scale).round() / scale;
    // Values too large to scale have no decimals to round.
    if rounded.is_finite() { rounded } else { value }
}

impl Host {
    /// The statistics of `address` after `packets_sent` requests, answered with these
    /// round-trip times in milliseconds (one per reply received).
    ///
    /// Times that are not a number, infinite or negative are not round-trip times: they
    /// are left out. More replies than requests count as many requests as replies, so the
    /// packet loss stays between 0 and 1.
    ///
    /// ```
    /// use icmplib::Host;
    ///
    /// let host = Host::new("192.0.2.1", 1, vec![f64::NAN, -200.0, 3.0, 5.0]);
    /// assert_eq!((host.packets_sent(), host.packets_received()), (2, 2));
    /// assert_eq!((host.min_rtt(), host.packet_loss()), (3.0, 0.0));
    /// ```
    pub fn new(address: impl Into<String>, packets_sent: usize, mut rtts: Vec<f64>) -> Host {
        if !rtts
            .iter()
            .all(|rtt| rtt.is_finite() && rtt.is_sign_positive())
        {
            rtts.retain(|rtt| rtt.is_finite() && *rtt >= 0.0);
            // -0.0 passes the test above; it is 0.
            rtts.iter_mut().for_each(|rtt| *rtt = rtt.abs());
        }
        let received = rtts.len();
        let packets_sent = packets_sent.max(received);
        let figures = stats::figures(&rtts);
        let packet_loss = if packets_sent == 0 {
            0.0
        } else {
            round(1.0 - received as f64 / packets_sent as f64, 2)
        };
        Host {
            address: address.into(),
            min_rtt: round(figures.min, 3),
            avg_rtt: round(figures.avg, 3),
            max_rtt: round(figures.max, 3),
            rtts,
            packets_sent,
            packets_received: received,
            packet_loss,
            jitter: round(figures.jitter, 3),
            stddev: Some(round(figures.stddev, 3)),
            duplicates: 0,
            is_alive: received > 0,
            error: None,
            target: None,
        }
    }

    /// The same host with `duplicates` replies beyond the first to its requests.
    pub fn with_duplicates(mut self, duplicates: usize) -> Host {
        self.duplicates = duplicates;
        self
    }

    /// The same host with `error` as the reason it is not (fully) reachable.
    pub fn with_error(mut self, error: Option<Error>) -> Host {
        self.error = error;
        self
    }

    /// The target as the caller gave it: a name, or the address as written. Lets a
    /// stream of results be matched back to its targets.
    pub fn target(&self) -> &str {
        self.target.as_deref().unwrap_or(&self.address)
    }

    /// The same host, pinged for `target` as the caller gave it (a name): shown as
    /// `target (address)` and kept in [`Host::target`].
    ///
    /// ```
    /// use icmplib::Host;
    ///
    /// let host = Host::new("127.0.0.1", 1, vec![0.05]).with_target("localhost");
    /// assert_eq!(host.target(), "localhost");
    /// assert!(host.to_string().starts_with("localhost (127.0.0.1): "));
    /// ```
    pub fn with_target(mut self, target: &str) -> Host {
        if target != self.address {
            self.target = Some(target.to_string());
        }
        self
    }

    /// The IP address that was pinged, or the target as given when it could not be
    /// resolved.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The address as an [`IpAddr`], when it is one, without the zone a link-local
    /// address is shown with (`fe80::2%eth0` is `fe80::2`).
    ///
    /// ```
    /// let host = icmplib::Host::new("fe80::2%eth0", 1, vec![0.1]);
    /// assert_eq!(host.ip(), Some("fe80::2".parse().unwrap()));
    /// ```
    pub fn ip(&self) -> Option<IpAddr> {
        let address = self
            .address
            .split_once('%')
            .map_or(self.address.as_str(), |(address, _)| address);
        address.parse().ok()
    }

    /// The smallest round-trip time in milliseconds (0.0 without replies).
    pub fn min_rtt(&self) -> f64 {
        self.min_rtt
    }

    /// The mean round-trip time in milliseconds (0.0 without replies).
    pub fn avg_rtt(&self) -> f64 {
        self.avg_rtt
    }

    /// The largest round-trip time in milliseconds (0.0 without replies).
    pub fn max_rtt(&self) -> f64 {
        self.max_rtt
    }

    /// Every round-trip time in milliseconds, in the order of the replies, not rounded.
    pub fn rtts(&self) -> &[f64] {
        &self.rtts
    }

    /// Requests actually sent.
    pub fn packets_sent(&self) -> usize {
        self.packets_sent
    }

    /// Replies received.
    pub fn packets_received(&self) -> usize {
        self.packets_received
    }

    /// `1 - received / sent`, rounded to 2 decimals (0.0 when nothing was sent).
    pub fn packet_loss(&self) -> f64 {
        self.packet_loss
    }

    /// The mean absolute difference between consecutive round-trip times, in
    /// milliseconds (0.0 with fewer than two replies).
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// The population standard deviation of the round-trip times, in milliseconds (0.0
    /// with fewer than two replies).
    pub fn stddev(&self) -> f64 {
        self.stddev
            .unwrap_or_else(|| round(stats::figures(&self.rtts).stddev, 3))
    }

    /// Replies beyond the first to a request: a host, or a network, that answers twice
    /// (ping's `DUP!`). They count neither as replies nor in the times. Recognised among
    /// the last few thousand replies of a socket.
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// True when at least one reply came back.
    pub fn is_alive(&self) -> bool {
        self.is_alive
    }

    /// Why the host is not (fully) reachable: the last ICMP error (Destination
    /// Unreachable, Time Exceeded, ...), send error or name lookup failure. `None` when
    /// requests were simply not answered.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }
}

impl fmt::Display for Host {
    /// A host pinged by name shows as `name (address)`, as ping prints it.
    ///
    /// ```
    /// let host = icmplib::Host::new("192.0.2.1", 4, vec![1.5, 2.25, 1.0]);
    /// assert_eq!(
    ///     host.to_string(),
    ///     "192.0.2.1: 4 packets sent, 3 received, 25% packet loss, \
    ///      rtt min/avg/max/jitter = 1/1.583/2.25/1 ms"
    /// );
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            Some(target) if *target != self.address => {
                write!(f, "{target} ({}): ", self.address)?;
            }
            _ => write!(f, "{}: ", self.address)?,
        }
        write!(
            f,
            "{} packets sent, {} received, {}% packet loss",
            self.packets_sent,
            self.packets_received,
            round(self.packet_loss * 100.0, 0)
        )?;
        if self.is_alive {
            write!(
                f,
                ", rtt min/avg/max/jitter = {}/{}/{}/{} ms",
                self.min_rtt, self.avg_rtt, self.max_rtt, self.jitter
            )?;
        }
        if let Some(error) = &self.error {
            write!(f, " ({error})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the figures a host is made from, its statistics make sense: a loss
        /// between 0 and 1, finite times in order, a received count within the sent one.
        #[test]
        fn any_figures_give_sensible_statistics(
            sent in 0usize..10,
            rtts in proptest::collection::vec(
                prop_oneof![
                    any::<f64>(),
                    Just(f64::NAN),
                    Just(f64::INFINITY),
                    Just(-200.0),
                    0.0f64..1e4,
                ],
                0..10,
            ),
        ) {
            let host = Host::new("192.0.2.1", sent, rtts);
            prop_assert!((0.0..=1.0).contains(&host.packet_loss()), "{host:?}");
            prop_assert!(host.packets_received() <= host.packets_sent());
            for figure in [host.min_rtt(), host.avg_rtt(), host.max_rtt(), host.jitter()] {
                prop_assert!(figure.is_finite() && figure >= 0.0, "{host:?}");
            }
            prop_assert!(host.rtts().iter().all(|rtt| rtt.is_finite() && *rtt >= 0.0));
            prop_assert!(host.min_rtt() <= host.avg_rtt() && host.avg_rtt() <= host.max_rtt());
            prop_assert!(!host.to_string().contains('-'), "{host}");
        }
    }

    #[test]
    fn nothing_sent_or_received() {
        let host = Host::new("192.0.2.1", 0, vec![]);
        assert_eq!(
            (host.packet_loss(), host.min_rtt(), host.jitter()),
            (0.0, 0.0, 0.0)
        );
        assert!(!host.is_alive());
        let lost = Host::new("192.0.2.1", 3, vec![]);
        assert_eq!(lost.packet_loss(), 1.0);
        assert_eq!(
            lost.to_string(),
            "192.0.2.1: 3 packets sent, 0 received, 100% packet loss"
        );
    }

    #[test]
    fn formulas_with_fixed_rtts() {
        let host = Host::new("h", 5, vec![1.0, 3.0, 2.0, 6.0]);
        assert_eq!(host.min_rtt(), 1.0);
        assert_eq!(host.max_rtt(), 6.0);
        assert_eq!(host.avg_rtt(), 3.0);
        // |1-3| + |3-2| + |2-6| = 7 over 3 differences.
        assert_eq!(host.jitter(), 2.333);
        assert_eq!(host.packet_loss(), 0.2);
        assert_eq!(host.packets_received(), 4);
        assert_eq!(host.rtts(), &[1.0, 3.0, 2.0, 6.0]);
    }

    #[test]
    fn one_reply_has_no_jitter() {
        let host = Host::new("h", 1, vec![0.123_456]);
        assert_eq!(host.jitter(), 0.0);
        assert_eq!(host.min_rtt(), 0.123);
        assert_eq!(host.rtts(), &[0.123_456], "raw values are kept");
    }

    #[test]
    fn rounding_cases() {
        // Halfway cases round away from zero; binary artefacts do not leak into output.
        let host = Host::new("h", 3, vec![0.1 + 0.2, 0.0005, 1.0005]);
        assert_eq!(host.min_rtt(), 0.001);
        assert_eq!(host.max_rtt(), 1.001);
        assert_eq!(host.avg_rtt(), 0.434);
        assert_eq!(Host::new("h", 3, vec![1.0]).packet_loss(), 0.67);
        assert_eq!(Host::new("h", 3, vec![1.0, 1.0]).packet_loss(), 0.33);
        assert_eq!(Host::new("h", 7, vec![1.0; 5]).packet_loss(), 0.29);
        let shown = Host::new("h", 7, vec![0.1 + 0.2; 5]).to_string();
        assert!(shown.contains("29% packet loss"), "{shown}");
        assert!(shown.contains("0.3/0.3/0.3/0 ms"), "{shown}");
    }

    #[test]
    fn errors_are_shown() {
        let host = Host::new("nowhere.invalid", 0, vec![])
            .with_error(Some(Error::name_not_found("nowhere.invalid")));
        assert_eq!(host.ip(), None);
        assert!(
            host.to_string()
                .ends_with("(The name 'nowhere.invalid' cannot be resolved)")
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn a_host_pinged_by_name_keeps_its_name_in_json() {
        let host = Host::new("127.0.0.1", 1, vec![0.005909]).with_target("localhost");
        let text = serde_json::to_string(&host).unwrap();
        assert!(text.contains(r#""target":"localhost""#), "{text}");
        assert!(text.contains(r#""rtts":[0.005909]"#), "{text}");
        let back: Host = serde_json::from_str(&text).unwrap();
        assert_eq!((back.target(), back.address()), ("localhost", "127.0.0.1"));
        // Without a target in the JSON (as written before it was kept), the address.
        let mut value = serde_json::to_value(&host).unwrap();
        value.as_object_mut().unwrap().remove("target");
        let back: Host = serde_json::from_value(value).unwrap();
        assert_eq!(back.target(), "127.0.0.1");
    }

    #[test]
    fn a_host_pinged_by_name_shows_name_and_address() {
        let host = Host::new("127.0.0.1", 1, vec![0.5]).with_target("localhost");
        assert!(
            host.to_string()
                .starts_with("localhost (127.0.0.1): 1 packets sent"),
            "{host}"
        );
        let same = Host::new("127.0.0.1", 1, vec![0.5]).with_target("127.0.0.1");
        assert!(
            same.to_string().starts_with("127.0.0.1: 1 packets"),
            "{same}"
        );
    }
}
