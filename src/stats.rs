//! Round-trip statistics: the formulas of [`Host`](crate::Host) in one place, and
//! [`Window`], the statistics of a target's last probes, for monitoring that runs for
//! months: bounded by a number of probes (and optionally an age), never by time alone.
//! Pure code: the caller says when each probe happened.

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

/// A lost probe, where the window keeps round trips in microseconds.
const LOST: u32 = u32::MAX;

/// The longest round trip a window keeps exactly: about 71 minutes, in microseconds.
/// Longer ones are kept as this.
const MAX_RTT_MICROS: u32 = u32::MAX - 1;

/// Where a window's base moves forward (milliseconds after it: 37 days)...
const REBASE_AFTER: u32 = u32::MAX / 4 * 3;

/// ... and to (24.8 days before the time that moved it): more than [`Window::MAX_AGE`], so
/// that a time moved down to 0 is older than any age a window leaves out.
const REBASED_TO: u32 = u32::MAX / 2;

/// A ring of at most `capacity` numbers, allocated at the first push with exactly its
/// room (a vector doubling its way to 100 would take 128).
#[derive(Debug, Clone, Default)]
struct Ring {
    values: Vec<u32>,
    /// Where the next value goes, once the ring is full.
    next: usize,
}

impl Ring {
    fn push(&mut self, capacity: usize, value: u32) {
        if self.values.len() < capacity {
            if self.values.capacity() == 0 {
                self.values.reserve_exact(capacity);
            }
            self.values.push(value);
        } else if let Some(slot) = self.values.get_mut(self.next) {
            *slot = value;
            self.next = (self.next + 1) % capacity;
        }
    }

    /// The values, oldest first.
    fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let (newer, older) = self.values.split_at(self.next.min(self.values.len()));
        older.iter().chain(newer).copied()
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    /// Moves every value down by `by`, at least to 0.
    fn lower(&mut self, by: u32) {
        for value in &mut self.values {
            *value = value.saturating_sub(by);
        }
    }
}

/// The statistics of a target's last probes: at most `capacity` of them, and, when an
/// age is set, none older than it. Duplicate replies are counted over the same span.
///
/// Memory is bounded by the capacity, whatever the time it runs for, and compact: 4
/// bytes a probe (8 with an age), each round trip kept to the microsecond (the precision
/// of every figure). Each figure is computed when asked for (a sort of at most
/// `capacity` times for the median and percentiles), exactly over the probes in the
/// window.
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
/// assert_eq!(stats.median(), Some(11.0));
/// assert_eq!(stats.percentile(90.0), Some(30.0));
/// ```
#[derive(Debug, Clone)]
pub struct Window {
    capacity: usize,
    /// Each probe's round trip in microseconds, or [`LOST`].
    rtts: Ring,
    /// What most windows never need, made on first use.
    times: Option<Box<Times>>,
}

/// A window's age and the times it keeps: only windows with an age, or that saw a
/// duplicate, have them (most have neither: 60 bytes a target saved).
#[derive(Debug, Clone, Default)]
struct Times {
    max_age: Option<Duration>,
    /// What the times below count from.
    base: Option<Instant>,
    /// Each probe's send time, in milliseconds after `base`: kept only with an age.
    sent: Ring,
    /// Each duplicate's arrival, in milliseconds after `base`.
    duplicates: Ring,
}

impl Window {
    /// The longest [`Window::with_max_age`]: 24 days. Send times are kept in 32 bits of
    /// milliseconds, moved forward as the window goes on; older than this, a probe's time
    /// is no longer exact, only known to be older.
    pub const MAX_AGE: Duration = Duration::from_secs(24 * 24 * 3600);

    /// A window over the last `capacity` probes (at least 1).
    pub fn new(capacity: usize) -> Window {
        Window {
            capacity: capacity.max(1),
            rtts: Ring::default(),
            times: None,
        }
    }

    /// The same window, also leaving out probes older than `max_age` (smokeping's step,
    /// "the last 5 minutes"), at most [`Window::MAX_AGE`].
    pub fn with_max_age(mut self, max_age: Duration) -> Window {
        self.times.get_or_insert_default().max_age = Some(max_age.min(Window::MAX_AGE));
        self
    }

