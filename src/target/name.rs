//! What may go to the name servers: a target that is not an address must look like a
//! host name, or it is refused before any lookup, with what to write instead.
//!
//! - The empty string names nothing.
//! - The short numeric forms `inet_aton(3)` accepts (`127.1`, `0x7f000001`, `2130706433`,
//!   `0177.0.0.1`), which iputils ping takes as addresses, are refused with the address
//!   they stand for: written in full, an address says what it is; a short form is more
//!   often a typo (`127.1` for `127.0.0.1` or for `127.1.0.0`?).
//! - A name whose last label is all digits (`300.1.1.1`, `1.2.3.4.5`) is not a host name
//!   (RFC 1123 §2.1, RFC 3696 §2: a top-level domain is never all-numeric): a mistyped
//!   address, which a lookup would send to the name servers and time out on.

use std::net::Ipv4Addr;

use crate::error::{Error, Result};

/// Refuses `name` when it cannot be a host name (see the module's docs).
///
/// # Errors
/// [`Error::InvalidOption`] saying why, and what to write instead.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    if bare.is_empty() {
        return Err(Error::invalid(format!(
            "'{name}' is neither an IP address nor a host name"
        )));
    }
    if let Some(address) = short_ipv4(bare) {
        return Err(Error::invalid(format!(
            "'{name}' is a short form of the address {address}: write it in full"
        )));
    }
    let last = bare.rsplit('.').next().unwrap_or(bare);
    if last.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(Error::invalid(format!(
            "'{name}' is neither an IP address nor a host name (a host name's last label \
             is never all digits)"
        )));
    }
    Ok(())
}

/// The IPv4 address `text` stands for in one of `inet_aton(3)`'s forms: 1 to 4 parts,
/// each decimal, octal (a leading `0`) or hexadecimal (`0x`), the last one filling the
/// bytes left (`127.1` is 127.0.0.1, `2130706433` too).
fn short_ipv4(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<u32> = text.split('.').map(number).collect::<Option<_>>()?;
    let (last, leading) = parts.split_last()?;
    if leading.len() > 3 || leading.iter().any(|part| *part > 255) {
        return None;
    }
    let room = 32 - 8 * leading.len() as u32;
    if room < 32 && *last >= 1 << room {
        return None;
    }
    let high = leading
        .iter()
        .enumerate()
        .fold(0u32, |address, (at, part)| {
            address | part << (24 - 8 * at as u32)
        });
    Some(Ipv4Addr::from(high | last))
}

/// A part of an `inet_aton` address: decimal, octal with a leading 0, hex with `0x`.
fn number(text: &str) -> Option<u32> {
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None if text.len() > 1 && text.starts_with('0') => (&text[1..], 8),
        None => (text, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn short_forms_are_refused_with_their_address() {
        for (short, full) in [
            ("127.1", "127.0.0.1"),
            ("127.0.1", "127.0.0.1"),
            ("0x7f000001", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("192.0.513", "192.0.2.1"),
            ("0xc0000201", "192.0.2.1"),
        ] {
            let error = check_name(short).unwrap_err().to_string();
            assert!(
                error.contains(&format!("short form of the address {full}")),
                "{short}: {error}"
            );
        }
    }

    #[test]
    fn names_that_are_not_names_are_refused() {
        for name in [
            "",
            ".",
            "300.1.1.1",
            "1.2.3.4.5",
            "example.123",
            "127.0.0.256",
        ] {
            let error = check_name(name).unwrap_err();
            assert!(
                matches!(error, Error::InvalidOption { .. }),
                "{name}: {error}"
            );
        }
    }

    #[test]
    fn host_names_pass() {
        for name in [
            "localhost",
            "example.org.",
            "a1.example",
            "0x.example",
            "123.example",
            "xn--bcher-kva.example",
            "_srv.example",
        ] {
            assert!(check_name(name).is_ok(), "{name}");
        }
    }

    proptest! {
        /// Every address written in full is also its own short form's answer: 4 decimal
        /// parts give the same address as the standard parser.
        #[test]
        fn four_decimal_parts_are_the_address(address: u32) {
            let address = Ipv4Addr::from(address);
            prop_assert_eq!(short_ipv4(&address.to_string()), Some(address));
        }

        /// No text makes it panic.
        #[test]
        fn any_text_is_checked_without_panic(text in "\\PC{0,40}") {
            let _ = check_name(&text);
        }
    }
}
