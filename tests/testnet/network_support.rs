//! Smoke tests of the test support module (tests/support), checked with
//! system tools: namespaces, running code inside them, the routed chain and
//! unprivileged children. All need root; they skip otherwise.

use crate::support;

use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};

use icmplib::Family;
use support::{Chain, Netns, Reject};

support::harness::tests![
    Root netns_has_only_loopback_and_is_deleted,
    Root code_runs_inside_the_namespace,
    Root chain_routes_answers_and_rejects,
    Root loss_drops_echo_requests,
    Root unprivileged_child_gets_ping_sockets_only,
];

fn netns_list() -> String {
    let output = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn listed(name: &str) -> bool {
    netns_list()
        .lines()
        .any(|line| line.split_whitespace().next() == Some(name))
}

/// The inode of the calling thread's network namespace.
fn current_netns_inode() -> u64 {
    let link = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    let link = link.to_string_lossy();
    // "net:[4026531840]"
    link.trim_start_matches("net:[")
        .trim_end_matches(']')
        .parse()
        .unwrap()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn netns_has_only_loopback_and_is_deleted() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("basic");
    let name = netns.name().to_string();
    assert!(
        name.starts_with("icmplib-basic-") && name.len() <= 30,
        "{name}"
    );
    assert!(listed(&name), "{name} missing from:\n{}", netns_list());

    let links = netns.exec_ok(&["ip", "-o", "link", "show"]);
    let names: Vec<&str> = links.lines().filter_map(|l| l.split(": ").nth(1)).collect();
    assert_eq!(names, ["lo"], "{links}");
    assert_eq!(netns.exec_ok(&["ip", "-4", "route", "show"]).trim(), "");
    for address in ["127.0.0.1", "::1"] {
        let output = netns.exec(&["ping", "-n", "-c1", "-W1", address]);
        assert!(
            output.status.success(),
            "ping {address}: {}",
            stdout(&output)
        );
    }

    // sysctl goes through a setns'd thread: the tool sees the same value.
    netns.allow_unprivileged_ping();
    assert_eq!(
        netns
            .exec_ok(&["sysctl", "-n", "net.ipv4.ping_group_range"])
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["0", "2147483647"]
    );
    assert_eq!(
        netns
            .read_sysctl("net.ipv4.ping_group_range")
            .split_whitespace()
            .count(),
        2
    );
    assert_ne!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["0", "2147483647"],
        "changed the host's ping_group_range"
    );

    drop(netns);
    assert!(!listed(&name), "{name} still listed after drop");

    // Also deleted when the owning test panics.
    let seen = Arc::new(Mutex::new(String::new()));
    let inner = seen.clone();
    let result = std::panic::catch_unwind(move || {
        let netns = Netns::new("panic");
        *inner.lock().unwrap() = netns.name().to_string();
        panic!("deliberate panic while owning {}", netns.name());
    });
    assert!(result.is_err());
    let name = seen.lock().unwrap().clone();
    assert!(name.starts_with("icmplib-panic-"), "{name}");
    assert!(!listed(&name), "{name} survived a panic");
}

fn code_runs_inside_the_namespace() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("run");
    let inode = std::fs::metadata(netns.path()).unwrap().ino();
    let outside = current_netns_inode();
    assert_ne!(inode, outside);

    assert_eq!(netns.run(current_netns_inode), inode);
    assert_eq!(current_netns_inode(), outside, "the caller's thread moved");

    let panicked = std::panic::catch_unwind(|| netns.run(|| panic!("deliberate")));
    assert!(panicked.is_err(), "a panic in run must propagate");

    assert_eq!(netns.block_on(|| async { current_netns_inode() }), inode);

    let (here, worker, blocking) = netns.block_on_multi(|| async {
        let here = (current_netns_inode(), std::thread::current().id());
        let worker = tokio::spawn(async { (current_netns_inode(), std::thread::current().id()) })
            .await
            .unwrap();
        let blocking = tokio::task::spawn_blocking(current_netns_inode)
            .await
            .unwrap();
        (here, worker, blocking)
    });
    assert_eq!(here.0, inode);
    assert_ne!(
        worker.1, here.1,
        "the spawned task did not run on a worker thread"
    );
    assert_eq!(worker.0, inode, "a worker thread is outside the namespace");
    assert_eq!(
        blocking, inode,
        "a blocking-pool thread is outside the namespace"
    );
}

