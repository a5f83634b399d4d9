//! What the scheduler's outcomes come to: [`EchoJob`] (the echo requests to one host and
//! its `Host`) for `ping` and `multiping`, and [`TraceJob`] (probes of
//! growing TTL and the hops they find) for `traceroute`.

mod echo;
mod trace;

use std::time::Duration;

pub(crate) use echo::EchoJob;
pub(crate) use trace::TraceJob;

/// Milliseconds, as results give round-trip times.
fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
