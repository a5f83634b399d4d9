//! The statistics of one distance of a continuous trace, as mtr and trippy keep them:
//! running figures over every probe since the start, in constant memory.

use std::net::IpAddr;

use crate::packet::MplsLabel;

/// Routers kept per distance: a path that shows more at one distance is a balancer of
/// many legs or a path in flux; the probes still count, the extra routers are not listed.
pub(crate) const MAX_RESPONDERS: usize = 16;

/// One router (or the host) seen answering at a distance.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Responder {
    /// Its address.
    pub address: IpAddr,
    /// Its name, once a reverse lookup found one (when names are asked for).
    pub name: Option<String>,
    /// Answers it sent.
    pub received: u64,
    /// The flows whose probes met it, in order.
    pub flows: Vec<u16>,
    /// The MPLS label stack of its last answer that carried one.
    pub mpls: Vec<MplsLabel>,
}

/// The figures of one distance of a continuous trace ([`Pinger::watch_route`]): every
/// probe sent there since the trace started, whoever answered. Round-trip times and
/// jitters are in milliseconds.
///
/// - `sent` counts settled probes (answered, timed out, or failed to leave), so that a
///   probe in flight is not taken for lost; `loss` is `1 − received / sent`. Answers from
///   beyond where the path ended in their round (the host answering probes with TTL to
///   spare) are left out, as mtr leaves them out.
/// - `stddev` is the sample standard deviation (n − 1), as mtr's.
/// - Jitter as trippy's: `jitter` the difference between the last two round trips
///   (Jttr), `jitter_avg` its mean (Javg), `jitter_max` its largest (Jmax), and
///   `jitter_interarrival` RFC 3550's smoothed estimate, J += (|D| − J) / 16 (Jint).
///
/// [`Pinger::watch_route`]: crate::Pinger::watch_route
///
/// With the `serde` feature a hop serializes as its figures under these names (`loss`
/// from 0 to 1, absent figures as `null`) and its `responders`.
#[derive(Debug, Clone, PartialEq)]
pub struct HopStats {
    distance: u8,
    sent: u64,
    received: u64,
    last: Option<f64>,
    best: Option<f64>,
    worst: Option<f64>,
    /// Welford's running mean and sum of squared deviations.
    mean: f64,
    squares: f64,
    jitter: Option<f64>,
    jitter_sum: f64,
    jitter_max: f64,
    jitter_interarrival: f64,
    responders: Vec<Responder>,
}

impl HopStats {
    /// No probe at `distance` yet.
    pub(crate) fn new(distance: u8) -> HopStats {
        HopStats {
            distance,
            sent: 0,
            received: 0,
            last: None,
            best: None,
            worst: None,
            mean: 0.0,
            squares: 0.0,
            jitter: None,
            jitter_sum: 0.0,
            jitter_max: 0.0,
            jitter_interarrival: 0.0,
            responders: Vec::new(),
        }
    }

    /// A probe here was answered by `source` (of `flow`, with these labels) in `rtt` ms.
    pub(crate) fn answered(&mut self, source: IpAddr, flow: u16, rtt: f64, mpls: &[MplsLabel]) {
        self.sent += 1;
        self.received += 1;
        if let Some(last) = self.last {
            let difference = (rtt - last).abs();
            self.jitter = Some(difference);
            self.jitter_sum += difference;
            self.jitter_max = self.jitter_max.max(difference);
            self.jitter_interarrival += (difference - self.jitter_interarrival) / 16.0;
        }
        self.last = Some(rtt);
        self.best = Some(self.best.map_or(rtt, |best| best.min(rtt)));
        self.worst = Some(self.worst.map_or(rtt, |worst| worst.max(rtt)));
        let count = self.received as f64;
        let delta = rtt - self.mean;
        self.mean += delta / count;
        self.squares += delta * (rtt - self.mean);
        let known = self.responders.iter().position(|r| r.address == source);
        let responder = match known {
            Some(at) => &mut self.responders[at],
            None if self.responders.len() < MAX_RESPONDERS => {
                self.responders.push(Responder {
                    address: source,
                    name: None,
                    received: 0,
                    flows: Vec::new(),
                    mpls: Vec::new(),
                });
                let last = self.responders.len() - 1;
                &mut self.responders[last]
            }
            None => return,
        };
        responder.received += 1;
        if let Err(at) = responder.flows.binary_search(&flow) {
            responder.flows.insert(at, flow);
        }
        if !mpls.is_empty() {
            responder.mpls = mpls.to_vec();
        }
    }

    /// A probe here got no answer in time, or could not be sent.
    pub(crate) fn lost(&mut self) {
        self.sent += 1;
    }

    /// The responders, to give them their names.
    pub(crate) fn responders_mut(&mut self) -> &mut [Responder] {
        &mut self.responders
    }

    /// The distance in hops.
    pub fn distance(&self) -> u8 {
        self.distance
    }

