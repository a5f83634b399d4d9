//! Name resolution against a tiny DNS responder on loopback inside a namespace, and the
//! hosts file.

use crate::support;

use std::net::IpAddr;
use std::time::Duration;

use icmplib::{Error, Family, PingOptions, Pinger, Resolver};
use support::{DnsResponder, Netns};

support::harness::tests![
    Root names_resolve_through_the_configured_server,
    Root the_hosts_file_is_read_first,
    Root names_resolve_under_a_file_descriptor_limit,
    Root a_dead_name_server_does_not_stall_the_calls,
];

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

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
                matches!(&error, Error::NameLookup { name: n, failure: icmplib::LookupFailure::NotFound, .. } if n == name),
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
        support::harness::skip("/etc/hosts does not map localhost to 127.0.0.1");
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

/// The names of the fd-pressure test: `h{i}.test` for 127.2.x.y.
fn many_names(count: u32) -> Vec<(String, IpAddr)> {
    (0..count)
        .map(|i| {
            (
                format!("h{i}.test"),
                IpAddr::from([127, 2, (i >> 8) as u8, i as u8]),
            )
        })
        .collect()
}

/// 10,000 names that all resolve, swept 1,000 at a time, in a process
/// that may open 1,024 files: each name in flight held up to two resolver sockets, the
/// resolver ran out of descriptors, and 15-87 % of the names were reported as names that
/// do not exist. Every one must resolve (and answer).
fn names_resolve_under_a_file_descriptor_limit() {
    if let Some(role) = support::child_role() {
        let (_, args) = support::role_parts(&role);
        let server: std::net::SocketAddr = args[0].parse().unwrap();
        let names: Vec<String> = many_names(10_000)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let hosts = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                let resolver = Resolver::with_name_servers(&[server]).unwrap();
                let pinger = Pinger::builder().resolver(resolver).build();
                let options = icmplib::MultipingOptions::default()
                    .count(1)
                    .timeout(Duration::from_secs(2))
                    .concurrent_tasks(1_000);
                pinger.multiping(&names, &options).await.unwrap()
            });
        let unresolved: Vec<_> = hosts
            .iter()
            .filter(|host| matches!(host.error(), Some(Error::NameLookup { .. })))
            .collect();
        assert!(
            unresolved.is_empty(),
            "{} names not resolved, first: {}",
            unresolved.len(),
            unresolved[0]
        );
        assert!(hosts.iter().all(icmplib::Host::is_alive));
        return;
    }
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("dnsfds");
    let records = many_names(10_000);
    let records: Vec<(&str, Vec<IpAddr>)> = records
        .iter()
        .map(|(name, address)| (name.as_str(), vec![*address]))
        .collect();
    let records: Vec<(&str, &[IpAddr])> = records
        .iter()
        .map(|(name, addresses)| (*name, addresses.as_slice()))
        .collect();
    let dns = DnsResponder::start(&netns, &records);
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "ulimit -n 1024 && exec env {}=names:{} \"$0\" {} --exact --nocapture --test-threads=1",
        support::ROLE_ENV,
        dns.address(),
        support::full_test_name("names_resolve_under_a_file_descriptor_limit"),
    );
    let output = netns.run_program(
        std::path::Path::new("/bin/sh"),
        &["-c", &script, &exe.to_string_lossy()],
        Duration::from_secs(120),
    );
    support::assert_child_passed(&output);
}

/// With a name server that never answers, a ping of a name returned
/// after 15 s whatever its own timeout, and a sweep of 1,000 addresses and 2 names ended
/// after 15 s. Resolution has its own timeout and attempts; the lookup fails saying the
/// servers did not answer, and the addresses of the sweep do not wait for the names.
fn a_dead_name_server_does_not_stall_the_calls() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("dnsdead");
    let dns = DnsResponder::start(&netns, &[("slow.test", &[ip("127.0.0.7")])]);
    dns.set_silent(true);
    let server = dns.address();
    netns.block_on_multi(move || async move {
        let resolver = Resolver::builder()
            .name_servers(&[server])
            .timeout(Duration::from_millis(500))
            .attempts(1)
            .build()
            .unwrap();
        let pinger = Pinger::builder().resolver(resolver).build();
        let options = PingOptions::default()
            .count(1)
            .timeout(Duration::from_secs(1));
        let started = std::time::Instant::now();
        let error = pinger.ping("slow.test", &options).await.unwrap_err();
        assert!(
            matches!(
                &error,
                Error::NameLookup {
                    failure: icmplib::LookupFailure::Timeout,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("did not answer"), "{error}");
        // The stall was 15 s (the resolver's default timeouts); 10 s leaves a busy machine
        // room and still tells the two apart.
        let took = started.elapsed();
        assert!(took < Duration::from_secs(10), "the lookup took {took:?}");

        let mut targets: Vec<String> = (1..=1_000u32)
            .map(|i| IpAddr::from([127, 4, (i >> 8) as u8, i as u8]).to_string())
            .collect();
        targets.push("slow.test".into());
        targets.push("slow2.test".into());
        let sweep = icmplib::MultipingOptions::default()
            .count(1)
            .timeout(Duration::from_secs(1))
            .concurrent_tasks(100);
        let started = std::time::Instant::now();
        let hosts = pinger.multiping(&targets, &sweep).await.unwrap();
        let took = started.elapsed();
        assert!(hosts[..1_000].iter().all(icmplib::Host::is_alive));
        for host in &hosts[1_000..] {
            assert!(
                matches!(
                    host.error(),
                    Some(Error::NameLookup {
                        failure: icmplib::LookupFailure::Timeout,
                        ..
                    })
                ),
                "{host}"
            );
        }
        assert!(took < Duration::from_secs(10), "the sweep took {took:?}");
    });
}
