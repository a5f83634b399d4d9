//! Don't Fragment and path MTU through a chain (client — r1 — r2 — r3 — target) whose
//! link between r1 and r2 has an MTU of 1,280: r1 answers larger packets that may not be
//! fragmented with Fragmentation Needed (IPv4) / Packet Too Big (IPv6).

use crate::support;

use std::net::IpAddr;
use std::time::Duration;

use icmplib::{
    DontFragment, Error, Family, IcmpRequest, IcmpV4Socket, IcmpV6Socket, PathMtu, PathMtuOptions,
    PingOptions, Pinger,
};
use support::forger::{Forger, Forgery};
use support::{Chain, example, output_text};

support::harness::tests![
    Root a_request_too_big_for_a_link_gets_its_mtu_from_the_router,
    Root low_level_sockets_take_dont_fragment,
    Root path_mtu_finds_the_narrow_link,
    Root path_mtu_of_a_host_that_does_not_answer_is_an_error,
    Root without_dont_fragment_a_large_request_is_answered,
    Root the_examples_take_dont_fragment_and_report_the_path_mtu,
    Root path_mtu_works_as_nobody,
    Root path_mtu_of_loopback_is_its_mtu,
    Root one_hosts_packet_too_big_does_not_fail_another_hosts_requests,
    Root a_lossy_black_hole_is_never_reported_as_a_path_mtu,
    Root forged_claims_and_black_holes_are_checked_not_believed,
];

const NARROW: u32 = 1280;

fn lab() -> Chain {
    let chain = Chain::new(3);
    chain.set_link_mtu(1, NARROW);
    chain.client().allow_unprivileged_ping();
    chain.warm_up();
    chain
}

fn options(payload_size: usize, dont_fragment: DontFragment, privileged: bool) -> PingOptions {
    PingOptions::default()
        .count(2)
        .interval(Duration::from_millis(20))
        .timeout(Duration::from_millis(500))
        .payload_size(payload_size)
        .dont_fragment(dont_fragment)
        .privileged(privileged)
}

/// The largest echo payload of a 1,280-byte packet.
fn narrow_payload(family: Family) -> usize {
    match family {
        Family::V4 => 1252,
        Family::V6 => 1232,
    }
}

fn a_request_too_big_for_a_link_gets_its_mtu_from_the_router() {
    if !support::require_root() {
        return;
    }
    let chain = lab();
    let r1 = |family| chain.hop_address(1, family);
    let (target_v4, target_v6) = (chain.target(Family::V4), chain.target(Family::V6));
    let (r1_v4, r1_v6) = (r1(Family::V4), r1(Family::V6));
    let client = chain.client();
    for privileged in [true, false] {
        for (target, router) in [(target_v4, r1_v4), (target_v6, r1_v6)] {
            let family = Family::of(&target);
            chain.forget_path_mtus();
            client.block_on(move || async move {
                let pinger = Pinger::builder().privileged(privileged).build();
                let target = target.to_string();
                // Probe: every request leaves, and r1 answers each one.
                let host = pinger
                    .ping(&target, &options(1400, DontFragment::Probe, privileged))
                    .await
                    .unwrap();
                let context = format!("{family} privileged={privileged}: {host:?}");
                assert!(!host.is_alive(), "{context}");
                assert_eq!(host.packets_sent(), 2, "{context}");
                match host.error() {
                    Some(Error::PacketTooBig {
                        source: Some(source),
                        mtu: Some(NARROW),
                        family: error_family,
                    }) => {
                        assert_eq!((*source, *error_family), (router, family), "{context}");
                    }
                    other => panic!("{context}: {other:?}"),
                }
                // On: the path MTU learned from r1 now stops the request here.
                let host = pinger
                    .ping(&target, &options(1400, DontFragment::On, privileged))
                    .await
                    .unwrap();
                let context = format!("{family} privileged={privileged}: {host:?}");
                assert_eq!(host.packets_sent(), 0, "{context}");
                assert!(
                    matches!(
                        host.error(),
                        Some(Error::PacketTooBig {
                            source: None,
                            mtu: Some(NARROW),
                            ..
                        })
                    ),
                    "{context}"
                );
                // What fits the narrow link passes with Don't Fragment set.
                let fits = options(narrow_payload(family), DontFragment::Probe, privileged);
                let host = pinger.ping(&target, &fits).await.unwrap();
                assert_eq!(host.packets_received(), 2, "{family}: {host:?}");
                assert!(host.error().is_none(), "{host:?}");
            });
        }
    }
}

