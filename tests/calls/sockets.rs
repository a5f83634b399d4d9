//! The low-level sockets on real packets: loopback round trips in a fresh namespace, raw
//! and datagram kinds, and ICMP errors from real routers in a namespace chain.

use crate::support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use icmplib::packet::Kind;
use icmplib::{AsyncIcmpSocket, Error, Family, IcmpRequest, IcmpV4Socket, IcmpV6Socket};
use support::{Chain, Netns, Reject};

support::harness::tests![
    Root raw_sockets_round_trip_on_loopback,
    Root datagram_sockets_round_trip_on_loopback,
    Root a_reply_with_another_payload_is_not_taken,
    Root receive_times_out_after_about_the_timeout,
    Root binding_an_address_the_machine_lacks_is_a_socket_address_error,
    Root broadcast_needs_the_broadcast_flag,
    Root unprivileged_process_gets_socket_permission_for_raw_sockets,
    Root routers_send_time_exceeded_and_unreachable_to_raw_sockets,
    Root routers_send_time_exceeded_and_unreachable_to_datagram_sockets,
];

const TIMEOUT: Duration = Duration::from_secs(2);

/// Sends `request` on a blocking socket of its family and returns the matching reply.
fn exchange(request: &IcmpRequest, privileged: bool) -> icmplib::Result<icmplib::IcmpReply> {
    match request.family() {
        Family::V4 => {
            let socket = IcmpV4Socket::new(None, privileged)?;
            socket.send(request)?;
            socket.receive(Some(request), TIMEOUT)
        }
        Family::V6 => {
            let socket = IcmpV6Socket::new(None, privileged)?;
            socket.send(request)?;
            socket.receive(Some(request), TIMEOUT)
        }
    }
}

/// Echo round trips on 127.0.0.1 and ::1 with both blocking and async sockets.
fn loopback_round_trips(privileged: bool) {
    for destination in ["127.0.0.1", "::1"] {
        let destination: IpAddr = destination.parse().unwrap();
        let request = IcmpRequest::new(destination, 0x4242, 7).with_payload_size(100);
        let sent = Instant::now();
        let reply = exchange(&request, privileged).unwrap();
        assert_eq!(reply.source(), destination);
        assert_eq!(reply.sequence(), 7);
        assert_eq!(reply.kind(), Kind::EchoReply);
        assert!(reply.raise_for_status().is_ok());
        assert!(reply.time() >= sent && reply.time() <= Instant::now());
        if privileged {
            assert_eq!(reply.id(), 0x4242);
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for destination in ["127.0.0.1", "::1"] {
            let destination: IpAddr = destination.parse().unwrap();
            let socket = AsyncIcmpSocket::new(Family::of(&destination), None, privileged).unwrap();
            for sequence in 1..=3 {
                let request = IcmpRequest::new(destination, 99, sequence);
                let sent = socket.send(&request).await.unwrap();
                let reply = socket.receive(Some(&request), TIMEOUT).await.unwrap();
                assert_eq!((reply.source(), reply.sequence()), (destination, sequence));
                assert!(reply.time() >= sent);
                reply.raise_for_status().unwrap();
            }
        }
    });
}

fn raw_sockets_round_trip_on_loopback() {
    if !support::require_root() {
        return;
    }
    Netns::new("rawlo").run(|| loopback_round_trips(true));
}

fn datagram_sockets_round_trip_on_loopback() {
    if let Some(role) = support::child_role() {
        assert_eq!(role, "dgram");
        loopback_round_trips(false);
        return;
    }
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("dgramlo");
    netns.allow_unprivileged_ping();
    let output = netns.spawn_unprivileged("datagram_sockets_round_trip_on_loopback", "dgram");
    support::assert_child_passed(&output);
}

