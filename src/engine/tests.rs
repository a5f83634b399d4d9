//! Engine tests that need a real socket: the fatal-error path, and the receive task
//! on loopback.
//! They open a raw socket, so they run as root only (and fail without root when
//! `ICMPLIB_REQUIRE_ROOT=1`, as in CI).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::*;
use crate::Family;

fn root() -> bool {
    let root = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::RAW,
        Some(socket2::Protocol::ICMPV4),
    )
    .is_ok();
    if !root {
        assert_ne!(
            std::env::var("ICMPLIB_REQUIRE_ROOT").as_deref(),
            Ok("1"),
            "engine tests need raw sockets"
        );
        eprintln!("skipping: raw sockets need root");
    }
    root
}

fn config() -> EngineConfig {
    EngineConfig {
        kind: SocketKind {
            family: Family::V4,
            privileged: true,
        },
        source: None,
        recv_buffer_size: DEFAULT_RECV_BUFFER,
    }
}

/// Registers a waiter directly, as `send` does, without sending anything.
fn wait_on(engine: &Engine, sequence_hint: u8) -> oneshot::Receiver<Result<IcmpReply>> {
    let (waiter, reply) = oneshot::channel();
    let peer = IpAddr::V4(Ipv4Addr::new(192, 0, 2, sequence_hint));
    engine
        .core()
        .table()
        .insert(peer, 1, Arc::from(&b"x"[..]), Waiter::Channel(waiter))
        .unwrap();
    reply
}

#[tokio::test]
async fn a_socket_failure_reaches_every_waiter_and_the_engine_is_rebuilt() {
    if !root() {
        return;
    }
    let engine = engine_for(config()).unwrap();
    let waiters: Vec<_> = (1..=5).map(|i| wait_on(&engine, i)).collect();
    assert_eq!(engine.in_flight(), 5);

    engine.core().socket.shutdown_for_test();
    for waiter in waiters {
        let result = tokio::time::timeout(Duration::from_secs(2), waiter)
            .await
            .expect("the waiter was told")
            .expect("the waiter got a value");
        let error = result.unwrap_err();
        assert!(matches!(error, Error::Socket(_)), "{error:?}");
    }
    assert!(engine.is_closed());
    let probe = Probe {
        destination: IpAddr::V4(Ipv4Addr::LOCALHOST),
        id: None,
        payload: Arc::from(&b"x"[..]),
        ttl: 64,
        traffic_class: 0,
    };
    assert!(matches!(engine.send(&probe).await, Err(Error::Socket(_))));

    // The next user gets a fresh engine.
    let fresh = engine_for(config()).unwrap();
    assert!(!fresh.is_closed());
    assert!(!Arc::ptr_eq(fresh.core(), engine.core()));
}

#[tokio::test]
async fn the_receive_task_stops_with_the_last_handle() {
    if !root() {
        return;
    }
    let engine = Engine::open(config()).unwrap();
    let core = Arc::downgrade(engine.core());
    let waiter = wait_on(&engine, 9);
    drop(engine);
    // The task stops, tells the waiter, and drops the socket.
    let result = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(result, Err(Error::SocketUnavailable)));
    for _ in 0..100 {
        if core.upgrade().is_none() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the engine's core outlived its last handle");
}

/// Sends one echo request to `destination` and waits for its reply, with a timeout so
/// long that only a receive task that was woken can answer within `within`.
async fn ping_woken(engine: &Engine, destination: Ipv4Addr, within: Duration) -> IcmpReply {
    let probe = Probe {
        destination: IpAddr::V4(destination),
        id: None,
        payload: Arc::from(&[0x5a; 56][..]),
        ttl: 64,
        traffic_class: 0,
    };
    let in_flight = engine.send(&probe).await.expect("sent");
    tokio::time::timeout(within, in_flight.reply(Duration::from_secs(60)))
        .await
        .expect("the receive task was woken by the reply")
        .expect("an echo reply")
}

/// The receive task takes the socket out of the reactor while it drains a burst on its
/// own, and registers it again for the next wait: replies before, during and after must
/// all wake their request (a lost registration would leave them to their timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_wake_their_request_after_the_socket_was_taken_out_of_the_reactor() {
    if !root() {
        return;
    }
    let engine = Engine::open(config()).unwrap();
    for round in 0..3u8 {
        let burst: Vec<_> = (1..=200u8)
            .map(|host| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    ping_woken(
                        &engine,
                        Ipv4Addr::new(127, 3, round, host),
                        Duration::from_secs(5),
                    )
                    .await
                })
            })
            .collect();
        for (host, task) in (1..=200u8).zip(burst) {
            let reply = task.await.unwrap();
            assert_eq!(
                reply.source(),
                IpAddr::V4(Ipv4Addr::new(127, 3, round, host))
            );
        }
        // Idle, then out of the reactor: the next reply needs a fresh registration.
        tokio::time::sleep(Duration::from_millis(50)).await;
        engine.core().socket.pause_readiness();
        let single = ping_woken(&engine, Ipv4Addr::LOCALHOST, Duration::from_secs(5)).await;
        assert_eq!(single.source(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    assert_eq!(engine.in_flight(), 0);
}
