//! Round-trip statistics: the formulas of [`Host`](crate::Host) in one place, and
//! [`Window`], the statistics of a target's last probes, for monitoring that runs for
//! months: bounded by a number of probes (and optionally an age), never by time alone.
//! Pure code: the caller says when each probe happened.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Figures over a list of round-trip times in milliseconds, in the order they came.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Figures {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
    /// Mean of |rtt[i] - rtt[i+1]| over consecutive times (0 with fewer than 2).
    pub jitter: f64,
    /// Population standard deviation (0 with fewer than 2).
    pub stddev: f64,
}

/// The figures of `rtts`, all finite and not negative; zeros for none.
pub(crate) fn figures(rtts: &[f64]) -> Figures {
    if rtts.is_empty() {
        return Figures::default();
    }
    let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rtts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // Divided before the sum, so that no sum of finite times overflows.
    let count = rtts.len() as f64;
    let avg = rtts
        .iter()
        .map(|rtt| rtt / count)
        .sum::<f64>()
        .clamp(min, max);
    let jitter = if rtts.len() < 2 {
        0.0
    } else {
        let pairs = (rtts.len() - 1) as f64;
        rtts.windows(2)
            .map(|pair| (pair[0] - pair[1]).abs() / pairs)
            .sum()
    };
    let stddev = if rtts.len() < 2 {
        0.0
    } else {
        // Each square divided before the sum, so that no sum of finite times overflows.
        rtts.iter()
            .map(|rtt| (rtt - avg) * (rtt - avg) / count)
            .sum::<f64>()
            .sqrt()
            .min(max - min)
    };
    Figures {
        min,
        avg,
        max,
        jitter,
        stddev,
    }
}

/// The `p`-th percentile (0 to 100) of `sorted` (ascending), by the nearest-rank method
/// (the value below which `p` % of the times fall: p50 of 1, 2, 3, 4 is 2); 0 for none.
fn percentile_of(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) };
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What happened to one probe.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// Answered after this many milliseconds.
    Reply(f64),
    /// Not answered (timed out, or an ICMP error).
    Lost,
}

/// The statistics of a target's last probes: at most `capacity` of them, and, when an
/// age is set, none older than it. Duplicate replies are counted over the same span.
///
/// Memory is bounded by the capacity, whatever the time it runs for; each figure is
/// computed when asked for (a sort of at most `capacity` times for the median and
/// percentiles).
///
/// ```
/// use std::time::{Duration, Instant};
/// use icmplib::Window;
///
/// let start = Instant::now();
/// let mut window = Window::new(20);
/// for (n, rtt) in [10.0, 12.0, 11.0, 30.0].into_iter().enumerate() {
///     window.reply(start + Duration::from_secs(n as u64), rtt);
/// }
/// window.lost(start + Duration::from_secs(4));
/// let stats = window.stats(start + Duration::from_secs(5));
/// assert_eq!((stats.sent(), stats.received()), (5, 4));
/// assert_eq!(stats.packet_loss(), 0.2);
/// assert_eq!(stats.median(), 11.0);
/// assert_eq!(stats.percentile(90.0), 30.0);
/// ```
#[derive(Debug, Clone)]
pub struct Window {
    capacity: usize,
    max_age: Option<Duration>,
    probes: VecDeque<(Instant, Outcome)>,
    duplicates: VecDeque<Instant>,
}

impl Window {
    /// A window over the last `capacity` probes (at least 1).
    pub fn new(capacity: usize) -> Window {
        let capacity = capacity.max(1);
        Window {
            capacity,
            max_age: None,
            probes: VecDeque::with_capacity(capacity.min(4_096)),
            duplicates: VecDeque::new(),
        }
    }

    /// The same window, also leaving out probes older than `max_age` (smokeping's step,
    /// "the last 5 minutes").
    pub fn with_max_age(mut self, max_age: Duration) -> Window {
        self.max_age = Some(max_age);
        self
    }

    /// A probe sent at `at` was answered after `rtt_ms` milliseconds. A time that is not
    /// finite or is negative counts as a loss.
    pub fn reply(&mut self, at: Instant, rtt_ms: f64) {
        let outcome = if rtt_ms.is_finite() && rtt_ms >= 0.0 {
            Outcome::Reply(rtt_ms.abs())
        } else {
            Outcome::Lost
        };
        self.push(at, outcome);
    }

    /// A probe sent at `at` was not answered (timed out, or an ICMP error came back).
    pub fn lost(&mut self, at: Instant) {
        self.push(at, Outcome::Lost);
    }

    /// A duplicate reply arrived at `at` (one more answer to a probe already answered).
    pub fn duplicate(&mut self, at: Instant) {
        self.duplicates.push_back(at);
        while self.duplicates.len() > self.capacity {
            self.duplicates.pop_front();
        }
    }

    fn push(&mut self, at: Instant, outcome: Outcome) {
        self.probes.push_back((at, outcome));
        while self.probes.len() > self.capacity {
            self.probes.pop_front();
        }
    }

    /// The statistics of the probes in the window at `now`.
    pub fn stats(&self, now: Instant) -> Stats {
        let recent = |at: &Instant| {
            self.max_age
                .is_none_or(|age| now.saturating_duration_since(*at) <= age)
        };
        let mut sent = 0;
        let mut rtts = Vec::with_capacity(self.probes.len());
        for (_, outcome) in self.probes.iter().filter(|(at, _)| recent(at)) {
            sent += 1;
            if let Outcome::Reply(rtt) = outcome {
                rtts.push(*rtt);
            }
        }
        let duplicates = self.duplicates.iter().filter(|at| recent(at)).count();
        let figures = figures(&rtts);
        rtts.sort_by(f64::total_cmp);
        Stats {
            sent,
            duplicates,
            figures,
            sorted: rtts,
        }
    }
}

