//! What the command-line examples share: durations in seconds and bytes in decimal or
//! hex. JSON output comes from the crate's `serde` feature (`serde_json::to_string` of a
//! `Host` or `Hop`).
#![allow(dead_code)]

use std::time::Duration;

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

/// Parses a byte written in decimal (`16`) or hex (`0x10`), as ping takes a TOS.
pub fn byte(text: &str) -> Result<u8, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u8::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("'{text}' is not a byte (0 to 255, or 0x00 to 0xff)"))
}
