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

/// Parses ping's `-M` argument: `want` (the system's default), `dont`, `do` or `probe`.
pub fn dont_fragment(text: &str) -> Result<icmplib::DontFragment, String> {
    use icmplib::DontFragment;
    match text {
        "want" => Ok(DontFragment::System),
        "dont" => Ok(DontFragment::Off),
        "do" => Ok(DontFragment::On),
        "probe" => Ok(DontFragment::Probe),
        _ => Err(format!("'{text}' is not one of want, dont, do, probe")),
    }
}

/// A multi-thread tokio runtime, or why it cannot start. Tokio's signal driver (the
/// examples use Ctrl-C) panics when it finds no file descriptor for its pipe: that is an
/// error here too, not a panic.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let built = std::panic::catch_unwind(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    });
    std::panic::set_hook(hook);
    match built {
        Ok(Ok(runtime)) => Ok(runtime),
        Ok(Err(error)) => Err(error.to_string()),
        Err(panic) => Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
            .unwrap_or_else(|| "the runtime panicked".to_owned())),
    }
}