fn a_reply_with_another_payload_is_not_taken() {
    if !support::require_root() {
        return;
    }
    Netns::new("payload").run(|| {
        let socket = IcmpV4Socket::new(None, true).unwrap();
        let sent =
            IcmpRequest::new("127.0.0.1".parse().unwrap(), 5, 5).with_payload(b"one".to_vec());
        let expected = sent.clone().with_payload(b"two".to_vec());
        socket.send(&sent).unwrap();
        let started = Instant::now();
        let result = socket.receive(Some(&expected), Duration::from_millis(300));
        assert!(
            matches!(result, Err(Error::TimeoutExceeded { .. })),
            "{result:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(300));
    });
}

fn receive_times_out_after_about_the_timeout() {
    if !support::require_root() {
        return;
    }
    Netns::new("timeout").run(|| {
        let socket = IcmpV6Socket::new(None, true).unwrap();
        let request = IcmpRequest::new("::1".parse().unwrap(), 1, 1);
        let timeout = Duration::from_millis(400);
        let started = Instant::now();
        let result = socket.receive(Some(&request), timeout);
        let elapsed = started.elapsed();
        assert!(
            matches!(result, Err(Error::TimeoutExceeded { timeout: t }) if t == timeout),
            "{result:?}"
        );
        assert!(elapsed >= timeout, "{elapsed:?}");
        // Not forever; loose enough for a busy machine (500 ms over was missed under load).
        assert!(elapsed < timeout * 10, "{elapsed:?}");
        // A zero timeout is refused, not taken as "forever".
        assert!(matches!(
            socket.receive(None, Duration::ZERO),
            Err(Error::InvalidOption { .. })
        ));
    });
}

fn binding_an_address_the_machine_lacks_is_a_socket_address_error() {
    if !support::require_root() {
        return;
    }
    Netns::new("bind").run(|| {
        let missing = "192.0.2.77".parse().unwrap();
        let error = IcmpV4Socket::new(Some(missing), true).unwrap_err();
        assert!(
            matches!(error, Error::SocketAddress { address } if address == IpAddr::V4(missing)),
            "{error:?}"
        );
        let missing6 = "2001:db8::77".parse().unwrap();
        let error = IcmpV6Socket::new(Some(missing6), true).unwrap_err();
        assert!(matches!(error, Error::SocketAddress { .. }), "{error:?}");
        // Loopback can be bound, and is used as the source.
        let socket = IcmpV4Socket::new(Some("127.0.0.1".parse().unwrap()), true).unwrap();
        assert_eq!(
            socket.local_addr().unwrap().ip(),
            IpAddr::from([127, 0, 0, 1])
        );
    });
}

fn broadcast_needs_the_broadcast_flag() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("bcast");
    // A subnet with a broadcast address, on a veth pair kept inside the namespace.
    netns.ip(&["link", "add", "b0", "type", "veth", "peer", "name", "b1"]);
    netns.ip(&["addr", "add", "198.51.100.1/24", "brd", "+", "dev", "b0"]);
    netns.ip(&["link", "set", "b0", "up"]);
    netns.ip(&["link", "set", "b1", "up"]);
    netns.run(|| {
        let socket = IcmpV4Socket::new(None, true).unwrap();
        let request = IcmpRequest::new("198.51.100.255".parse().unwrap(), 1, 1);
        assert!(!socket.broadcast().unwrap());
        let error = socket.send(&request).unwrap_err();
        assert!(matches!(error, Error::SocketBroadcast), "{error:?}");
        socket.set_broadcast(true).unwrap();
        socket.send(&request).unwrap();
    });
}

fn unprivileged_process_gets_socket_permission_for_raw_sockets() {
    if let Some(role) = support::child_role() {
        assert_eq!(role, "noraw");
        for error in [
            IcmpV4Socket::new(None, true).unwrap_err(),
            IcmpV6Socket::new(None, true).unwrap_err(),
        ] {
            assert!(
                matches!(error, Error::SocketPermission { privileged: true }),
                "{error:?}"
            );
            assert!(error.to_string().contains("CAP_NET_RAW"));
        }
        // Without ping_group_range, datagram sockets are refused too, with the fix named.
        let error = IcmpV4Socket::new(None, false).unwrap_err();
        assert!(
            matches!(error, Error::SocketPermission { privileged: false }),
            "{error:?}"
        );
        assert!(error.to_string().contains("ping_group_range"));
        // Neither kind allowed: the automatic default says so, naming both ways.
        let error = icmplib::Pinger::new().socket_kind().unwrap_err();
        let call = icmplib::ping("127.0.0.1", &icmplib::PingOptions::default().count(1));
        for error in [error, call.unwrap_err()] {
            assert!(
                matches!(error, Error::SocketPermission { privileged: false }),
                "{error:?}"
            );
            let message = error.to_string();
            assert!(
                message.contains("ping_group_range") && message.contains("CAP_NET_RAW"),
                "{message}"
            );
        }
        return;
    }
    if !support::require_root() {
        return;
    }
    // Root may open raw sockets: the automatic default takes them.
    assert_eq!(
        icmplib::Pinger::new().socket_kind().unwrap(),
        icmplib::SocketKind::Raw
    );
    let netns = Netns::new("noraw");
    let output = netns.spawn_unprivileged(
        "unprivileged_process_gets_socket_permission_for_raw_sockets",
        "noraw",
    );
    support::assert_child_passed(&output);
}

