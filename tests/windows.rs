//! The Windows backend, run under Wine by `tests/wine.rs` (Linux) inside a router chain
//! of namespaces: the ICMP helper API without privileges, raw winsock sockets with them.
//!
//! The lab is described by `ICMPLIB_WINE_LAB`
//! (`routers=A,B,C;target=T;rejected=R;silent=S;privileged=1`), set by `tests/wine.rs`.
//! Without it, the tests that need it say they skip, or fail when
//! `ICMPLIB_REQUIRE_LAB=1`. Only built for Windows.
//!
//! What Wine does differently from Windows, and how the tests take it:
//! - Wine's ICMP API sends through Linux raw sockets as root, through Linux ping sockets
//!   otherwise. Linux gives a ping socket the ICMP errors of routers only with
//!   `IP_RECVERR`, which Wine does not set: as `nobody`, Time Exceeded and Destination
//!   Unreachable never reach the API (they time out), so the exact path and the
//!   unreachable router are checked as root; as `nobody`, the target at its distance.
//! - Wine opens a raw winsock ICMP socket for any user, emulated on a ping socket when
//!   it may not open a raw one; Windows asks for Administrator.
#![cfg(windows)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use icmplib::{
    Error, Family, MultipingOptions, PingOptions, Pinger, TracerouteOptions, WatchOptions,
    async_ping, multiping, ping, traceroute,
};

/// What `tests/wine.rs` built.
struct Lab {
    routers: Vec<IpAddr>,
    target: IpAddr,
    rejected: IpAddr,
    silent: IpAddr,
    /// The tests run as root: raw sockets open, and routers' ICMP errors reach the API.
    privileged: bool,
}

fn lab() -> Option<Lab> {
    let Ok(text) = std::env::var("ICMPLIB_WINE_LAB") else {
        let test = std::thread::current().name().unwrap_or("test").to_string();
        assert!(
            std::env::var("ICMPLIB_REQUIRE_LAB").as_deref() != Ok("1"),
            "{test} needs ICMPLIB_WINE_LAB (run through tests/wine.rs)"
        );
        eprintln!("skipping {test}: needs ICMPLIB_WINE_LAB");
        return None;
    };
    let fields: HashMap<&str, &str> = text
        .split(';')
        .filter_map(|field| field.split_once('='))
        .collect();
    let address = |name: &str| -> IpAddr { fields[name].parse().expect(name) };
    Some(Lab {
        routers: fields["routers"]
            .split(',')
            .map(|router| router.parse().expect("router"))
            .collect(),
        target: address("target"),
        rejected: address("rejected"),
        silent: address("silent"),
        privileged: fields["privileged"] == "1",
    })
}

/// The kinds of probes this process can send: unprivileged always, raw as root.
fn kinds(lab: &Lab) -> Vec<bool> {
    if lab.privileged {
        vec![false, true]
    } else {
        vec![false]
    }
}

fn quick() -> PingOptions {
    PingOptions::default()
        .count(3)
        .interval(Duration::from_millis(50))
        .timeout(Duration::from_secs(2))
}

fn check_alive(address: &str, privileged: bool) {
    let host = ping(address, &quick().privileged(privileged))
        .unwrap_or_else(|error| panic!("{address} privileged={privileged}: {error:?}"));
    assert!(host.is_alive(), "{host} privileged={privileged}");
    assert_eq!(host.packets_received(), 3, "{host}");
    // Sane round trips: measured on the crate's clock, not the API's whole milliseconds.
    for rtt in host.rtts() {
        assert!(*rtt > 0.0 && *rtt < 1_000.0, "{host}: rtt {rtt} ms");
    }
}

#[test]
fn loopback_is_alive_without_privileges() {
    check_alive("127.0.0.1", false);
}

#[test]
fn raw_sockets_need_administrator() {
    let Some(lab) = lab() else { return };
    match ping("127.0.0.1", &quick().privileged(true)) {
        Ok(host) => {
            // As root, or as a user under Wine (an emulated raw socket): a real answer.
            assert!(host.is_alive(), "{host}");
            assert_eq!(host.packets_received(), 3, "{host}");
        }
        Err(error) => {
            assert!(!lab.privileged, "{error:?}");
            assert!(
                matches!(error, Error::SocketPermission { privileged: true }),
                "{error:?}"
            );
            assert!(error.to_string().contains("Administrator"), "{error}");
        }
    }
}

#[test]
fn a_host_three_routers_away_is_alive() {
    let Some(lab) = lab() else { return };
    for privileged in kinds(&lab) {
        check_alive(&lab.target.to_string(), privileged);
    }
}