    /// A probe sent at `at` was answered after `rtt_ms` milliseconds. A time that is not
    /// finite or is negative counts as a loss.
    pub fn reply(&mut self, at: Instant, rtt_ms: f64) {
        let micros = if rtt_ms.is_finite() && rtt_ms >= 0.0 {
            // Saturating: a float too large for the integer is cut to its largest.
            ((rtt_ms * 1e3).round() as u32).min(MAX_RTT_MICROS)
        } else {
            LOST
        };
        self.push(at, micros);
    }

    /// A probe sent at `at` was not answered (timed out, or an ICMP error came back).
    pub fn lost(&mut self, at: Instant) {
        self.push(at, LOST);
    }

    /// A duplicate reply arrived at `at` (one more answer to a probe already answered).
    pub fn duplicate(&mut self, at: Instant) {
        let capacity = self.capacity;
        let times = self.times.get_or_insert_default();
        let at = times.millis(at);
        times.duplicates.push(capacity, at);
    }

    fn push(&mut self, at: Instant, micros: u32) {
        if let Some(times) = self.times.as_mut()
            && times.max_age.is_some()
        {
            let at = times.millis(at);
            times.sent.push(self.capacity, at);
        }
        self.rtts.push(self.capacity, micros);
    }

    /// The statistics of the probes in the window at `now`.
    pub fn stats(&self, now: Instant) -> Stats {
        let empty = Times::default();
        let times = self.times.as_deref().unwrap_or(&empty);
        // Milliseconds after the base from which a probe counts.
        let since = match (times.max_age, times.base) {
            (Some(age), Some(base)) => now
                .checked_sub(age)
                .map_or(0, |from| from.saturating_duration_since(base).as_millis()),
            _ => 0,
        };
        let recent = |at: u32| u128::from(at) >= since;
        let mut sent = 0;
        let mut rtts = Vec::with_capacity(self.rtts.len());
        let mut sent_at = times.sent.iter();
        for micros in self.rtts.iter() {
            // Without an age, no send time is kept, and every probe counts.
            if sent_at.next().is_some_and(|at| !recent(at)) {
                continue;
            }
            sent += 1;
            if micros != LOST {
                rtts.push(f64::from(micros) / 1e3);
            }
        }
        let duplicates = times.duplicates.iter().filter(|at| recent(*at)).count();
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

impl Times {
    /// `at` in milliseconds after the base, the base moved forward when 32 bits would
    /// not hold it (the times kept then move down, the oldest to 0).
    fn millis(&mut self, at: Instant) -> u32 {
        let base = *self.base.get_or_insert(at);
        let millis = at.saturating_duration_since(base).as_millis();
        let Ok(millis) = u32::try_from(millis) else {
            return self.rebase(at);
        };
        if millis > REBASE_AFTER {
            return self.rebase(at);
        }
        millis
    }

    /// Moves the base so that `at` is [`REBASED_TO`] after it: what was kept before moves
    /// down, at least to 0, which is older than any age a window leaves out.
    fn rebase(&mut self, at: Instant) -> u32 {
        let span = REBASED_TO;
        let Some(base) = at.checked_sub(Duration::from_millis(u64::from(span))) else {
            return 0;
        };
        let by = self.base.map_or(0, |old| {
            u32::try_from(base.saturating_duration_since(old).as_millis()).unwrap_or(u32::MAX)
        });
        self.sent.lower(by);
        self.duplicates.lower(by);
        self.base = Some(base);
        span
    }
}

/// Statistics of a [`Window`] at one moment. Times are in milliseconds, as everywhere in
/// the crate, rounded to 3 decimals as [`Host`](crate::Host)'s; a figure of round trips
/// is `None` when no probe of the window was answered.
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

    /// A figure of the round trips, when there are any.
    fn rtt(&self, figure: f64) -> Option<f64> {
        (!self.sorted.is_empty()).then(|| round3(figure))
    }

    /// The smallest round trip.
    pub fn min_rtt(&self) -> Option<f64> {
        self.rtt(self.figures.min)
    }

    /// The mean round trip.
    pub fn avg_rtt(&self) -> Option<f64> {
        self.rtt(self.figures.avg)
    }

    /// The largest round trip.
    pub fn max_rtt(&self) -> Option<f64> {
        self.rtt(self.figures.max)
    }

    /// The population standard deviation of the round trips.
    pub fn stddev(&self) -> Option<f64> {
        self.rtt(self.figures.stddev)
    }

    /// The mean difference between consecutive round trips, as
    /// [`Host::jitter`](crate::Host::jitter).
    pub fn jitter(&self) -> Option<f64> {
        self.rtt(self.figures.jitter)
    }

    /// The median round trip (the 50th percentile).
    pub fn median(&self) -> Option<f64> {
        self.percentile(50.0)
    }

    /// The `p`-th percentile (0 to 100) of the round trips, by nearest rank: a time that
    /// was measured, at or below which `p` % of them fall.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        self.rtt(percentile_of(&self.sorted, p))
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
        assert_eq!(stats.max_rtt(), Some(3.0));
        assert_eq!(
            window.rtts.values.capacity(),
            3,
            "room for the window, no more"
        );
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
    fn a_window_of_no_reply_has_no_round_trip_figures() {
        let start = Instant::now();
        let mut window = Window::new(10);
        window.lost(start);
        let stats = window.stats(start);
        assert_eq!((stats.sent(), stats.received()), (1, 0));
        assert_eq!(stats.packet_loss(), 1.0);
        assert_eq!(
            (stats.min_rtt(), stats.avg_rtt(), stats.jitter()),
            (None, None, None)
        );
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
            prop_assert!(window.rtts.len() <= capacity);
            let stats = window.stats(start);
            prop_assert_eq!(stats.sent(), rtts.len().min(capacity));
            if stats.received() > 0 {
                let (min, max) = (stats.min_rtt().unwrap(), stats.max_rtt().unwrap());
                let avg = stats.avg_rtt().unwrap();
                prop_assert!(min <= avg && avg <= max);
                let at = stats.percentile(p).unwrap();
                prop_assert!(min <= at && at <= max);
                prop_assert!(at <= stats.percentile((p + 10.0).min(100.0)).unwrap());
                prop_assert!(stats.stddev().unwrap() <= max - min + 1e-9);
            } else {
                prop_assert_eq!(stats.min_rtt(), None);
                prop_assert_eq!(stats.median(), None);
            }
        }

        /// Round trips to the microsecond come back exactly, as their decimal: the
        /// compact form loses nothing a figure shows.
        #[test]
        fn microsecond_round_trips_are_kept_exactly(
            micros in proptest::collection::vec(0u32..4_000_000_000, 1..100),
        ) {
            let start = Instant::now();
            let mut window = Window::new(100);
            for micros in &micros {
                window.reply(start, f64::from(*micros) / 1e3);
            }
            let stats = window.stats(start);
            let least = *micros.iter().min().unwrap();
            let most = *micros.iter().max().unwrap();
            prop_assert_eq!(stats.min_rtt(), Some(f64::from(least) / 1e3));
            prop_assert_eq!(stats.max_rtt(), Some(f64::from(most) / 1e3));
            prop_assert_eq!(stats.percentile(100.0), Some(f64::from(most) / 1e3));
        }

        /// With an age, whatever the spacing of the probes (up to a day apart, over years),
        /// a probe counts exactly when it is at most that age.
        #[test]
        fn an_age_holds_over_any_span(
            gaps in proptest::collection::vec(0u64..86_400_000, 1..60),
            age in 1u64..2_000_000_000,
            capacity in 1usize..40,
        ) {
            let start = Instant::now();
            let age = Duration::from_millis(age);
            let mut window = Window::new(capacity).with_max_age(age);
            let mut at = start;
            let mut sent = Vec::new();
            for gap in &gaps {
                at += Duration::from_millis(*gap);
                window.lost(at);
                sent.push(at);
            }
            let now = at;
            let kept = &sent[sent.len().saturating_sub(capacity)..];
            let want = kept.iter().filter(|at| now.duration_since(**at) <= age).count();
            prop_assert_eq!(window.stats(now).sent(), want);
        }
    }
}