/// The hop addresses `traceroute -n -q1 -w1` prints, in order.
fn traceroute(chain: &Chain, family: Family) -> Vec<IpAddr> {
    let target = chain.target(family).to_string();
    let flag = if family == Family::V4 { "-4" } else { "-6" };
    let output = chain
        .client()
        .exec_ok(&["traceroute", flag, "-n", "-q1", "-w1", "-m10", &target]);
    output
        .lines()
        .skip(1)
        .map(|line| {
            line.split_whitespace()
                .nth(1)
                .unwrap()
                .parse()
                .unwrap_or_else(|_| panic!("no address in {line:?}:\n{output}"))
        })
        .collect()
}

fn ping(chain: &Chain, args: &[&str]) -> (bool, String) {
    let mut full = vec!["ping", "-n"];
    full.extend_from_slice(args);
    let output = chain.client().exec(&full);
    (output.status.success(), stdout(&output))
}

fn chain_routes_answers_and_rejects() {
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(3);
    chain.warm_up();
    assert_eq!(chain.distance_of_target(), 4);
    for family in [Family::V4, Family::V6] {
        let expected: Vec<IpAddr> = (1..=4).map(|d| chain.hop_address(d, family)).collect();
        assert_eq!(expected[3], chain.target(family));
        assert_eq!(traceroute(&chain, family), expected, "{family} traceroute");

        // No ICMP rate limiting: a burst of TTL-1 probes gets as many Time Exceeded.
        let target = chain.target(family).to_string();
        let (_, text) = ping(&chain, &["-q", "-c100", "-i0.002", "-W1", "-t1", &target]);
        assert!(text.contains("+100 errors"), "{family} burst:\n{text}");

        // Time Exceeded comes from the hop's upstream address.
        for distance in [1, 2, 3] {
            let ttl = distance.to_string();
            let (ok, text) = ping(
                &chain,
                &["-c1", "-W2", "-t", &ttl, &chain.target(family).to_string()],
            );
            assert!(!ok, "{text}");
            let from = format!("From {} ", chain.hop_address(distance, family));
            let what = if family == Family::V4 {
                "Time to live exceeded"
            } else {
                "Time exceeded: Hop limit"
            };
            assert!(
                text.contains(&from) && text.contains(what),
                "ttl {ttl}, expected {from}{what}:\n{text}"
            );
        }

        // The silent address gets nothing back, not even an error.
        let (ok, text) = ping(&chain, &["-c1", "-W1", &chain.silent(family).to_string()]);
        assert!(!ok && !text.contains("From "), "{text}");
    }

    let last_v4 = format!("From {} ", chain.last_router_address(Family::V4));
    let last_v6 = format!("From {} ", chain.last_router_address(Family::V6));
    let cases = [
        (
            Reject::HostUnreachable,
            Family::V4,
            &last_v4,
            "Destination Host Unreachable",
        ),
        (
            Reject::AdminProhibited,
            Family::V4,
            &last_v4,
            "Packet filtered",
        ),
        (
            Reject::NoRoute,
            Family::V6,
            &last_v6,
            "Destination unreachable: No route",
        ),
        (
            Reject::AdminProhibited,
            Family::V6,
            &last_v6,
            "Destination unreachable: Administratively prohibited",
        ),
    ];
    for (reject, family, from, message) in cases {
        let address = chain.rejected(reject, family).to_string();
        let (ok, text) = ping(&chain, &["-c1", "-W2", &address]);
        assert!(
            !ok && text.contains(from.as_str()) && text.contains(message),
            "{reject:?} {address}: expected {from}{message}:\n{text}"
        );
    }
    assert!(std::panic::catch_unwind(|| chain.rejected(Reject::NoRoute, Family::V4)).is_err());
    assert!(
        std::panic::catch_unwind(|| chain.rejected(Reject::HostUnreachable, Family::V6)).is_err()
    );
}

