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

/// The one place where `--unprivileged` chooses the kind of ICMP socket: a datagram
/// socket when it is given, else the library's automatic choice (a raw socket where the
/// process may open one, else a datagram socket).
pub fn socket_kind(probe: &mut icmplib::ProbeOptions, unprivileged: bool) {
    probe.socket_kind = if unprivileged {
        icmplib::SocketKind::Datagram
    } else {
        icmplib::SocketKind::Auto
    };
}

/// The size of an echo reply's ICMP message, as ping and fping print it: `bytes` as the
/// library read it, without the IPv4 header that raw IPv4 sockets read too (a reply is at
/// least as large as the request, `request` bytes of ICMP; its header, 20 bytes or more).
pub fn icmp_size(address: std::net::IpAddr, bytes: usize, request: usize) -> usize {
    if address.is_ipv4() && bytes >= request + 20 {
        bytes - 20
    } else {
        bytes
    }
}

/// A time in milliseconds as fping prints it: three significant digits below 100 ms
/// (`0.045`, `1.23`, `12.3`), none above (`123`).
pub fn fping_ms(ms: f64) -> String {
    let decimals = if ms < 1.0 {
        3
    } else if ms < 10.0 {
        2
    } else if ms < 100.0 {
        1
    } else {
        0
    };
    format!("{ms:.decimals$}")
}

/// A time in milliseconds as iputils ping prints a reply's `time=`: three decimals below
/// 1 ms, fewer as it grows (`0.040`, `1.23`, `12.3`, `123`).
pub fn ping_ms(ms: f64) -> String {
    let decimals = if ms >= 99.95 {
        0
    } else if ms >= 9.995 {
        1
    } else if ms >= 1.0 {
        2
    } else {
        3
    };
    format!("{ms:.decimals$}")
}

/// A number as C's `%g` writes it: six significant digits, no trailing zeros (`0`, `25`,
/// `33.3333`), as ping prints its packet loss.
pub fn percent_g(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (5 - magnitude).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// The population standard deviation of round-trip times, as iputils ping's `mdev`:
/// sqrt(mean(rtt²) − mean(rtt)²); 0 without times.
pub fn mdev(rtts: &[f64]) -> f64 {
    if rtts.is_empty() {
        return 0.0;
    }
    let n = rtts.len() as f64;
    let mean = rtts.iter().sum::<f64>() / n;
    let mean_square = rtts.iter().map(|rtt| rtt * rtt).sum::<f64>() / n;
    (mean_square - mean * mean).max(0.0).sqrt()
}
