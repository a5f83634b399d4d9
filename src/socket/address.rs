//! Addresses as people write them: IPv6 link-local addresses with their zone (the
//! interface they belong to), and IPv4-mapped IPv6 addresses, which are IPv4 addresses.

use std::net::{IpAddr, Ipv4Addr};

use super::sys;
use crate::error::{Error, Result};
use crate::target::split_address;

/// An address written as text: IPv4, or IPv6 optionally in brackets and with a zone
/// (`fe80::1%eth0`, `fe80::1%2`), with the index of the zone's interface (0 for none). An
/// IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is the IPv4 address it maps. `None`
/// when `text` is not an address (a name).
///
/// # Errors
/// [`Error::InvalidOption`] for a zone that names no interface, or on an IPv4 address.
pub(crate) fn parse_address(text: &str) -> Option<Result<(IpAddr, u32)>> {
    let (address, zone) = split_address(text)?;
    let Some(zone) = zone else {
        return Some(Ok((address, 0)));
    };
    if address.is_ipv4() {
        return Some(Err(Error::invalid(format!(
            "{text}: an IPv4 address has no zone"
        ))));
    }
    // A zone is an interface's name or index; an index must name an interface too, or
    // the first send fails with "network unreachable", which says nothing of the zone.
    let scope = zone
        .parse::<u32>()
        .ok()
        .filter(|index| *index != 0 && sys::interface_exists(*index) != Some(false))
        .or_else(|| sys::interface_index(zone));
    Some(
        scope.map(|scope| (address, scope)).ok_or_else(|| {
            Error::invalid(format!("{text}: there is no network interface '{zone}'"))
        }),
    )
}

/// `address` as text, with the zone of a link-local IPv6 address (`fe80::1%eth0`: the
/// interface's name, or its index when it has none).
pub(crate) fn address_text(address: IpAddr, scope_id: u32) -> String {
    match address {
        IpAddr::V4(v4) => return ipv4_text(v4),
        IpAddr::V6(_) if scope_id == 0 => return address.to_string(),
        IpAddr::V6(_) => {}
    }
    let zone = sys::interface_name(scope_id).unwrap_or_else(|| scope_id.to_string());
    format!("{address}%{zone}")
}

/// An IPv4 address in dotted decimal, as `Display` writes it, without the formatting
/// machinery: a sweep writes one per host (measured: `Display` with its growing `String`
/// was 2 % of a loopback sweep's CPU).
fn ipv4_text(address: Ipv4Addr) -> String {
    let mut text = String::with_capacity(15);
    for (i, octet) in address.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_text_is_what_display_writes() {
        for octet in 0..=255u8 {
            for address in [
                [octet, 0, 9, 10],
                [99, octet, 100, 255],
                [1, 2, octet, octet],
            ] {
                let address = Ipv4Addr::from(address);
                assert_eq!(ipv4_text(address), address.to_string());
                assert_eq!(address_text(address.into(), 0), address.to_string());
            }
        }
    }

    fn parsed(text: &str) -> Option<(IpAddr, u32)> {
        parse_address(text).map(|parsed| parsed.unwrap())
    }

    #[test]
    fn addresses_zones_and_mapped_addresses() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        assert_eq!(parsed("192.0.2.1"), Some((ip("192.0.2.1"), 0)));
        assert_eq!(parsed("[2001:db8::1]"), Some((ip("2001:db8::1"), 0)));
        assert_eq!(parsed("::ffff:192.0.2.1"), Some((ip("192.0.2.1"), 0)));
        assert_eq!(parsed("example.test"), None);
        // Loopback's interface exists on every Unix the tests run on (Windows zones
        // are numbers, taken as they are).
        if cfg!(unix) {
            let lo = parsed("fe80::1%lo").unwrap();
            assert!(lo.1 > 0);
            assert_eq!(address_text(lo.0, lo.1), "fe80::1%lo");
            let index = lo.1;
            assert_eq!(
                parsed(&format!("fe80::1%{index}")),
                Some((ip("fe80::1"), index))
            );
            assert_eq!(
                parsed(&format!("[fe80::1%{index}]")),
                Some((ip("fe80::1"), index))
            );
            // An index no interface has says so, not "network unreachable" at the send.
            match parse_address("fe80::1%4000000000") {
                Some(Err(error)) => {
                    assert!(
                        error
                            .to_string()
                            .contains("no network interface '4000000000'")
                    );
                }
                other => panic!("{other:?}"),
            }
        } else {
            assert_eq!(parsed("fe80::1%7"), Some((ip("fe80::1"), 7)));
        }
        assert_eq!(address_text(ip("fe80::1"), 0), "fe80::1");
        for bad in ["fe80::1%no-such-interface", "192.0.2.1%7", "fe80::1%0"] {
            assert!(
                matches!(parse_address(bad), Some(Err(Error::InvalidOption { .. }))),
                "{bad}"
            );
        }
    }
}
