//! The continuous trace on the fake transport, in paused time: rounds, per-hop figures,
//! loss at one hop only, the horizon following the path, rounds that overlap.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::engine::fake::{Answer, FakeTransport};
use crate::scheduler::fake::FakeEngines;
use crate::scheduler::{Engines, Settings, Step};

const HOST: &str = "2001:db8::7";
const RTT: Duration = Duration::from_millis(30);

fn engines(fake: &FakeTransport) -> Arc<dyn Engines> {
    Arc::new(FakeEngines {
        v4: None,
        v6: Some(fake.engine()),
    })
}

/// Routers 2001:db8:ff::1, ::2, … then the host at distance `hops`; router `lossy` drops
/// every other probe that expires there.
fn path(fake: &FakeTransport, hops: u8, lossy: u8) {
    let expiring = Arc::new(AtomicUsize::new(0));
    fake.script(move |request| {
        let ttl = request.ttl();
        if ttl >= hops {
            return vec![Answer::reply(request, RTT)];
        }
        if ttl == lossy && expiring.fetch_add(1, Ordering::Relaxed) % 2 == 1 {
            return Vec::new();
        }
        let router = format!("2001:db8:ff::{ttl}").parse().unwrap();
        vec![Answer::time_exceeded(request, router, RTT)]
    });
}

/// Every event of a trace of `options`, to its end (which must come without an error).
async fn events(fake: &FakeTransport, options: &RouteWatchOptions) -> Vec<RouteEvent> {
    let (events, end) = events_and_end(fake, options, |_, _| {}).await;
    end.unwrap();
    events
}

/// Every event of a trace of `options`, to its end, and how it ended; `meanwhile` is
/// told each event as it comes.
async fn events_and_end(
    fake: &FakeTransport,
    options: &RouteWatchOptions,
    mut meanwhile: impl FnMut(&FakeTransport, &RouteEvent),
) -> (Vec<RouteEvent>, crate::error::Result<()>) {
    options.check().unwrap();
    let settings = Settings::new(&options.probe, None, 1, None);
    let options = options.clone();
    let mut scheduler = Scheduler::new(
        engines(fake),
        None,
        settings,
        std::iter::once(HOST),
        move |_, _| RouteJob::new(&options),
    );
    let mut events = Vec::new();
    let mut end = Ok(());
    while let Some(step) = futures::future::poll_fn(|cx| scheduler.poll_step(cx)).await {
        match step {
            Step::Event(event) => {
                meanwhile(fake, &event);
                events.push(event);
            }
            Step::Finished(finished) => {
                end = finished.result.map_err(|failed| failed.error);
            }
        }
    }
    (events, end)
}