fn low_level_sockets_take_dont_fragment() {
    if !support::require_root() {
        return;
    }
    let chain = lab();
    chain.forget_path_mtus();
    let (target_v4, target_v6) = (chain.target(Family::V4), chain.target(Family::V6));
    let (r1_v4, r1_v6) = (
        chain.hop_address(1, Family::V4),
        chain.hop_address(1, Family::V6),
    );
    chain.client().run(move || {
        let v4 = IcmpV4Socket::new(None, true).unwrap();
        let v6 = IcmpV6Socket::new(None, false).unwrap();
        v4.set_dont_fragment(DontFragment::On).unwrap();
        v6.set_dont_fragment(DontFragment::On).unwrap();
        let wait = Duration::from_secs(1);
        for (sequence, (target, router)) in [(target_v4, r1_v4), (target_v6, r1_v6)]
            .into_iter()
            .enumerate()
        {
            let request = IcmpRequest::new(target, 7, sequence as u16).with_payload_size(1400);
            let (send, receive) = match Family::of(&target) {
                Family::V4 => (v4.send(&request), v4.receive(Some(&request), wait)),
                Family::V6 => (v6.send(&request), v6.receive(Some(&request), wait)),
            };
            send.unwrap();
            // The router's answer: its MTU, and the error it stands for.
            let reply = receive.unwrap();
            assert_eq!((reply.source(), reply.mtu()), (router, Some(NARROW)));
            assert!(matches!(
                reply.raise_for_status(),
                Err(Error::PacketTooBig { source: Some(source), mtu: Some(NARROW), .. })
                    if source == router
            ));
            // The next one is refused here: the system learned the path MTU.
            let refused = match Family::of(&target) {
                Family::V4 => v4.send(&request),
                Family::V6 => v6.send(&request),
            };
            assert!(
                matches!(
                    refused,
                    Err(Error::PacketTooBig {
                        source: None,
                        mtu: Some(NARROW),
                        ..
                    })
                ),
                "{refused:?}"
            );
        }
    });
}

fn path_mtu_finds_the_narrow_link() {
    if !support::require_root() {
        return;
    }
    let chain = lab();
    let client = chain.client();
    for privileged in [true, false] {
        for family in [Family::V4, Family::V6] {
            let target = chain.target(family);
            let router = chain.hop_address(1, family);
            // First with nothing learned, then with the path MTU the first search taught
            // the system (a first guess only: the search still measures).
            chain.forget_path_mtus();
            for round in ["fresh", "learned"] {
                let found = client.block_on(move || async move {
                    let pinger = Pinger::builder().privileged(privileged).build();
                    let options = PathMtuOptions::default()
                        .timeout(Duration::from_millis(500))
                        .privileged(privileged);
                    pinger.path_mtu(&target.to_string(), &options).await
                });
                let context = format!("{family} privileged={privileged} {round}: {found:?}");
                let found = found.expect(&context);
                assert_eq!(found.mtu(), NARROW, "{context}");
                assert_eq!(found.payload_size(), narrow_payload(family), "{context}");
                assert_eq!(found.reported_by(), Some(router), "{context}");
                assert!(found.is_complete(), "{context}");
                assert!(found.probes_sent() <= 12, "{context}");
            }
        }
    }
}

fn path_mtu_of_a_host_that_does_not_answer_is_an_error() {
    if !support::require_root() {
        return;
    }
    let chain = lab();
    let silent = chain.silent(Family::V4);
    let result = chain.client().block_on(move || async move {
        let options = PathMtuOptions::default()
            .timeout(Duration::from_millis(100))
            .count(1);
        Pinger::new().path_mtu(&silent.to_string(), &options).await
    });
    assert!(
        matches!(result, Err(Error::TimeoutExceeded { .. })),
        "{result:?}"
    );
}

