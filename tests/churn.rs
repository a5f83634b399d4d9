//! Identifiers and sockets that come and go under a sweeping daemon: a pinger sweeps the
//! lab round after round while, on the same pinger, pings with identifiers chosen anew
//! each round run beside the sweep (more identifiers over the rounds than a raw socket's
//! filter holds), and pingers with a source address of their own each round open and
//! close sockets. Every reply is counted, every round; the live heap and the open files
//! stay where they were once warm, and resident memory within a bound. Alone in its
//! binary, so that the process's memory is this test's own.

mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use icmplib::{Family, MultipingOptions, PingOptions, Pinger};
use support::Lab;
use support::process::{live_kib, open_files, resident_kib};

support::harness::tests![
    Root chosen_identifiers_and_sources_come_and_go_without_a_lost_reply,
];

fn main() -> std::process::ExitCode {
    support::harness::run(tests())
}

#[global_allocator]
static ALLOCATOR: support::process::Counting = support::process::Counting;

const ROUNDS: u16 = 12;
/// Lab hosts swept each round.
const HOSTS: u32 = 600;
/// Identifiers chosen anew each round: 12 rounds of 40 are 480, past the 256 a filter
/// holds.
const CHOSEN: u16 = 40;
/// Source addresses (and so sockets) opened and closed each round.
const SOURCES: u8 = 8;

/// The `n`-th extra source address of the client, on its link (203.0.113.0/24).
fn source(round: u16, n: u8) -> Ipv4Addr {
    Ipv4Addr::new(203, 0, 113, 100 + (round % 4) as u8 * 10 + n)
}

fn chosen_identifiers_and_sources_come_and_go_without_a_lost_reply() {
    let lab = Lab::new("churn");
    // Addresses for the sources, four rounds' worth, used again in turn.
    let batch: String = (0..4)
        .flat_map(|round| (0..SOURCES).map(move |n| source(round, n)))
        .map(|address| format!("addr add {address}/32 dev out\n"))
        .collect();
    lab.client.ip_batch(&batch);
    let hosts: Vec<String> = (1..=HOSTS)
        .map(|n| Lab::host(Family::V4, n).to_string())
        .collect();
    lab.client.block_on_multi(move || async move {
        let pinger = Pinger::builder().privileged(true).build();
        let sweep_options = MultipingOptions::default()
            .count(2)
            .interval(Duration::ZERO)
            .timeout(Duration::from_secs(2))
            .concurrent_tasks(200);
        let ping_options = PingOptions::default()
            .count(3)
            .interval(Duration::from_millis(5))
            .timeout(Duration::from_secs(2));
        let base = rand::random::<u16>() & 0x7fff;
        let mut warm = None;
        for round in 0..ROUNDS {
            // The sweep, and beside it the chosen identifiers and the other sources.
            let sweep = tokio::spawn({
                let (pinger, hosts, options) =
                    (pinger.clone(), hosts.clone(), sweep_options.clone());
                async move { pinger.multiping(&hosts, &options).await }
            });
            let chosen: Vec<_> = (0..CHOSEN)
                .map(|n| {
                    let id = base.wrapping_add(round * CHOSEN + n);
                    let target = Lab::host(Family::V4, 700 + u32::from(n)).to_string();
                    let (pinger, options) = (pinger.clone(), ping_options.clone().id(id));
                    tokio::spawn(async move { (id, pinger.ping(&target, &options).await) })
                })
                .collect();
            let sourced: Vec<_> = (0..SOURCES)
                .map(|n| {
                    let address = source(round, n);
                    let options = ping_options.clone();
                    tokio::spawn(async move {
                        let pinger = Pinger::builder()
                            .privileged(true)
                            .source(address.into())
                            .build();
                        let target = Lab::host(Family::V4, 900 + u32::from(n)).to_string();
                        (address, pinger.ping(&target, &options).await)
                    })
                })
                .collect();
            let swept = sweep.await.unwrap().unwrap();
            let lost: Vec<String> = swept
                .iter()
                .filter(|host| host.packets_received() != 2)
                .map(ToString::to_string)
                .collect();
            assert!(lost.is_empty(), "round {round}: {lost:?}");
            for ping in chosen {
                let (id, host) = ping.await.unwrap();
                let host = host.unwrap();
                assert_eq!(host.packets_received(), 3, "round {round}, id {id}: {host}");
            }
            for ping in sourced {
                let (address, host) = ping.await.unwrap();
                let host = host.unwrap();
                assert_eq!(
                    host.packets_received(),
                    3,
                    "round {round}, from {address}: {host}"
                );
            }
            assert_eq!(pinger.requests_in_flight(), 0, "round {round}");
            // The sources' engines close when their readers notice: waited for (up to
            // 5 s), so that a busy machine does not count them open.
            let settled = tokio::time::Instant::now() + Duration::from_secs(5);
            while open_files() > warm.map_or(usize::MAX, |(files, _, _)| files)
                && tokio::time::Instant::now() < settled
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            eprintln!(
                "round {round:2}: {} hosts, {} files, {} KiB resident, {} KiB live",
                swept.len(),
                open_files(),
                resident_kib(),
                live_kib()
            );
            if round == 2 {
                warm = Some((open_files(), live_kib(), resident_kib()));
            }
        }
        let (warm_files, warm_live, warm_resident) = warm.unwrap();
        let (files, live, resident) = (open_files(), live_kib(), resident_kib());
        assert!(
            files <= warm_files + 4,
            "{files} open files, {warm_files} once warm"
        );
        assert!(
            live <= warm_live + 256,
            "{live} KiB live, {warm_live} KiB once warm"
        );
        // Whole malloc arenas come and go with threads (~8 MiB each); a socket's read
        // buffers once cost 3.7 MB each, 8 a round.
        assert!(
            resident <= warm_resident + 16 * 1024,
            "{resident} KiB resident, {warm_resident} KiB once warm"
        );
    });
}