#[test]
fn thousands_of_loopback_hosts_at_a_thousand_in_flight_are_all_alive() {
    let Some(lab) = lab() else { return };
    // 127.1.0.1 ..= 127.1.15.254: 4,094 hosts.
    let hosts: Vec<String> = (1..=4094u32)
        .map(|n| IpAddr::from((127u32 << 24 | 1 << 16 | n).to_be_bytes()).to_string())
        .collect();
    for privileged in kinds(&lab) {
        let options = MultipingOptions::default()
            .count(1)
            .timeout(Duration::from_secs(5))
            .concurrent_tasks(1_000)
            .privileged(privileged);
        let results = multiping(&hosts, &options).unwrap();
        assert_eq!(results.len(), hosts.len());
        let dead: Vec<_> = results.iter().filter(|host| !host.is_alive()).collect();
        assert!(
            dead.is_empty(),
            "privileged={privileged}: {} dead, first {}",
            dead.len(),
            dead[0]
        );
        for (host, address) in results.iter().zip(&hosts) {
            assert_eq!(host.address(), address);
        }
    }
}

#[test]
fn traceroute_finds_each_router_at_its_distance() {
    let Some(lab) = lab() else { return };
    let mut expected = lab.routers.clone();
    expected.push(lab.target);
    for privileged in kinds(&lab) {
        for parallel in [false, true] {
            let options = TracerouteOptions::default()
                .count(2)
                .interval(Duration::ZERO)
                .timeout(Duration::from_secs(1))
                .max_hops(8)
                .parallel(parallel)
                .privileged(privileged);
            let hops = traceroute(lab.target, &options).unwrap();
            let path: Vec<(u8, IpAddr)> = hops
                .iter()
                .map(|hop| (hop.distance(), hop.ip().unwrap()))
                .collect();
            let mut want: Vec<(u8, IpAddr)> = (1..).zip(expected.iter().copied()).collect();
            if !lab.privileged {
                // Wine as a user: routers' Time Exceeded do not reach the API.
                want.drain(..want.len() - 1);
            }
            assert_eq!(path, want, "privileged={privileged} parallel={parallel}");
            for hop in &hops {
                assert_eq!(hop.packets_received(), 2, "{hop}");
            }
        }
    }
}

#[test]
fn a_rejected_destination_is_unreachable_from_the_router() {
    let Some(lab) = lab() else { return };
    let last = *lab.routers.last().unwrap();
    for privileged in kinds(&lab) {
        let host = ping(lab.rejected, &quick().count(1).privileged(privileged)).unwrap();
        assert!(!host.is_alive(), "{host}");
        if !lab.privileged {
            // Wine as a user: the router's Destination Unreachable does not reach the API.
            assert!(host.error().is_none(), "{:?}", host.error());
            continue;
        }
        assert!(
            matches!(
                host.error(),
                Some(Error::DestinationUnreachable { source, code: 1, family: Family::V4 })
                    if *source == last
            ),
            "privileged={privileged}: {:?}",
            host.error()
        );
    }
}

#[test]
fn a_silent_host_is_dead_in_timeout_time() {
    let Some(lab) = lab() else { return };
    for privileged in kinds(&lab) {
        let timeout = Duration::from_millis(500);
        let started = Instant::now();
        let host = ping(
            lab.silent,
            &quick().count(1).timeout(timeout).privileged(privileged),
        )
        .unwrap();
        let took = started.elapsed();
        assert!(!host.is_alive(), "{host}");
        // Simply not answered: no error, one request sent.
        assert!(host.error().is_none(), "{:?}", host.error());
        assert_eq!(host.packets_sent(), 1);
        assert!(
            took >= timeout && took < timeout * 4,
            "privileged={privileged}: took {took:?}"
        );
    }
}

#[test]
fn dropped_pings_leave_nothing_in_flight() {
    let Some(lab) = lab() else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for privileged in kinds(&lab) {
        let pinger = Pinger::builder().privileged(privileged).build();
        let silent = lab.silent.to_string();
        let pinger_in = pinger.clone();
        runtime.block_on(async move {
            let options = PingOptions::default()
                .count(1)
                .timeout(Duration::from_secs(1));
            for round in 0..1_000u64 {
                // Dropped before, during or after the send, towards a silent host (the
                // request stays with the system) and towards loopback (its reply may be
                // on its way).
                let target = if round % 2 == 0 {
                    silent.as_str()
                } else {
                    "127.0.0.1"
                };
                let wait = Duration::from_micros(round % 7 * 150);
                let _ = tokio::time::timeout(wait, pinger_in.ping(target, &options)).await;
            }
            assert_eq!(pinger_in.requests_in_flight(), 0, "privileged={privileged}");
            // The pinger still works.
            let host = pinger_in.ping("127.0.0.1", &options).await.unwrap();
            assert!(host.is_alive(), "{host}");
        });
        assert_eq!(pinger.requests_in_flight(), 0);
    }
    // Requests still with the system complete on their own time, after the runtime and
    // the pinger are gone; nothing may crash meanwhile.
    drop(runtime);
    std::thread::sleep(Duration::from_millis(1_200));
}

