//! The scheduler on engines over the fake transport, in paused virtual time: ping,
//! sweeps and traceroutes run deterministically, without privileges and without a
//! network. Their rules (deadlines, late and duplicate replies, reads a deadline asks for,
//! cancellation, concurrency, rate limit, blocked sends, failures, turns) are checked
//! here; sweeps on real packets are in `tests/`.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt;
use futures::task::{ArcWake, waker};
use tokio::time::Instant as VirtualInstant;

use super::*;
use crate::echo::{EchoJob, MultipingOptions};
use crate::engine::fake::{Answer, FakeTransport};
use crate::hop::Hop;
use crate::host::Host;
use crate::options::ProbeOptions;
use crate::scheduler::fake::FakeEngines;
use crate::trace::{TraceJob, TracerouteOptions};

const HOST: &str = "2001:db8::7";
const RTT: Duration = Duration::from_millis(30);

fn v6_only(fake: &FakeTransport) -> Arc<dyn Engines> {
    Arc::new(FakeEngines {
        v4: None,
        v6: Some(fake.engine()),
    })
}

/// A scheduler pinging `targets` as `options` say.
fn echo_scheduler<T: AsRef<str>>(
    engines: Arc<dyn Engines>,
    targets: Vec<T>,
    options: &MultipingOptions,
) -> Scheduler<std::vec::IntoIter<T>, EchoJob, impl FnMut(&T, IpAddr) -> EchoJob + use<T>> {
    options.check().unwrap();
    let settings = Settings::new(
        &options.probe,
        None,
        options.concurrent_tasks,
        options.rate_limit,
    );
    let probe = options.probe.clone();
    Scheduler::new(engines, None, settings, targets.into_iter(), move |_, _| {
        EchoJob::new(&probe)
    })
}

/// Pings each of `targets`; the hosts in input order.
async fn sweep(
    engines: Arc<dyn Engines>,
    targets: &[&str],
    options: &MultipingOptions,
) -> Vec<Host> {
    let mut finished: Vec<_> = echo_scheduler(engines, targets.to_vec(), options)
        .collect()
        .await;
    finished.sort_by_key(|finished| finished.index);
    finished
        .into_iter()
        .map(|finished| match finished.result {
            Ok(host) => host,
            Err(failed) => Host::new(finished.target, 0, Vec::new()).with_error(Some(failed.error)),
        })
        .collect()
}

/// Pings `target` as `probe` says.
async fn ping(engines: Arc<dyn Engines>, probe: ProbeOptions) -> Host {
    let options = MultipingOptions::from(probe);
    sweep(engines, &[HOST], &options).await.remove(0)
}

fn probe(count: usize) -> ProbeOptions {
    ProbeOptions::default()
        .count(count)
        .interval(Duration::from_millis(500))
        .timeout(Duration::from_secs(2))
}

fn assert_rtts_near(host: &Host, rtt: Duration) {
    let expected = rtt.as_secs_f64() * 1000.0;
    for measured in host.rtts() {
        assert!(
            (*measured - expected).abs() < 1.0,
            "{measured} ms, expected {expected} ms: {host}"
        );
    }
}

/// 1,000 hosts answering at once, 100 in flight.
async fn quick_sweep(fake: &FakeTransport) -> Vec<Host> {
    fake.echo(Duration::ZERO);
    let targets: Vec<String> = (1..=1_000).map(|n| format!("2001:db8::{n:x}")).collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let options = MultipingOptions::default()
        .count(1)
        .timeout(Duration::from_secs(1))
        .concurrent_tasks(100);
    sweep(v6_only(fake), &targets, &options).await
}

#[tokio::test(start_paused = true)]
async fn a_sweep_reads_the_answers_of_its_requests_on_its_own_task() {
    let fake = FakeTransport::raw_v6();
    let hosts = quick_sweep(&fake).await;
    assert!(hosts.iter().all(Host::is_alive));
    // The reader task reads only what a turn left behind when it ended.
    assert!(
        fake.read_inline() > 500,
        "{} read inline",
        fake.read_inline()
    );
}