fn without_dont_fragment_a_large_request_is_answered() {
    if !support::require_root() {
        return;
    }
    let chain = lab();
    let target_v4 = chain.target(Family::V4);
    let target_v6 = chain.target(Family::V6);
    chain.forget_path_mtus();
    chain.client().block_on(move || async move {
        for privileged in [true, false] {
            let pinger = Pinger::builder().privileged(privileged).build();
            // IPv4: r1 fragments the request, r2 the reply.
            let host = pinger
                .ping(
                    &target_v4.to_string(),
                    &options(1400, DontFragment::Off, privileged),
                )
                .await
                .unwrap();
            assert_eq!(host.packets_received(), 2, "{host:?}");
            // IPv6: routers never fragment; each end learns the path MTU from a Packet
            // Too Big (the client's first request, the target's first reply), then
            // fragments itself.
            let v6 = options(1400, DontFragment::Off, privileged).count(4);
            let host = pinger.ping(&target_v6.to_string(), &v6).await.unwrap();
            assert!(host.is_alive(), "{host:?}");
        }
    });
}

fn the_examples_take_dont_fragment_and_report_the_path_mtu() {
    if !support::require_root() {
        return;
    }
    let chain = lab();
    let ping = example("ping");
    let traceroute = example("traceroute");
    let target = chain.target(Family::V4).to_string();
    let run = |program: &std::path::Path, args: &[&str]| {
        chain
            .client()
            .run_program(program, args, Duration::from_secs(30))
    };
    let probe = run(
        &ping,
        &["-c", "1", "-W", "0.5", "-s", "1400", "-M", "probe", &target],
    );
    let text = output_text(&probe);
    assert_eq!(probe.status.code(), Some(1), "{text}");
    assert!(text.contains("1280"), "{text}");
    let dont = run(
        &ping,
        &["-c", "1", "-W", "0.5", "-s", "1400", "-M", "dont", &target],
    );
    assert_eq!(dont.status.code(), Some(0), "{}", output_text(&dont));
    let bad = run(&ping, &["-c", "1", "-M", "sometimes", &target]);
    assert_eq!(bad.status.code(), Some(2), "{}", output_text(&bad));
    let trace = run(&traceroute, &["-n", "--mtu", "-W", "0.5", &target]);
    let text = output_text(&trace);
    assert_eq!(trace.status.code(), Some(0), "{text}");
    let router: IpAddr = chain.hop_address(1, Family::V4);
    // tracepath's way: the router that reported the MTU carries it.
    let marked = text
        .lines()
        .any(|line| line.starts_with(&format!(" 1  {router} ")) && line.ends_with("pmtu 1280"));
    assert!(marked && text.contains("path MTU 1280"), "{text}");
}

/// As `nobody`: datagram sockets, the routers' messages read from the error queue.
fn path_mtu_works_as_nobody() {
    if let Some(role) = support::child_role() {
        let (name, args) = support::role_parts(&role);
        if name == "mtu" {
            let target: IpAddr = args[0].parse().unwrap();
            let router: IpAddr = args[1].parse().unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let found = runtime.block_on(async {
                let options = PathMtuOptions::default()
                    .timeout(Duration::from_millis(500))
                    .privileged(false);
                let pinger = Pinger::builder().privileged(false).build();
                pinger.path_mtu(&target.to_string(), &options).await
            });
            let found = found.unwrap();
            assert_eq!((found.mtu(), found.reported_by()), (NARROW, Some(router)));
        }
        return;
    }
    if !support::require_root() {
        return;
    }
    let chain = lab();
    for family in [Family::V4, Family::V6] {
        chain.forget_path_mtus();
        let role = format!(
            "mtu:{},{}",
            chain.target(family),
            chain.hop_address(1, family)
        );
        let output = chain
            .client()
            .spawn_unprivileged("path_mtu_works_as_nobody", &role);
        support::assert_child_passed(&output);
    }
}

