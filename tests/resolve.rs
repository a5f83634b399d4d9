//! Name resolution against a tiny DNS responder on loopback inside a namespace, and the
//! hosts file.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use icmplib::{Error, Family, PingOptions, Pinger, Resolver};
use support::{DnsResponder, Netns};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn names_resolve_through_the_configured_server() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("dns");
    let dns = DnsResponder::start(
        &netns,
        &[
            ("alive.test", &[ip("::1"), ip("127.0.0.5")]),
            ("v6only.test", &[ip("2001:db8::5")]),
        ],
    );
    let server = dns.address();
    netns.block_on(move || async move {
        let resolver = Resolver::with_name_servers(&[server]).unwrap();
        // IPv4 first, then IPv6, whatever order the server gives.
        assert_eq!(
            resolver.lookup("alive.test", None).await.unwrap(),
            [ip("127.0.0.5"), ip("::1")]
        );
        assert_eq!(
            resolver
                .lookup("alive.test", Some(Family::V6))
                .await
                .unwrap(),
            [ip("::1")]
        );
        assert_eq!(
            resolver
                .lookup("alive.test", Some(Family::V4))
                .await
                .unwrap(),
            [ip("127.0.0.5")]
        );
        assert_eq!(
            resolver.lookup("v6only.test", None).await.unwrap(),
            [ip("2001:db8::5")]
        );
        for (name, family) in [("v6only.test", Some(Family::V4)), ("missing.test", None)] {
            let error = resolver.lookup(name, family).await.unwrap_err();
            assert!(
                matches!(&error, Error::NameLookup { name: n } if n == name),
                "{error:?}"
            );
            assert_eq!(
                error.to_string(),
                format!("The name '{name}' cannot be resolved")
            );
        }
        // Literals need no server.
        assert_eq!(
            resolver.lookup("[2001:db8::9]", None).await.unwrap(),
            [ip("2001:db8::9")]
        );

        // A pinger resolves with its resolver and pings the first address.
        let pinger = Pinger::builder().resolver(resolver).build();
        let options = PingOptions::default()
            .count(2)
            .interval(Duration::from_millis(10));
        let host = pinger.ping("alive.test", &options).await.unwrap();
        assert_eq!(host.address(), "127.0.0.5");
        assert_eq!(host.packets_received(), 2, "{host}");
        let host = pinger
            .ping("alive.test", &options.clone().family(Family::V6))
            .await
            .unwrap();
        assert_eq!((host.address(), host.packets_received()), ("::1", 2));
        let error = pinger.ping("missing.test", &options).await.unwrap_err();
        assert!(matches!(error, Error::NameLookup { .. }), "{error:?}");
    });
    assert!(dns.queries("alive.test") > 0);
}

#[test]
fn the_hosts_file_is_read_first() {
    if !support::require_root() {
        return;
    }
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let listed = |address: &str| {
        hosts.lines().any(|line| {
            let mut fields = line.split('#').next().unwrap_or("").split_whitespace();
            fields.next() == Some(address) && fields.any(|name| name == "localhost")
        })
    };
    if !listed("127.0.0.1") {
        eprintln!("skipping: /etc/hosts does not map localhost to 127.0.0.1");
        return;
    }
    let netns = Netns::new("hosts");
    let dns = DnsResponder::start(&netns, &[("localhost", &[ip("127.0.0.99")])]);
    let server = dns.address();
    let addresses = netns.block_on(move || async move {
        let resolver = Resolver::with_name_servers(&[server]).unwrap();
        resolver
            .lookup("localhost", Some(Family::V4))
            .await
            .unwrap()
    });
    assert_eq!(addresses, [ip("127.0.0.1")]);
    assert_eq!(
        dns.queries("localhost"),
        0,
        "the hosts file answered, not DNS"
    );
}