fn rounds(events: &[RouteEvent]) -> Vec<&RouteRound> {
    events
        .iter()
        .filter_map(|event| match event {
            RouteEvent::Round(round) => Some(round),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn ten_rounds_give_every_hops_figures_and_loss_at_one_hop_only() {
    let fake = FakeTransport::raw_v6();
    path(&fake, 4, 2);
    let options = RouteWatchOptions::default()
        .rounds(Some(10))
        .max_hops(8)
        .timeout(Duration::from_millis(500));
    let events = events(&fake, &options).await;
    let rounds = rounds(&events);
    assert_eq!(rounds.len(), 10);
    assert_eq!(
        rounds.iter().map(|round| round.round()).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    assert!(rounds.iter().all(|round| round.reached() == Some(4)));
    let last = rounds[9];
    assert_eq!(last.hops().len(), 4, "up to the host");
    let figures: Vec<(u8, u64, u64)> = last
        .hops()
        .iter()
        .map(|hop| (hop.distance(), hop.sent(), hop.received()))
        .collect();
    assert_eq!(figures, [(1, 10, 10), (2, 10, 5), (3, 10, 10), (4, 10, 10)]);
    assert_eq!(last.hops()[1].loss(), 0.5);
    let host: IpAddr = HOST.parse().unwrap();
    assert_eq!(last.hops()[3].responders()[0].address, host);
    for hop in last.hops() {
        let avg = hop.avg().unwrap();
        assert!((avg - 30.0).abs() < 1.0, "{avg}");
    }
    // The first round probed up to max_hops (8 distances), the others up to the host.
    let probes = events
        .iter()
        .filter(|event| matches!(event, RouteEvent::Reply { .. } | RouteEvent::Lost { .. }))
        .count();
    assert_eq!(probes, 8 + 9 * 4);
    // Rounds one interval (1 s) apart.
    let sent = fake.sent();
    let first = sent[0].at;
    let round_starts: Vec<Duration> = sent
        .iter()
        .filter(|sent| sent.request.ttl() == 1)
        .map(|sent| sent.at.saturating_duration_since(first))
        .collect();
    assert_eq!(round_starts.len(), 10);
    for (round, start) in round_starts.iter().enumerate() {
        let expected = Duration::from_secs(round as u64);
        assert!(
            start.abs_diff(expected) < Duration::from_millis(5),
            "{round}: {start:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn rounds_overlap_when_a_silent_hop_waits_longer_than_the_interval() {
    let fake = FakeTransport::raw_v6();
    // Distance 2 never answers: each round waits 3 s for it, rounds leave 1 s apart.
    fake.script(|request| match request.ttl() {
        2 => Vec::new(),
        ttl if ttl >= 3 => vec![Answer::reply(request, RTT)],
        _ => vec![Answer::time_exceeded(
            request,
            "2001:db8:ff::1".parse().unwrap(),
            RTT,
        )],
    });
    let options = RouteWatchOptions::default()
        .rounds(Some(6))
        .max_hops(3)
        .timeout(Duration::from_secs(3));
    let start = tokio::time::Instant::now();
    let events = events(&fake, &options).await;
    let rounds = rounds(&events);
    assert_eq!(rounds.len(), 6);
    assert_eq!(rounds[5].hops()[1].loss(), 1.0);
    // Six rounds 1 s apart, the last settled 3 s after it left: 8 s, not 6 × 3.
    let took = start.elapsed();
    assert!(took < Duration::from_millis(8_100), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn a_path_that_grows_is_followed_past_the_old_end() {
    let fake = FakeTransport::raw_v6();
    // The host is at distance 2 for the first three rounds, then at distance 4.
    let rounds_seen = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&rounds_seen);
    fake.script(move |request| {
        let ttl = request.ttl();
        if ttl == 1 {
            seen.fetch_add(1, Ordering::Relaxed);
        }
        let end = if seen.load(Ordering::Relaxed) <= 3 {
            2
        } else {
            4
        };
        if ttl >= end {
            return vec![Answer::reply(request, RTT)];
        }
        let router = format!("2001:db8:ff::{ttl}").parse().unwrap();
        vec![Answer::time_exceeded(request, router, RTT)]
    });
    let options = RouteWatchOptions::default()
        .rounds(Some(8))
        .max_hops(6)
        .timeout(Duration::from_millis(500));
    let events = events(&fake, &options).await;
    let reached: Vec<Option<u8>> = rounds(&events)
        .iter()
        .map(|round| round.reached())
        .collect();
    // Rounds 3 on meet the longer path: round 3 probes only up to 2 and finds no end, so
    // round 4 probes up to max_hops again and finds it at 4.
    assert_eq!(
        reached,
        [
            Some(2),
            Some(2),
            Some(2),
            None,
            Some(4),
            Some(4),
            Some(4),
            Some(4)
        ]
    );
    let last = rounds(&events)[7];
    assert_eq!(last.hops().len(), 4);
    // The host answered probes past distance 2 in round 0 (TTL to spare): left out, as
    // mtr leaves them out. Distance 2 was the host's for three rounds, then a router's.
    let host: IpAddr = HOST.parse().unwrap();
    let seen = |distance: usize| -> Vec<(IpAddr, u64)> {
        last.hops()[distance - 1]
            .responders()
            .iter()
            .map(|responder| (responder.address, responder.received))
            .collect()
    };
    let router = |n: u8| -> IpAddr { format!("2001:db8:ff::{n}").parse().unwrap() };
    assert_eq!(seen(2), [(host, 3), (router(2), 5)]);
    assert_eq!(seen(3), [(router(3), 4)]);
    assert_eq!(seen(4), [(host, 4)]);
}

#[tokio::test(start_paused = true)]
async fn a_socket_that_fails_ends_the_trace_with_its_error() {
    let fake = FakeTransport::raw_v6();
    path(&fake, 3, 0);
    let options = RouteWatchOptions::default()
        .rounds(None)
        .max_hops(3)
        .timeout(Duration::from_millis(500));
    // The socket breaks once the second round is handed out.
    let (events, end) = events_and_end(&fake, &options, |fake, event| {
        if let RouteEvent::Round(round) = event
            && round.round() == 1
        {
            fake.fail(std::io::ErrorKind::ConnectionReset);
        }
    })
    .await;
    assert!(end.is_err(), "{end:?}");
    let rounds = rounds(&events);
    assert!(
        rounds.len() <= 3,
        "no round after the failure but the one under way"
    );
}

#[tokio::test(start_paused = true)]
async fn flows_are_kept_apart_in_the_responders() {
    let fake = FakeTransport::raw_v6();
    path(&fake, 3, 0);
    let options = RouteWatchOptions::default()
        .rounds(Some(2))
        .max_hops(3)
        .flows(4)
        .timeout(Duration::from_millis(500));
    let events = events(&fake, &options).await;
    let last = rounds(&events)[1];
    assert_eq!(last.hops()[0].sent(), 8, "2 rounds × 4 flows");
    assert_eq!(last.hops()[0].responders()[0].flows, [0, 1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn the_last_ttl_ends_a_round() {
    let fake = FakeTransport::raw_v6();
    // Nothing answers: every round probes up to 255, and no further.
    fake.script(|_| Vec::new());
    let options = RouteWatchOptions::default()
        .rounds(Some(2))
        .first_hop(250)
        .max_hops(255)
        .timeout(Duration::from_millis(100));
    let events = events(&fake, &options).await;
    let rounds = rounds(&events);
    assert_eq!(rounds.len(), 2);
    assert!(rounds.iter().all(|round| round.reached().is_none()));
    assert_eq!(rounds[1].hops().len(), 6);
    assert_eq!(fake.sent().len(), 12);
}