#[tokio::test(start_paused = true)]
async fn a_sweep_is_answered_when_only_the_reader_reads() {
    let fake = FakeTransport::raw_v6();
    fake.reader_only();
    let hosts = quick_sweep(&fake).await;
    assert!(hosts.iter().all(Host::is_alive));
    assert_eq!(fake.read_inline(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_ping_counts_every_reply_with_its_round_trip_time() {
    let fake = FakeTransport::raw_v6();
    fake.echo(RTT);
    let host = ping(v6_only(&fake), probe(3)).await;
    assert_eq!((host.packets_sent(), host.packets_received()), (3, 3));
    assert_rtts_near(&host, RTT);
    assert!(host.error().is_none());
    assert_eq!(host.address(), HOST);
}

#[tokio::test(start_paused = true)]
async fn requests_follow_each_other_an_interval_after_the_reply() {
    let fake = FakeTransport::raw_v6();
    fake.echo(RTT);
    ping(v6_only(&fake), probe(3)).await;
    let sent = fake.sent();
    assert_eq!(sent.len(), 3);
    for pair in sent.windows(2) {
        assert_eq!(pair[1].at - pair[0].at, RTT + Duration::from_millis(500));
    }
    // Each request has a sequence number of its own.
    assert!(sent[0].request.sequence() != sent[1].request.sequence());
}

#[tokio::test(start_paused = true)]
async fn a_silent_host_times_out_each_request_in_turn() {
    let fake = FakeTransport::raw_v6();
    let start = VirtualInstant::now();
    let host = ping(v6_only(&fake), probe(2)).await;
    // Timeout, interval, timeout.
    assert_eq!(start.elapsed(), Duration::from_millis(4_500));
    assert_eq!((host.packets_sent(), host.packets_received()), (2, 0));
    assert!(host.error().is_none(), "a timeout is a loss, not an error");
    assert_eq!(host.packet_loss(), 1.0);
}

#[tokio::test(start_paused = true)]
async fn a_reply_after_the_timeout_is_not_counted_nor_taken_for_the_next_request() {
    let fake = FakeTransport::raw_v6();
    // The first reply comes 2.4 s late (after the second request left), the second in time.
    let first = Arc::new(AtomicUsize::new(0));
    fake.script(move |request| {
        let late = first.fetch_add(1, Ordering::SeqCst) == 0;
        let rtt = if late {
            Duration::from_millis(2_400)
        } else {
            RTT
        };
        vec![Answer::reply(request, rtt)]
    });
    let host = ping(v6_only(&fake), probe(2).interval(Duration::ZERO)).await;
    assert_eq!((host.packets_sent(), host.packets_received()), (2, 1));
    assert_rtts_near(&host, RTT);
}

#[tokio::test(start_paused = true)]
async fn a_reply_the_reader_did_not_notice_before_the_deadline_still_counts() {
    let fake = FakeTransport::raw_v6();
    fake.script(|request| vec![Answer::reply(request, RTT).unnoticed()]);
    let start = VirtualInstant::now();
    let host = ping(v6_only(&fake), probe(2)).await;
    assert_eq!((host.packets_sent(), host.packets_received()), (2, 2));
    // Each was read only when its deadline asked for it, and counts with its arrival.
    assert_rtts_near(&host, RTT);
    assert_eq!(start.elapsed(), Duration::from_millis(4_500));
}

/// Ends the test process if the test is still running after `seconds` of real time: a
/// hang in paused time (a busy runtime never lets virtual time advance) fails this way.
struct Watchdog(Arc<std::sync::atomic::AtomicBool>);

impl Watchdog {
    fn new(seconds: u64) -> Watchdog {
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watched = Arc::clone(&done);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(seconds));
            if !watched.load(Ordering::SeqCst) {
                eprintln!("a test hung for {seconds} s");
                std::process::exit(101);
            }
        });
        Watchdog(done)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn a_flood_faster_than_the_reader_does_not_hold_a_deadline_forever() {
    let _watchdog = Watchdog::new(60);
    let fake = FakeTransport::raw_v6();
    let flooding = fake.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1_900)).await;
        flooding.flood(true);
    });
    let host = ping(v6_only(&fake), probe(1)).await;
    assert_eq!((host.packets_sent(), host.packets_received()), (1, 0));
    fake.flood(false);
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_reply_counts_once() {
    let fake = FakeTransport::raw_v6();
    fake.script(|request| vec![Answer::reply(request, RTT), Answer::reply(request, RTT * 2)]);
    let host = ping(v6_only(&fake), probe(3)).await;
    assert_eq!((host.packets_sent(), host.packets_received()), (3, 3));
    assert_rtts_near(&host, RTT);
    // Counted as duplicates: each of the first two. The last one's would come after the
    // ping is over: it is not looked for.
    assert_eq!(host.duplicates(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_reply_with_another_payload_does_not_count() {
    let fake = FakeTransport::raw_v6();
    fake.script(|request| vec![Answer::reply_with(request, b"not ours", RTT)]);
    let host = ping(v6_only(&fake), probe(2)).await;
    assert_eq!((host.packets_sent(), host.packets_received()), (2, 0));
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_destination_is_the_hosts_error_not_a_timeout() {
    let router: IpAddr = "2001:db8:ff::1".parse().unwrap();
    let fake = FakeTransport::raw_v6();
    fake.script(move |request| vec![Answer::v6_error(request, router, 1, 3, RTT)]);
    let start = VirtualInstant::now();
    let host = ping(v6_only(&fake), probe(1)).await;
    assert!(start.elapsed() < Duration::from_secs(1), "not a timeout");
    assert_eq!((host.packets_sent(), host.packets_received()), (1, 0));
    assert!(matches!(
        host.error(),
        Some(Error::DestinationUnreachable { code: 3, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn dropping_a_ping_forgets_its_requests() {
    let fake = FakeTransport::raw_v6();
    let engine = fake.engine();
    let engines: Arc<dyn Engines> = Arc::new(FakeEngines {
        v4: None,
        v6: Some(engine.clone()),
    });
    let options = MultipingOptions::from(probe(3));
    let mut scheduler = echo_scheduler(engines, vec![HOST, "2001:db8::8"], &options);
    let polled = tokio::time::timeout(Duration::from_millis(100), scheduler.next()).await;
    assert!(polled.is_err(), "still waiting");
    assert_eq!(engine.in_flight(), 2);
    drop(scheduler);
    assert_eq!(engine.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_sweep_holds_at_most_its_concurrency_in_flight_and_keeps_input_order() {
    let fake = FakeTransport::raw_v6();
    fake.echo(RTT);
    let targets: Vec<String> = (1..=10).map(|i| format!("2001:db8::{i}")).collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let options = MultipingOptions::from(probe(1)).concurrent_tasks(3);
    let start = clock::now();
    let hosts = sweep(v6_only(&fake), &targets, &options).await;
    let addresses: Vec<&str> = hosts.iter().map(Host::address).collect();
    assert_eq!(addresses, targets);
    assert!(hosts.iter().all(Host::is_alive));
    // Three at a time: each wave leaves when the one before was answered.
    let waves: Vec<u128> = fake
        .sent()
        .iter()
        .map(|sent| (sent.at - start).as_millis() / RTT.as_millis())
        .collect();
    assert_eq!(waves, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn the_rate_limit_spaces_the_requests_of_the_whole_call() {
    let fake = FakeTransport::raw_v6();
    fake.echo(RTT);
    let targets = ["2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4"];
    let options = MultipingOptions::from(probe(2).interval(Duration::ZERO))
        .concurrent_tasks(100)
        .rate_limit(100);
    let hosts = sweep(v6_only(&fake), &targets, &options).await;
    assert!(hosts.iter().all(|host| host.packets_received() == 2));
    let sent = fake.sent();
    assert_eq!(sent.len(), 8);
    for pair in sent.windows(2) {
        assert!(pair[1].at - pair[0].at >= Duration::from_millis(10));
    }
}

#[tokio::test(start_paused = true)]
async fn a_send_that_fails_is_the_hosts_error_and_the_sweep_goes_on() {
    let fake = FakeTransport::raw_v6();
    fake.echo(RTT);
    fake.unreachable("2001:db8::2".parse().unwrap());
    let options = MultipingOptions::from(probe(2));
    let hosts = sweep(v6_only(&fake), &["2001:db8::1", "2001:db8::2"], &options).await;
    assert_eq!(hosts[0].packets_received(), 2);
    assert_eq!(
        (hosts[1].packets_sent(), hosts[1].packets_received()),
        (0, 0)
    );
    assert!(matches!(hosts[1].error(), Some(Error::Socket(_))));
}

#[tokio::test(start_paused = true)]
async fn a_failure_of_the_engine_is_the_error_of_the_hosts_waiting_on_it() {
    let fake = FakeTransport::raw_v6();
    let options = MultipingOptions::from(probe(1));
    let engines = v6_only(&fake);
    let scheduler = echo_scheduler(engines, vec![HOST, "2001:db8::8"], &options);
    let failing = fake.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        failing.fail(std::io::ErrorKind::ConnectionReset);
    });
    let start = VirtualInstant::now();
    let finished: Vec<_> = scheduler.collect().await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "not their timeout"
    );
    for finished in finished {
        let host = finished.result.expect("probed");
        assert!(matches!(host.error(), Some(Error::Socket(_))), "{host}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_target_whose_family_cannot_be_opened_fails_on_its_own() {
    let fake = FakeTransport::raw_v6();
    fake.echo(RTT);
    let options = MultipingOptions::from(probe(1));
    let hosts = sweep(v6_only(&fake), &["192.0.2.1", HOST], &options).await;
    assert!(matches!(
        hosts[0].error(),
        Some(Error::SocketPermission { .. })
    ));
    assert!(hosts[1].is_alive());
}

#[tokio::test(start_paused = true)]
async fn a_blocked_send_times_out_from_when_it_left() {
    let fake = FakeTransport::raw_v6();
    fake.echo(Duration::from_millis(1_500));
    fake.set_full(true);
    let unblocking = fake.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        unblocking.set_full(false);
    });
    let host = ping(v6_only(&fake), probe(1)).await;
    // Launched at 0, left at 5 s, answered 1.5 s later: within its 2 s.
    assert_eq!((host.packets_sent(), host.packets_received()), (1, 1));
    assert_rtts_near(&host, Duration::from_millis(1_500));
}

#[tokio::test(start_paused = true)]
async fn more_than_65_536_requests_to_one_address_all_leave_on_a_raw_socket() {
    let fake = FakeTransport::raw_v6();
    fake.echo(RTT);
    let targets = vec![HOST; 70_000];
    let options = MultipingOptions::from(probe(1)).concurrent_tasks(100_000);
    let hosts = sweep(v6_only(&fake), &targets, &options).await;
    assert!(hosts.iter().all(Host::is_alive));
    assert_eq!(fake.sent().len(), 70_000);
}

#[tokio::test(start_paused = true)]
async fn requests_beyond_65_536_to_one_address_fail_at_once_on_a_datagram_socket() {
    let fake = FakeTransport::datagram_v4();
    let engines: Arc<dyn Engines> = Arc::new(FakeEngines {
        v4: Some(fake.engine()),
        v6: None,
    });
    let targets = vec!["192.0.2.7"; 65_540];
    let options =
        MultipingOptions::from(probe(1).timeout(Duration::from_secs(10))).concurrent_tasks(100_000);
    let start = VirtualInstant::now();
    let hosts = sweep(engines, &targets, &options).await;
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    let refused: Vec<&Host> = hosts
        .iter()
        .filter(|host| matches!(host.error(), Some(Error::InvalidOption { .. })))
        .collect();
    assert_eq!(refused.len(), 4);
    assert!(refused.iter().all(|host| host.packets_sent() == 0));
    assert_eq!(fake.sent().len(), 65_536);
}

/// An answer per probe of a trace to `HOST` through routers `2001:db8:ff::TTL`: Time
/// Exceeded below `hops`, the echo reply at `hops`; silent at the TTLs in `silent`.
fn chain(fake: &FakeTransport, hops: u8, silent: &'static [u8]) {
    fake.script(move |request| {
        let ttl = request.ttl();
        if silent.contains(&ttl) {
            return Vec::new();
        }
        if ttl >= hops {
            return vec![Answer::reply(request, RTT)];
        }
        let router = format!("2001:db8:ff::{ttl}").parse().unwrap();
        vec![Answer::time_exceeded(request, router, RTT)]
    });
}

async fn trace(engines: Arc<dyn Engines>, options: &TracerouteOptions) -> Result<Vec<Hop>> {
    options.check().unwrap();
    let settings = Settings::new(&options.probe, None, 1, None);
    let mut scheduler = Scheduler::new(engines, None, settings, std::iter::once(HOST), |_, _| {
        TraceJob::new(options)
    });
    let finished = scheduler.next().await.unwrap();
    assert!(scheduler.next().await.is_none());
    finished.result.map_err(|failed| failed.error)?
}

fn hops(hops: &[Hop]) -> Vec<(u8, String, usize, usize)> {
    hops.iter()
        .map(|hop| {
            (
                hop.distance(),
                hop.address().to_string(),
                hop.packets_sent(),
                hop.packets_received(),
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_traceroute_finds_each_router_in_turn_and_stops_at_the_host() {
    let fake = FakeTransport::raw_v6();
    chain(&fake, 4, &[2]);
    let options = TracerouteOptions::default().count(2);
    let trace = trace(v6_only(&fake), &options).await.unwrap();
    assert_eq!(
        hops(&trace),
        [
            (1, "2001:db8:ff::1".into(), 2, 2),
            (3, "2001:db8:ff::3".into(), 2, 2),
            (4, HOST.into(), 2, 2),
        ]
    );
    // Nothing probed past the host; the silent distance had its two probes.
    let ttls: Vec<u8> = fake.sent().iter().map(|sent| sent.request.ttl()).collect();
    assert_eq!(ttls, [1, 1, 2, 2, 3, 3, 4, 4]);
}

#[tokio::test(start_paused = true)]
async fn a_fast_traceroute_moves_on_after_one_answer() {
    let fake = FakeTransport::raw_v6();
    chain(&fake, 3, &[]);
    let options = TracerouteOptions::default().count(3).fast(true);
    let trace = trace(v6_only(&fake), &options).await.unwrap();
    assert_eq!(trace.len(), 3);
    assert!(trace.iter().all(|hop| hop.packets_sent() == 1));
}

#[tokio::test(start_paused = true)]
async fn a_parallel_traceroute_takes_about_one_timeout_whatever_is_silent() {
    let fake = FakeTransport::raw_v6();
    chain(&fake, 5, &[2, 3]);
    let options = TracerouteOptions::default()
        .count(2)
        .max_hops(8)
        .interval(Duration::from_millis(50))
        .parallel(true);
    let start = VirtualInstant::now();
    let trace = trace(v6_only(&fake), &options).await.unwrap();
    // The second round leaves 50 ms after the first; the silent probes time out 2 s later.
    assert_eq!(start.elapsed(), Duration::from_millis(2_050));
    assert_eq!(
        hops(&trace),
        [
            (1, "2001:db8:ff::1".into(), 2, 2),
            (4, "2001:db8:ff::4".into(), 2, 2),
            (5, HOST.into(), 2, 2),
        ]
    );
    assert_eq!(fake.sent().len(), 16, "every distance, twice");
}

#[tokio::test(start_paused = true)]
async fn a_traceroute_whose_probes_all_fail_to_leave_is_an_error() {
    let fake = FakeTransport::raw_v6();
    fake.unreachable(HOST.parse().unwrap());
    let options = TracerouteOptions::default().max_hops(3);
    let result = trace(v6_only(&fake), &options).await;
    assert!(matches!(result, Err(Error::Socket(_))), "{result:?}");
}

#[derive(Default)]
struct Wakes(AtomicUsize);

impl ArcWake for Wakes {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Polls `scheduler` until it ends; returns what finished and the length of each run of
/// results between two `Pending`s, checking that each `Pending` woke the task (a turn ends
/// awake).
fn runs<S: Stream + Unpin>(mut scheduler: S) -> (Vec<S::Item>, Vec<usize>) {
    let wakes = Arc::new(Wakes::default());
    let waker = waker(Arc::clone(&wakes));
    let mut cx = Context::from_waker(&waker);
    let (mut items, mut runs, mut run) = (Vec::new(), Vec::new(), 0);
    loop {
        match scheduler.poll_next_unpin(&mut cx) {
            Poll::Ready(Some(item)) => {
                items.push(item);
                run += 1;
            }
            Poll::Ready(None) => break,
            Poll::Pending => {
                assert_eq!(wakes.0.swap(0, Ordering::Relaxed), 1, "a turn ends awake");
                runs.push(std::mem::take(&mut run));
            }
        }
    }
    runs.push(run);
    (items, runs)
}

/// IPv4 addresses with the family forced to IPv6: each target fails as it is taken,
/// without an engine.
fn failing_scheduler(
    hosts: usize,
    concurrency: usize,
) -> Scheduler<std::vec::IntoIter<String>, EchoJob, impl FnMut(&String, IpAddr) -> EchoJob> {
    let options = MultipingOptions::from(probe(1).family(Family::V6)).concurrent_tasks(concurrency);
    let engines: Arc<dyn Engines> = Arc::new(FakeEngines { v4: None, v6: None });
    let targets = (0..hosts).map(|i| format!("192.0.2.{}", i % 250)).collect();
    echo_scheduler(engines, targets, &options)
}

#[test]
fn targets_taken_and_finished_share_one_turn() {
    // Each target is taken, then handed out: two units of work.
    let (finished, runs) = runs(failing_scheduler(1_000, 10_000));
    assert!(runs.iter().all(|&run| run <= PER_TURN / 2), "{runs:?}");
    assert!(runs.len() >= 1_000 * 2 / PER_TURN, "{runs:?}");
    assert_eq!(finished.len(), 1_000);
    // Every target once, each with its error.
    let mut indexes: Vec<usize> = finished.iter().map(|finished| finished.index).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..1_000).collect::<Vec<_>>());
    for finished in &finished {
        assert_eq!(finished.target, format!("192.0.2.{}", finished.index % 250));
        let failed = finished.result.as_ref().unwrap_err();
        assert!(matches!(failed.error, Error::InvalidOption { .. }));
    }
}

#[test]
fn no_more_than_concurrency_targets_are_held() {
    // With room for 3, a scheduler takes 3 targets, hands them out, then takes 3 more.
    let (finished, runs) = runs(failing_scheduler(10, 3));
    assert_eq!(finished.len(), 10);
    assert_eq!(runs, [10], "no turn is used up");
    let order: Vec<usize> = finished.iter().map(|finished| finished.index).collect();
    assert_eq!(order, (0..10).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn probes_sent_at_once_take_turns_with_the_other_tasks() {
    let fake = FakeTransport::raw_v6();
    // A parallel trace of 255 distances, 4 rounds, nothing between them: 1,020 probes.
    let options = TracerouteOptions::default()
        .count(4)
        .max_hops(255)
        .interval(Duration::ZERO)
        .timeout(Duration::from_millis(100))
        .parallel(true);
    // A neighbour task notes how many probes had left each time it got a turn.
    let watched = fake.clone();
    let neighbour = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..100_000 {
            let sent = watched.sent().len();
            seen.push(sent);
            if sent == 1_020 {
                break;
            }
            tokio::task::yield_now().await;
        }
        seen
    });
    trace(v6_only(&fake), &options).await.unwrap();
    let seen = neighbour.await.unwrap();
    assert_eq!(seen.last(), Some(&1_020));
    let most = seen.windows(2).map(|pair| pair[1] - pair[0]).max();
    assert!(most.is_some_and(|most| most <= PER_TURN), "{seen:?}");
}

/// Memory grows with the targets in flight: each is one of these in the slab.
#[test]
fn a_host_in_flight_costs_less_than_256_bytes() {
    let size = std::mem::size_of::<Flight<String, EchoJob>>();
    assert!(size < 256, "{size} bytes");
}
