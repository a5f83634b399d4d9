//! The one clock of the crate: when a request left, when its reply arrived, when it times
//! out. Monotonic, and tokio's: the tests pause it (`tokio::time::pause`) and drive the
//! engine and the scheduler through virtual time, so that every instant they compare comes
//! from the same clock as the timers they sleep on. Outside a paused test it is
//! [`std::time::Instant::now`] (tokio checks one flag first).

use std::time::{Duration, Instant};

/// What a wait too long to add to the clock is cut to: a year.
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// Now, on the monotonic clock.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// `wait` after `start`: a deadline, or when a wait is due. A wait too long for the clock
/// (`Duration::MAX`) lasts as good as forever instead of overflowing.
pub(crate) fn later(start: Instant, wait: Duration) -> Instant {
    start.checked_add(wait).unwrap_or_else(|| start + FOREVER)
}

/// Milliseconds, as results give round-trip times: whole nanoseconds divided once, so
/// that the value is the double nearest to the decimal (5,909 ns is 0.005909, where
/// `as_secs_f64() * 1000.0` gave 0.005908999999999999).
pub(crate) fn millis(duration: Duration) -> f64 {
    duration.as_nanos() as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_wait_too_long_for_the_clock_is_cut_to_a_year() {
        let start = now();
        assert_eq!(
            later(start, Duration::from_secs(1)),
            start + Duration::from_secs(1)
        );
        assert_eq!(later(start, Duration::MAX), start + FOREVER);
    }

    /// `nanos` as a decimal number of milliseconds, written out exactly.
    fn decimal(nanos: u64) -> String {
        let text = format!("{}.{:06}", nanos / 1_000_000, nanos % 1_000_000);
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }

    #[test]
    fn a_round_trip_time_prints_as_its_decimal() {
        assert_eq!(millis(Duration::from_nanos(5_909)).to_string(), "0.005909");
        assert_eq!(millis(Duration::from_nanos(1_500_000)).to_string(), "1.5");
    }

    proptest! {
        /// Any time up to 1,000 s prints as exactly its decimal in milliseconds: no float
        /// noise in results or JSON.
        #[test]
        fn round_trip_times_carry_no_float_noise(nanos in 0u64..1_000_000_000_000) {
            prop_assert_eq!(millis(Duration::from_nanos(nanos)).to_string(), decimal(nanos));
        }
    }
}
