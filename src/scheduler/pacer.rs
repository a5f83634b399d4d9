//! A rate limit for the requests of a call: each request takes the next free slot of a
//! fixed period, so requests never leave faster than the rate, whatever the concurrency.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Hands out send slots `period` apart.
#[derive(Debug)]
pub(crate) struct Pacer {
    period: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    /// A pacer for `per_second` requests per second (at least 1).
    pub(crate) fn per_second(per_second: u32) -> Pacer {
        Pacer {
            period: Duration::from_secs(1) / per_second.max(1),
            next: Mutex::new(None),
        }
    }

    /// Takes the next slot at or after `now` and returns it.
    pub(crate) fn reserve(&self, now: Instant) -> Instant {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = next.map_or(now, |next| next.max(now));
        *next = Some(slot + self.period);
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_a_period_apart_and_idle_time_is_not_saved_up() {
        let pacer = Pacer::per_second(100);
        let start = Instant::now();
        let slots: Vec<Instant> = (0..5).map(|_| pacer.reserve(start)).collect();
        for (i, slot) in slots.iter().enumerate() {
            assert_eq!(*slot, start + Duration::from_millis(10) * i as u32);
        }
        // After a pause, the next request goes at once, but no burst follows.
        let later = start + Duration::from_secs(5);
        assert_eq!(pacer.reserve(later), later);
        assert_eq!(pacer.reserve(later), later + Duration::from_millis(10));
    }
}
