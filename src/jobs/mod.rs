//! What the scheduler's outcomes come to: [`EchoJob`] (the echo requests to one host and
//! its `Host`) for `ping` and `multiping`, [`TraceJob`] (probes of growing TTL and the
//! hops they find) for `traceroute`, and [`PathMtuJob`] (probes of chosen sizes with
//! Don't Fragment set) for `path_mtu`.

mod echo;
mod mtu;
mod trace;
pub(crate) mod watch;

use std::time::Duration;

pub(crate) use echo::EchoJob;
pub(crate) use mtu::PathMtuJob;
pub(crate) use trace::TraceJob;

/// The pause before each probe of a job that sends one after the other: none before the
/// first, then the interval.
#[derive(Debug)]
struct Pause {
    interval: Duration,
    started: bool,
}

impl Pause {
    fn new(interval: Duration) -> Pause {
        Pause {
            interval,
            started: false,
        }
    }

    /// The pause before the next probe.
    fn next(&mut self) -> Duration {
        let pause = if self.started {
            self.interval
        } else {
            Duration::ZERO
        };
        self.started = true;
        pause
    }
}

/// Milliseconds, as results give round-trip times: whole nanoseconds divided once, so
/// that the value is the double nearest to the decimal (5,909 ns is 0.005909, where
/// `as_secs_f64() * 1000.0` gave 0.005908999999999999).
fn millis(duration: Duration) -> f64 {
    duration.as_nanos() as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