fn loss_drops_echo_requests() {
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(1);
    chain.warm_up();
    let received = |family: Family, count: &str| -> usize {
        let target = chain.target(family).to_string();
        let (_, text) = ping(&chain, &["-q", "-c", count, "-i", "0.002", "-W1", &target]);
        let stats = text
            .lines()
            .find(|l| l.contains("received"))
            .unwrap_or_else(|| panic!("{text}"));
        stats
            .split(", ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    chain.target_ns().add_loss(100);
    for family in [Family::V4, Family::V6] {
        assert_eq!(received(family, "5"), 0, "{family} with 100% loss");
        // The router is not affected.
        let (ok, text) = ping(
            &chain,
            &["-c1", "-W1", &chain.hop_address(1, family).to_string()],
        );
        assert!(ok, "{text}");
    }
    chain.target_ns().add_loss(50);
    for family in [Family::V4, Family::V6] {
        let got = received(family, "60");
        assert!((5..=55).contains(&got), "{family} with 50% loss: {got}/60");
    }
    chain.target_ns().add_loss(0);
    for family in [Family::V4, Family::V6] {
        assert_eq!(received(family, "5"), 5, "{family} with no loss");
    }
}

fn errno_of_socket(domain: i32, kind: i32, protocol: i32) -> Result<(), i32> {
    // SAFETY: plain socket(2) call; the descriptor is closed right away.
    let fd = unsafe { libc::socket(domain, kind, protocol) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap());
    }
    // SAFETY: fd was just returned by socket(2) and is owned here.
    unsafe { libc::close(fd) };
    Ok(())
}

fn unprivileged_child_gets_ping_sockets_only() {
    match support::child_role().as_deref() {
        Some("whoami") => {
            // SAFETY: geteuid/getegid cannot fail.
            let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
            assert_eq!((uid, gid), (65534, 65534));
            // We are inside the namespace: its ping_group_range, not the host's.
            let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap();
            assert_eq!(
                range.split_whitespace().collect::<Vec<_>>(),
                ["0", "2147483647"]
            );
            assert_eq!(
                errno_of_socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP),
                Err(libc::EPERM)
            );
            assert_eq!(
                errno_of_socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6),
                Err(libc::EPERM)
            );
            assert_eq!(
                errno_of_socket(libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_ICMP),
                Ok(())
            );
            assert_eq!(
                errno_of_socket(libc::AF_INET6, libc::SOCK_DGRAM, libc::IPPROTO_ICMPV6),
                Ok(())
            );
            return;
        }
        Some("denied") => {
            assert_eq!(
                errno_of_socket(libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_ICMP),
                Err(libc::EACCES)
            );
            return;
        }
        Some(other) => panic!("unknown role {other}"),
        None => {}
    }
    if !support::require_root() {
        return;
    }
    const NAME: &str = "unprivileged_child_gets_ping_sockets_only";
    let netns = Netns::new("unpriv");
    let denied = netns.spawn_unprivileged(NAME, "denied");
    netns.allow_unprivileged_ping();
    let allowed = netns.spawn_unprivileged(NAME, "whoami");
    for (role, output) in [("denied", denied), ("whoami", allowed)] {
        let text = format!(
            "{}\n{}",
            stdout(&output),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success(),
            "child {role} failed ({}):\n{text}",
            output.status
        );
        assert!(
            support::ran_one_test(&text),
            "child {role} did not run exactly one test:\n{text}"
        );
    }
}