/// Loopback carries 65,536 bytes: the largest IPv4 request passes at once, and IPv6 finds
/// the interface's MTU from this host's own refusal (its largest request is 65,575 bytes).
fn path_mtu_of_loopback_is_its_mtu() {
    if !support::require_root() {
        return;
    }
    let netns = support::Netns::new("mtulo");
    netns.ip(&["link", "set", "lo", "up"]);
    let found = netns.block_on(|| async {
        let pinger = Pinger::new();
        let options = PathMtuOptions::default().timeout(Duration::from_secs(1));
        let v4 = pinger.path_mtu("127.0.0.1", &options).await;
        let v6 = pinger.path_mtu("::1", &options).await;
        (v4, v6)
    });
    let (v4, v6) = (found.0.unwrap(), found.1.unwrap());
    assert_eq!(
        (v4.mtu(), v4.payload_size(), v4.probes_sent()),
        (65_535, 65_507, 1)
    );
    assert_eq!((v6.mtu(), v6.payload_size()), (65_536, 65_488));
    assert_eq!(v6.reported_by(), None);
}

/// A router's Fragmentation Needed for one host's request is the socket's pending error
/// (`EMSGSIZE`) until read: it must not fail the next send, to another host.
fn one_hosts_packet_too_big_does_not_fail_another_hosts_requests() {
    if !support::require_root() {
        return;
    }
    let chain = lab();
    for privileged in [true, false] {
        for family in [Family::V4, Family::V6] {
            chain.forget_path_mtus();
            // r1 is before the narrow link, the target behind it.
            let near = chain.hop_address(1, family).to_string();
            let far = chain.target(family).to_string();
            let hosts = chain.client().block_on(move || async move {
                let options = icmplib::MultipingOptions::default()
                    .count(50)
                    .interval(Duration::ZERO)
                    .timeout(Duration::from_millis(500))
                    .payload_size(1400)
                    .dont_fragment(DontFragment::Probe)
                    .privileged(privileged);
                let pinger = Pinger::builder().privileged(privileged).build();
                pinger.multiping(&[far, near], &options).await.unwrap()
            });
            let context = format!("{family} privileged={privileged}: {hosts:?}");
            assert_eq!(hosts[1].packets_received(), 50, "{context}");
            assert!(hosts[1].error().is_none(), "{context}");
            assert!(
                matches!(
                    hosts[0].error(),
                    Some(Error::PacketTooBig {
                        source: Some(_),
                        mtu: Some(NARROW),
                        ..
                    })
                ),
                "{context}"
            );
        }
    }
}

/// A router that drops packets over 1,300 bytes without a word (a "black hole": no
/// Fragmentation Needed), behind 30 % random loss of the echo requests at the target: 20
/// searches at once, and none calls a wrong size complete. Before, 10 of 12 such runs
/// reported sizes of 612 to 1,285 bytes as complete (and 1 of 20 at 5 % loss).
fn a_lossy_black_hole_is_never_reported_as_a_path_mtu() {
    if !support::require_root() {
        return;
    }
    const HOLE: usize = 1300;
    let chain = Chain::new(3);
    chain.warm_up();
    chain.router(2).nft(&format!(
        "table inet hole {{\n chain forward {{\n type filter hook forward priority -10;\n \
         ip length > {HOLE} drop\n }}\n}}\n"
    ));
    chain.target_ns().add_loss(30);
    let target = chain.target(Family::V4).to_string();
    let found = chain.client().block_on_multi(move || async move {
        let pinger = Pinger::builder().privileged(true).build();
        let options = PathMtuOptions::default().timeout(Duration::from_millis(150));
        let searches: Vec<_> = (0..20)
            .map(|_| tokio::spawn(pinger.path_mtu(&target, &options)))
            .collect();
        let mut found = Vec::new();
        for search in searches {
            found.push(search.await.unwrap());
        }
        found
    });
    let mut complete = 0;
    for result in &found {
        // A search may also end without any size answered (every probe lost): an error.
        let Ok(found) = result else { continue };
        if found.is_complete() {
            complete += 1;
            assert_eq!(found.mtu() as usize, HOLE, "{found}: {found:?}");
        } else {
            assert!(found.mtu() as usize <= HOLE, "{found:?}");
        }
    }
    println!("{complete} of 20 searches complete, every one at {HOLE} bytes");
    // In 2,000 simulated searches at 30 % loss about half complete: none would be one in
    // a million or so.
    assert!(complete >= 1, "{found:?}");
}