#[test]
fn what_windows_cannot_do_is_refused_clearly() {
    let error = ping("127.0.0.1", &quick().traffic_class(0x10)).unwrap_err();
    assert!(matches!(error, Error::InvalidOption { .. }), "{error:?}");
    assert!(error.to_string().contains("TOS"), "{error}");
    let error = ping("127.0.0.1", &quick().privileged(false).id(7)).unwrap_err();
    assert!(error.to_string().contains("identifier"), "{error}");
    // No unprivileged low-level socket on Windows: the error says what to do.
    let error = icmplib::IcmpV4Socket::new(None, false).unwrap_err();
    assert!(error.to_string().contains("privileged = true"), "{error}");
}

/// Without privileges Windows' ICMP API chooses the identifier: every kind of call refuses
/// a chosen one up front, as one set-up path checks it for all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_id_without_privileges_is_refused_by_every_call() {
    fn refused<T: std::fmt::Debug>(call: &str, result: Result<T, Error>) {
        match result {
            Err(Error::InvalidOption { reason }) => {
                assert!(reason.contains("identifier"), "{call}: {reason}");
            }
            other => panic!("{call}: a chosen id was not refused: {other:?}"),
        }
    }
    let pinger = Pinger::builder().privileged(false).build();
    let targets = ["127.0.0.1", "127.0.0.2"];
    refused("ping", pinger.ping("127.0.0.1", &quick().id(7)).await);
    let sweep = MultipingOptions::default().count(1).id(7);
    refused("multiping", pinger.multiping(&targets, &sweep).await);
    for sockets in [1, 2] {
        let options = sweep.clone().sockets(sockets);
        refused(
            &format!("multiping_stream over {sockets} socket(s)"),
            pinger.multiping_stream(targets, &options).map(|_| ()),
        );
        refused(
            &format!("multiping over {sockets} socket(s)"),
            pinger.multiping(&targets, &options).await,
        );
    }
    refused(
        "watch",
        pinger
            .watch(targets, &WatchOptions::default().id(7))
            .map(|_| ()),
    );
}

#[tokio::test]
async fn async_ping_answers_on_a_current_thread_runtime() {
    let host = async_ping("127.0.0.1", &quick().privileged(false))
        .await
        .unwrap();
    assert!(host.is_alive(), "{host}");
}

#[test]
fn requests_beyond_what_the_system_takes_at_once_wait_their_turn() {
    let Some(lab) = lab() else { return };
    // Wine takes 256 ICMP API requests at once: 400 towards a silent host hold them for
    // their timeout (3 s), and 400 loopback hosts behind them must still all answer, each
    // timed from when it left: timed from when it was asked for, a round trip would be 3 s
    // or more. The bound leaves room for a busy machine (947 ms was seen under a build).
    let silent = lab.silent.to_string();
    let mut targets: Vec<String> = vec![silent; 400];
    targets.extend(
        (1..=400u32).map(|n| IpAddr::from((127u32 << 24 | 2 << 16 | n).to_be_bytes()).to_string()),
    );
    let options = MultipingOptions::default()
        .count(1)
        .timeout(Duration::from_secs(3))
        .concurrent_tasks(1_000)
        .privileged(false);
    let results = multiping(&targets, &options).unwrap();
    let (silent, loopback) = results.split_at(400);
    assert!(silent.iter().all(|host| !host.is_alive()));
    let dead: Vec<_> = loopback.iter().filter(|host| !host.is_alive()).collect();
    assert!(
        dead.is_empty(),
        "{} loopback hosts dead, first {}",
        dead.len(),
        dead[0]
    );
    for host in loopback {
        assert!(host.avg_rtt() < 1_500.0, "{host}");
    }
}

#[test]
fn a_raw_reply_carries_the_ttl_it_arrived_with() {
    let Some(lab) = lab() else { return };
    if !lab.privileged {
        // Wine's emulated raw socket for a user has no IP header to read it from.
        return;
    }
    let IpAddr::V4(target) = lab.target else {
        panic!("an IPv4 lab")
    };
    let socket = icmplib::IcmpV4Socket::new(None, true).unwrap();
    let request = icmplib::IcmpRequest::new(IpAddr::V4(target), 7, 1);
    socket.send(&request).unwrap();
    let reply = socket
        .receive(Some(&request), Duration::from_secs(2))
        .unwrap();
    // Linux's default TTL of 64, less one per router on the way back.
    let routers = u8::try_from(lab.routers.len()).unwrap();
    assert_eq!(reply.ttl(), Some(64 - routers));
}
