//! What the command-line examples share: durations in seconds, and JSON for hosts and
//! hops with exactly the field names of `Host` / `Hop` plus `"error"`.
#![allow(dead_code)]

use std::time::Duration;

use icmplib::{Hop, Host};
use serde_json::{Value, json};

/// Parses a number of seconds ("0.2", "1") into a duration; negative, infinite or too
/// large numbers are refused.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("'{text}' is not a positive number of seconds that fits a duration"))
}

/// Like [`seconds`], but zero is refused too (timeouts).
pub fn positive_seconds(text: &str) -> Result<Duration, String> {
    let duration = seconds(text)?;
    if duration.is_zero() {
        return Err("must be greater than zero".into());
    }
    Ok(duration)
}

/// A host as JSON.
pub fn host_json(host: &Host) -> Value {
    json!({
        "address": host.address(),
        "min_rtt": host.min_rtt(),
        "avg_rtt": host.avg_rtt(),
        "max_rtt": host.max_rtt(),
        "rtts": host.rtts(),
        "packets_sent": host.packets_sent(),
        "packets_received": host.packets_received(),
        "packet_loss": host.packet_loss(),
        "jitter": host.jitter(),
        "is_alive": host.is_alive(),
        "error": host.error().map(ToString::to_string),
    })
}

/// A hop as JSON: its host's fields and `distance`.
pub fn hop_json(hop: &Hop) -> Value {
    let mut value = host_json(hop.host());
    value["distance"] = json!(hop.distance());
    value
}