    /// Probes settled here: answered, timed out or failed to leave (mtr's Snt, less those
    /// in flight).
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Probes answered here.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The share of probes lost, 0 to 1 (0 before any probe settled).
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        1.0 - self.received as f64 / self.sent as f64
    }

    /// The last round trip.
    pub fn last(&self) -> Option<f64> {
        self.last
    }

    /// The mean round trip.
    pub fn avg(&self) -> Option<f64> {
        (self.received > 0).then_some(self.mean)
    }

    /// The shortest round trip.
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// The longest round trip.
    pub fn worst(&self) -> Option<f64> {
        self.worst
    }

    /// The sample standard deviation of the round trips (0 with one).
    pub fn stddev(&self) -> Option<f64> {
        match self.received {
            0 => None,
            1 => Some(0.0),
            n => Some((self.squares / (n - 1) as f64).sqrt()),
        }
    }

    /// The difference between the last two round trips (trippy's Jttr).
    pub fn jitter(&self) -> Option<f64> {
        self.jitter
    }

    /// The mean difference between successive round trips (Javg).
    pub fn jitter_avg(&self) -> Option<f64> {
        (self.received > 1).then(|| self.jitter_sum / (self.received - 1) as f64)
    }

    /// The largest difference between successive round trips (Jmax).
    pub fn jitter_max(&self) -> Option<f64> {
        (self.received > 1).then_some(self.jitter_max)
    }

    /// RFC 3550's interarrival jitter over the round trips (Jint).
    pub fn jitter_interarrival(&self) -> Option<f64> {
        (self.received > 1).then_some(self.jitter_interarrival)
    }

    /// The routers (or the host) seen answering here, in the order first seen, at most
    /// 16.
    pub fn responders(&self) -> &[Responder] {
        &self.responders
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for HopStats {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;

        let mut hop = serializer.serialize_struct("HopStats", 15)?;
        hop.serialize_field("distance", &self.distance)?;
        hop.serialize_field("sent", &self.sent)?;
        hop.serialize_field("received", &self.received)?;
        hop.serialize_field("loss", &self.loss())?;
        hop.serialize_field("last", &self.last)?;
        hop.serialize_field("avg", &self.avg())?;
        hop.serialize_field("best", &self.best)?;
        hop.serialize_field("worst", &self.worst)?;
        hop.serialize_field("stddev", &self.stddev())?;
        hop.serialize_field("jitter", &self.jitter)?;
        hop.serialize_field("jitter_avg", &self.jitter_avg())?;
        hop.serialize_field("jitter_max", &self.jitter_max())?;
        hop.serialize_field("jitter_interarrival", &self.jitter_interarrival())?;
        hop.serialize_field("responders", &self.responders)?;
        hop.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn router() -> IpAddr {
        "192.0.2.1".parse().unwrap()
    }

    #[test]
    fn figures_as_mtr_and_trippy_keep_them() {
        let mut hop = HopStats::new(3);
        for rtt in [10.0, 12.0, 11.0] {
            hop.answered(router(), 0, rtt, &[]);
        }
        hop.lost();
        assert_eq!((hop.sent(), hop.received()), (4, 3));
        assert_eq!(hop.loss(), 0.25);
        assert_eq!(
            (hop.last(), hop.best(), hop.worst()),
            (Some(11.0), Some(10.0), Some(12.0))
        );
        assert_eq!(hop.avg(), Some(11.0));
        assert!((hop.stddev().unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(hop.jitter(), Some(1.0));
        assert_eq!(hop.jitter_avg(), Some(1.5));
        assert_eq!(hop.jitter_max(), Some(2.0));
        // J = 0 + (2 − 0) / 16 = 0.125; then 0.125 + (1 − 0.125) / 16.
        let jint = 0.125 + (1.0 - 0.125) / 16.0;
        assert!((hop.jitter_interarrival().unwrap() - jint).abs() < 1e-12);
        assert_eq!(hop.responders()[0].received, 3);
    }

    #[test]
    fn an_empty_hop_has_no_figures_and_responders_are_bounded() {
        let mut hop = HopStats::new(1);
        assert_eq!((hop.loss(), hop.avg(), hop.stddev()), (0.0, None, None));
        for last in 0..40u8 {
            let address = IpAddr::from([192, 0, 2, last]);
            hop.answered(address, u16::from(last % 4), 1.0, &[]);
        }
        assert_eq!(hop.responders().len(), MAX_RESPONDERS);
        assert_eq!(hop.received(), 40);
    }

    proptest! {
        /// The running mean and deviation are those of the whole series.
        #[test]
        fn running_figures_match_the_series(rtts in proptest::collection::vec(0.001f64..10_000.0, 2..60)) {
            let mut hop = HopStats::new(1);
            for rtt in &rtts {
                hop.answered(router(), 0, *rtt, &[]);
            }
            let n = rtts.len() as f64;
            let mean = rtts.iter().sum::<f64>() / n;
            let variance = rtts.iter().map(|rtt| (rtt - mean).powi(2)).sum::<f64>() / (n - 1.0);
            prop_assert!((hop.avg().unwrap() - mean).abs() <= 1e-6 * mean.max(1.0));
            prop_assert!((hop.stddev().unwrap() - variance.sqrt()).abs() <= 1e-6 * variance.sqrt().max(1.0));
        }
    }
}
