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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_too_long_for_the_clock_is_cut_to_a_year() {
        let start = now();
        assert_eq!(
            later(start, Duration::from_secs(1)),
            start + Duration::from_secs(1)
        );
        assert_eq!(later(start, Duration::MAX), start + FOREVER);
    }
}