/// Statistics of a [`Window`] at one moment. Times are in milliseconds, rounded to 3
/// decimals as [`Host`](crate::Host)'s; figures of no reply are 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    sent: usize,
    duplicates: usize,
    figures: Figures,
    sorted: Vec<f64>,
}

impl Stats {
    /// Probes in the window.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// Probes answered.
    pub fn received(&self) -> usize {
        self.sorted.len()
    }

    /// Duplicate replies in the window.
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// The share of probes not answered, 0 to 1, rounded to 2 decimals as
    /// [`Host::packet_loss`](crate::Host::packet_loss).
    pub fn packet_loss(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        let loss = 1.0 - self.received() as f64 / self.sent as f64;
        (loss * 100.0).round() / 100.0
    }

    /// The smallest round trip.
    pub fn min_rtt(&self) -> f64 {
        round3(self.figures.min)
    }

    /// The mean round trip.
    pub fn avg_rtt(&self) -> f64 {
        round3(self.figures.avg)
    }

    /// The largest round trip.
    pub fn max_rtt(&self) -> f64 {
        round3(self.figures.max)
    }

    /// The population standard deviation of the round trips.
    pub fn stddev(&self) -> f64 {
        round3(self.figures.stddev)
    }

    /// The mean difference between consecutive round trips, as [`Host::jitter`](crate::Host::jitter).
    pub fn jitter(&self) -> f64 {
        round3(self.figures.jitter)
    }

    /// The median round trip (the 50th percentile).
    pub fn median(&self) -> f64 {
        self.percentile(50.0)
    }

    /// The `p`-th percentile (0 to 100) of the round trips, by nearest rank: a time that
    /// was measured, at or below which `p` % of them fall.
    pub fn percentile(&self, p: f64) -> f64 {
        round3(percentile_of(&self.sorted, p))
    }
}

/// Rounded to 3 decimals (a microsecond), as Host's figures.
fn round3(value: f64) -> f64 {
    let rounded = (value * 1e3).round() / 1e3;
    if rounded.is_finite() { rounded } else { value }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn figures_of_known_times() {
        let known = figures(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!((known.min, known.avg, known.max), (2.0, 5.0, 9.0));
        assert_eq!(known.stddev, 2.0);
        assert_eq!(figures(&[]), Figures::default());
        assert_eq!(figures(&[3.0]).stddev, 0.0);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let sorted = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_of(&sorted, 50.0), 2.0);
        assert_eq!(percentile_of(&sorted, 75.0), 3.0);
        assert_eq!(percentile_of(&sorted, 99.0), 4.0);
        assert_eq!(percentile_of(&sorted, 0.0), 1.0);
        assert_eq!(percentile_of(&sorted, f64::NAN), 1.0);
        assert_eq!(percentile_of(&[], 50.0), 0.0);
    }

    #[test]
    fn a_window_keeps_its_last_probes_only() {
        let start = Instant::now();
        let mut window = Window::new(3);
        for (n, rtt) in [100.0, 1.0, 2.0, 3.0].into_iter().enumerate() {
            window.reply(start + Duration::from_secs(n as u64), rtt);
        }
        let stats = window.stats(start + Duration::from_secs(4));
        assert_eq!(stats.sent(), 3);
        assert_eq!(stats.max_rtt(), 3.0);
        assert!(window.probes.len() <= 3);
    }

    #[test]
    fn an_age_leaves_out_old_probes_and_duplicates() {
        let start = Instant::now();
        let mut window = Window::new(100).with_max_age(Duration::from_secs(10));
        window.lost(start);
        window.duplicate(start);
        // Before they age out, they count.
        let stats = window.stats(start + Duration::from_secs(5));
        assert_eq!((stats.sent(), stats.duplicates()), (1, 1));
        window.reply(start + Duration::from_secs(15), 5.0);
        let stats = window.stats(start + Duration::from_secs(16));
        assert_eq!(
            (stats.sent(), stats.received(), stats.duplicates()),
            (1, 1, 0)
        );
        assert_eq!(stats.packet_loss(), 0.0);
    }

    #[test]
    fn bad_times_count_as_losses() {
        let start = Instant::now();
        let mut window = Window::new(10);
        window.reply(start, f64::NAN);
        window.reply(start, -1.0);
        window.reply(start, 4.0);
        let stats = window.stats(start);
        assert_eq!((stats.sent(), stats.received()), (3, 1));
        assert_eq!(stats.packet_loss(), 0.67);
    }

    proptest! {
        /// Whatever the times: min <= percentiles <= max, the mean between them, the
        /// deviation at most the range, percentiles growing with p, and the window never
        /// holding more than its capacity.
        #[test]
        fn figures_stay_in_range(
            rtts in proptest::collection::vec(0.0f64..1e9, 0..200),
            capacity in 1usize..64,
            p in 0.0f64..100.0,
        ) {
            let start = Instant::now();
            let mut window = Window::new(capacity);
            for rtt in &rtts {
                window.reply(start, *rtt);
            }
            prop_assert!(window.probes.len() <= capacity);
            let stats = window.stats(start);
            prop_assert_eq!(stats.sent(), rtts.len().min(capacity));
            if stats.received() > 0 {
                prop_assert!(stats.min_rtt() <= stats.avg_rtt());
                prop_assert!(stats.avg_rtt() <= stats.max_rtt());
                let at = stats.percentile(p);
                prop_assert!(stats.min_rtt() <= at && at <= stats.max_rtt());
                prop_assert!(stats.percentile(p) <= stats.percentile((p + 10.0).min(100.0)));
                prop_assert!(stats.stddev() <= stats.max_rtt() - stats.min_rtt() + 1e-9);
            }
        }
    }
}