/// What the chain test expects back for one request.
struct Expectation {
    request: IcmpRequest,
    from: IpAddr,
    kind: Kind,
    code: u8,
}

fn chain_expectations(args: &[&str]) -> Vec<Expectation> {
    // args: hop1 v4, hop1 v6, last router v4, last router v6, then the destinations.
    let addr = |i: usize| -> IpAddr { args[i].parse().unwrap() };
    let (hop4, hop6, last4, last6) = (addr(0), addr(1), addr(2), addr(3));
    let (host_unreach, admin4, no_route, admin6, target4, target6) =
        (addr(4), addr(5), addr(6), addr(7), addr(8), addr(9));
    let request =
        |destination: IpAddr, sequence: u16| IcmpRequest::new(destination, 0x3131, sequence);
    vec![
        Expectation {
            request: request(target4, 1).with_ttl(1),
            from: hop4,
            kind: Kind::TimeExceeded,
            code: 0,
        },
        Expectation {
            request: request(target6, 2).with_ttl(1),
            from: hop6,
            kind: Kind::TimeExceeded,
            code: 0,
        },
        Expectation {
            request: request(host_unreach, 3),
            from: last4,
            kind: Kind::DestinationUnreachable,
            code: 1,
        },
        Expectation {
            request: request(admin4, 4),
            from: last4,
            kind: Kind::DestinationUnreachable,
            code: 13,
        },
        Expectation {
            request: request(no_route, 5),
            from: last6,
            kind: Kind::DestinationUnreachable,
            code: 0,
        },
        Expectation {
            request: request(admin6, 6),
            from: last6,
            kind: Kind::DestinationUnreachable,
            code: 1,
        },
        Expectation {
            request: request(target4, 7),
            from: target4,
            kind: Kind::EchoReply,
            code: 0,
        },
        Expectation {
            request: request(target6, 8),
            from: target6,
            kind: Kind::EchoReply,
            code: 0,
        },
    ]
}

fn check_chain(args: &[&str], privileged: bool) {
    for expectation in chain_expectations(args) {
        let request = &expectation.request;
        let reply =
            exchange(request, privileged).unwrap_or_else(|error| panic!("{request}: {error}"));
        assert_eq!(reply.source(), expectation.from, "{request}: {reply}");
        assert_eq!(reply.kind(), expectation.kind, "{request}: {reply}");
        assert_eq!(reply.code(), expectation.code, "{request}: {reply}");
        // The quoted request is recovered: its sequence, and its id on raw sockets (the
        // kernel picks the id of a datagram socket).
        assert_eq!(reply.sequence(), request.sequence(), "{reply}");
        if privileged {
            assert_eq!(reply.id(), request.id(), "{reply}");
        }
        match expectation.kind {
            Kind::EchoReply => reply.raise_for_status().unwrap(),
            Kind::TimeExceeded => assert!(matches!(
                reply.raise_for_status(),
                Err(Error::TimeExceeded { source, code: 0, family }) if source == expectation.from && family == request.family()
            )),
            _ => assert!(matches!(
                reply.raise_for_status(),
                Err(Error::DestinationUnreachable { source, code, .. }) if source == expectation.from && code == expectation.code
            )),
        }
    }
}

fn chain_args(chain: &Chain) -> Vec<String> {
    [
        chain.hop_address(1, Family::V4),
        chain.hop_address(1, Family::V6),
        chain.last_router_address(Family::V4),
        chain.last_router_address(Family::V6),
        chain.rejected(Reject::HostUnreachable, Family::V4),
        chain.rejected(Reject::AdminProhibited, Family::V4),
        chain.rejected(Reject::NoRoute, Family::V6),
        chain.rejected(Reject::AdminProhibited, Family::V6),
        chain.target(Family::V4),
        chain.target(Family::V6),
    ]
    .iter()
    .map(ToString::to_string)
    .collect()
}

fn routers_send_time_exceeded_and_unreachable_to_raw_sockets() {
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(2);
    chain.warm_up();
    let args = chain_args(&chain);
    chain.client().run(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        check_chain(&args, true);
    });
}

fn routers_send_time_exceeded_and_unreachable_to_datagram_sockets() {
    if let Some(role) = support::child_role() {
        let (name, args) = support::role_parts(&role);
        assert_eq!(name, "chain");
        check_chain(&args, false);
        return;
    }
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(2);
    chain.warm_up();
    chain.client().allow_unprivileged_ping();
    let role = format!("chain:{}", chain_args(&chain).join(","));
    let output = chain.client().spawn_unprivileged(
        "routers_send_time_exceeded_and_unreachable_to_datagram_sockets",
        &role,
    );
    support::assert_child_passed(&output);
}
