//! What the scheduler's outcomes come to: [`EchoJob`] (the echo requests to one host and
//! its `Host`) for `ping` and `multiping`, and [`TraceJob`] (probes of
//! growing TTL and the hops they find) for `traceroute`.

mod echo;
mod trace;

use std::time::Duration;

pub(crate) use echo::EchoJob;
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

/// Milliseconds, as results give round-trip times.
fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