/// 20 path MTU searches at once from the chain's client to its target, each with a pinger
/// of its own (so that each has its own identifier), half raw, half unprivileged.
fn twenty_searches(chain: &Chain) -> Vec<icmplib::Result<PathMtu>> {
    let target = chain.target(Family::V4).to_string();
    chain.client().block_on_multi(move || async move {
        let options = PathMtuOptions::default().timeout(Duration::from_millis(400));
        let searches: Vec<_> = (0..20)
            .map(|i| {
                let pinger = Pinger::builder().privileged(i % 2 == 0).build();
                tokio::spawn(pinger.path_mtu(&target, &options))
            })
            .collect();
        let mut found = Vec::new();
        for search in searches {
            found.push(search.await.unwrap());
        }
        found
    })
}

/// Forged Fragmentation Needed messages from the first router — for the first probe of
/// every size above the claim, from each search, quoting the real probe, which goes on and
/// is answered — claiming 0, 1, 68 and 576 bytes on a clean 1,500-byte path; then a
/// second router dropping packets over 1,300 bytes without a word (a black hole): alone,
/// and with forged claims below it (576) and above it (1,400). 20 searches each: every
/// one that says it is complete found the path's real MTU, and on these lossless paths
/// most do (measured: 20 of 20 in each case but the black hole with forged claims below
/// it, 19 of 20). Before, one forged message made a search say "68, complete", and a
/// forger answering every size walked the search up a byte at a time until it ran out of
/// probes.
fn forged_claims_and_black_holes_are_checked_not_believed() {
    if !support::require_root() {
        return;
    }
    const CLEAN: u32 = 1500;
    const HOLE: u32 = 1300;
    let chain = Chain::new(3);
    chain.client().allow_unprivileged_ping();
    chain.warm_up();
    let mut cases = Vec::new();
    // A forged claim also lands in the client's route cache, and the searches of the
    // same case get it as a hint at their first probe (one more claim to check); each case
    // starts without one.
    let forged_case = |chain: &Chain, claim: u32, path: u32, cases: &mut Vec<_>| {
        chain.forget_path_mtus();
        let forger = Forger::forge(chain, 1, Forgery::TooBig { mtu: claim });
        let found = twenty_searches(chain);
        let forged = forger.forged();
        drop(forger);
        // The first forged claim goes into the client's route cache too, and the other
        // searches get it as a hint at their first probe.
        assert!(forged >= 1, "claim {claim}: nothing forged");
        cases.push((
            format!("claim {claim} ({forged} forged), path {path}"),
            path,
            found,
        ));
    };
    for claim in [0, 1, 68, 576] {
        forged_case(&chain, claim, CLEAN, &mut cases);
    }
    chain.router(2).nft(&format!(
        "table inet hole {{\n chain forward {{\n type filter hook forward priority -10;\n \
         ip length > {HOLE} drop\n }}\n}}\n"
    ));
    chain.forget_path_mtus();
    cases.push((
        format!("silent black hole at {HOLE}"),
        HOLE,
        twenty_searches(&chain),
    ));
    for claim in [576, 1400] {
        forged_case(&chain, claim, HOLE, &mut cases);
    }
    for (case, path, found) in &cases {
        let mut complete = 0;
        for result in found {
            let found = result
                .as_ref()
                .unwrap_or_else(|error| panic!("{case}: {error}"));
            assert!(found.mtu() <= *path, "{case}: {found:?}");
            if found.is_complete() {
                complete += 1;
                assert_eq!(found.mtu(), *path, "{case}: {found:?}");
            }
        }
        println!("{case}: {complete} of 20 searches complete, every one at {path} bytes");
        // Lossless paths: a search ends incomplete only when its 48 probes run out (a
        // forger and a black hole together cost two probes a size and the silences).
        assert!(complete >= 10, "{case}: {found:#?}");
    }
}
