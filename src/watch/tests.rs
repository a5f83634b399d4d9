//! The watch on engines over the fake transport, in paused virtual time: how it shares
//! its runtime under a flood of events, how its targets change, where they sit in the
//! period, what its handle says once it ended, and a watch that cannot open its socket.
//! Watches on real packets are in `tests/`.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use proptest::prelude::*;

use super::job::WatchJob;
use super::*;
use crate::engine::fake::FakeTransport;
use crate::error::Error;
use crate::pinger::prepare;
use crate::scheduler::Engines;
use crate::scheduler::fake::FakeEngines;

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Engines with an IPv6 transport only.
fn v6(fake: &FakeTransport) -> Arc<dyn Engines> {
    Arc::new(FakeEngines {
        v4: None,
        v6: Some(fake.engine()),
    })
}

/// A watch of `targets` on `engines`, as `Pinger::watch` makes one.
fn watch_on(
    engines: Arc<dyn Engines>,
    options: &WatchOptions,
    targets: impl IntoIterator<Item = String>,
) -> Result<(WatchHandle, Watch)> {
    // The targets are IPv6: the socket opened at once is IPv6's.
    let options = options.clone().family(crate::Family::V6);
    let rules = options.rules(clock::now())?;
    let call = prepare(plan(&options), engines, None, true, None)?;
    Ok(Watch::start(vec![call], rules, targets))
}

/// The `n`-th documentation address.
fn address(n: usize) -> String {
    Ipv6Addr::from((0x2001_0db8_u128 << 96) | n as u128).to_string()
}

fn addresses(count: usize) -> Vec<String> {
    (1..=count).map(address).collect()
}

/// Drives the watch for `time` of virtual time, counting its events.
async fn run(watch: &mut Watch, time: Duration) -> usize {
    let end = tokio::time::Instant::now() + time;
    let mut events = 0;
    while let Ok(Some(_)) = tokio::time::timeout_at(end, watch.next()).await {
        events += 1;
    }
    events
}

/// The destinations of the requests that left at or after `since`.
fn probed_since(fake: &FakeTransport, since: std::time::Instant) -> BTreeSet<String> {
    fake.sent()
        .iter()
        .filter(|sent| sent.at >= since)
        .map(|sent| sent.request.destination().to_string())
        .collect()
}

/// 20,000 targets due within the same millisecond, answered at once: each burst is
/// 20,000 events or more ready without a pause. The watch gives the thread back at least every
/// 256 events (tokio's budget is 128), so a neighbour task runs all along; before, it
/// ran only between bursts.
#[tokio::test(start_paused = true)]
async fn a_flood_of_events_leaves_turns_to_other_tasks_and_timers() {
    let fake = FakeTransport::raw_v6();
    fake.echo(Duration::ZERO);
    let options = WatchOptions::default().period(ms(1)).timeout(ms(500));
    let (handle, mut watch) = watch_on(v6(&fake), &options, addresses(20_000)).unwrap();
    let turns = Arc::new(AtomicUsize::new(0));
    let ticks = Arc::new(AtomicUsize::new(0));
    // Ready after each event (a task that was always ready would keep the paused clock
    // from moving): it runs whenever the consumer gives the thread back.
    let ready = Arc::new(tokio::sync::Notify::new());
    let neighbour = tokio::spawn({
        let (turns, ready) = (Arc::clone(&turns), Arc::clone(&ready));
        async move {
            loop {
                ready.notified().await;
                turns.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let timer = tokio::spawn({
        let ticks = Arc::clone(&ticks);
        async move {
            let mut interval = tokio::time::interval(ms(1));
            loop {
                interval.tick().await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let start = tokio::time::Instant::now();
    let (mut events, mut run, mut longest) = (0, 0, 0);
    let mut seen = turns.load(Ordering::Relaxed);
    while events < 100_000 {
        let Some(_) = watch.next().await else {
            panic!("the watch ended");
        };
        events += 1;
        ready.notify_one();
        let now = turns.load(Ordering::Relaxed);
        run = if now == seen { run + 1 } else { 0 };
        longest = longest.max(run);
        seen = now;
    }
    let elapsed = tokio::time::Instant::now() - start;
    assert!(
        longest <= 256,
        "{longest} events in a row without the neighbour"
    );
    assert!(turns.load(Ordering::Relaxed) >= events / 256);
    // The timer ticked with the virtual clock, each millisecond it passed (or nearly).
    let millis = usize::try_from(elapsed.as_millis()).unwrap();
    assert!(millis >= 4, "{millis} ms for {events} events");
    assert!(
        ticks.load(Ordering::Relaxed) >= millis,
        "{ticks:?} ticks in {millis} ms"
    );
    handle.stop();
    neighbour.abort();
    timer.abort();
}

/// What a watch is asked to do with its targets, by index among eight names.
#[derive(Debug, Clone)]
enum Change {
    Add(usize),
    Remove(usize),
    Replace(Vec<usize>),
    /// Let the watch run a while.
    Run,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (0..8usize).prop_map(Change::Add),
        (0..8usize).prop_map(Change::Remove),
        proptest::collection::vec(0..8usize, 0..5).prop_map(Change::Replace),
        Just(Change::Run),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the adds, removes and replaces, in any order and however they interleave
    /// with the watch's own turns: the handle shows exactly the targets last asked for at
    /// once, and a period later exactly those are probed.
    #[test]
    fn the_targets_are_those_last_asked_for(
        initial in proptest::collection::vec(0..8usize, 0..4),
        changes in proptest::collection::vec(change(), 0..40),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let fake = FakeTransport::raw_v6();
            fake.echo(ms(2));
            let options = WatchOptions::default().period(ms(100)).timeout(ms(50));
            let initial: Vec<String> = initial.iter().map(|n| address(*n)).collect();
            let mut model: BTreeSet<String> = initial.iter().cloned().collect();
            let (handle, mut watch) = watch_on(v6(&fake), &options, initial).unwrap();
            for change in changes {
                match change {
                    Change::Add(n) => {
                        handle.add(address(n));
                        model.insert(address(n));
                    }
                    Change::Remove(n) => {
                        handle.remove(address(n));
                        model.remove(&address(n));
                    }
                    Change::Replace(names) => {
                        let names: Vec<String> = names.iter().map(|n| address(*n)).collect();
                        handle.replace(names.clone());
                        model = names.into_iter().collect();
                    }
                    Change::Run => {
                        run(&mut watch, ms(30)).await;
                    }
                }
                let shown: BTreeSet<String> = handle.targets().into_iter().collect();
                assert_eq!(&shown, &model);
            }
            run(&mut watch, ms(150)).await;
            let since = clock::now();
            run(&mut watch, ms(100)).await;
            assert_eq!(probed_since(&fake, since), model);
        });
    }
}

/// The busiest tenth of the even share of a period: the most requests that left within
/// one hundredth of the period, counting from the watch's start.
fn busiest(fake: &FakeTransport, start: std::time::Instant, period: Duration) -> usize {
    let stretch = period.as_nanos() / 100;
    let mut counts = vec![0; 100];
    for sent in fake.sent() {
        let into = sent.at.saturating_duration_since(start).as_nanos() % period.as_nanos();
        counts[usize::try_from(into / stretch).unwrap_or(99).min(99)] += 1;
    }
    counts.into_iter().max().unwrap_or(0)
}

/// 1,000 targets added one by one while the watch runs spread over the period as evenly
/// as 1,000 given at the start: each takes the next place of a sequence that halves the
/// gaps. (Before, each added target started its own schedule at once, all at the same
/// instant.)
#[tokio::test(start_paused = true)]
async fn targets_added_one_by_one_spread_as_those_given_at_start() {
    let period = ms(1_000);
    let options = WatchOptions::default().period(period).timeout(ms(500));
    let count = 1_000;

    let at_start = FakeTransport::raw_v6();
    at_start.echo(ms(1));
    let start = clock::now();
    let (handle, mut watch) = watch_on(v6(&at_start), &options, addresses(count)).unwrap();
    run(&mut watch, period * 3).await;
    handle.stop();
    let given = busiest(&at_start, start, period);

    let one_by_one = FakeTransport::raw_v6();
    one_by_one.echo(ms(1));
    let start = clock::now();
    let (handle, mut watch) = watch_on(v6(&one_by_one), &options, Vec::new()).unwrap();
    for target in addresses(count) {
        handle.add(target);
        run(&mut watch, Duration::from_micros(300)).await;
    }
    run(&mut watch, period * 3).await;
    handle.stop();
    let added = busiest(&one_by_one, start, period);

    // Even: 10 per hundredth of the period, over three periods.
    let even = 3 * count / 100;
    assert!(
        given <= 2 * even,
        "{given} at most in a hundredth, given at start"
    );
    assert!(
        added <= 2 * even,
        "{added} at most in a hundredth, added one by one"
    );
}

#[tokio::test(start_paused = true)]
async fn the_handle_of_a_dropped_or_stopped_watch_shows_no_target() {
    let fake = FakeTransport::raw_v6();
    fake.echo(ms(1));
    let options = WatchOptions::default().period(ms(100));
    let target = address(1);
    let (handle, mut watch) = watch_on(v6(&fake), &options, [target.clone()]).unwrap();
    run(&mut watch, ms(300)).await;
    assert_eq!(handle.is_up(&target), Some(true));
    assert!(handle.stats(&target).is_some());
    drop(watch);
    assert!(handle.is_stopped());
    assert_eq!(
        handle.is_up(&target),
        None,
        "no stale up after the watch is gone"
    );
    assert!(handle.stats(&target).is_none());
    assert!(handle.targets().is_empty());
    handle.add(address(2));
    assert!(
        handle.targets().is_empty(),
        "a change to an ended watch does nothing"
    );

    let (handle, mut watch) = watch_on(v6(&fake), &options, [target.clone()]).unwrap();
    run(&mut watch, ms(300)).await;
    handle.stop();
    // The events already there, then the end.
    while watch.next().await.is_some() {}
    assert!(handle.is_stopped());
    assert_eq!(handle.is_up(&target), None);
}

/// Adding and removing a target before the watch ran leaves nothing watched, and
/// nothing probed. (Before, an add waited for the stream while a remove acted at once
/// and found nothing: the target stayed.)
#[tokio::test(start_paused = true)]
async fn an_add_then_a_remove_leave_nothing() {
    let fake = FakeTransport::raw_v6();
    fake.echo(ms(1));
    let options = WatchOptions::default().period(ms(100));
    let (handle, mut watch) = watch_on(v6(&fake), &options, Vec::new()).unwrap();
    for n in 0..2_000 {
        handle.add(address(n % 50));
        handle.remove(address(n % 50));
    }
    run(&mut watch, ms(300)).await;
    assert!(handle.targets().is_empty());
    assert!(fake.sent().is_empty(), "{} probes", fake.sent().len());
}

/// A watch polled a little after it was made (as always outside paused time: on a real
/// clock its first poll comes microseconds to milliseconds later) probes at once, not a
/// period later: a one-probe watch of 5 s once stayed silent for its 5 s.
#[tokio::test(start_paused = true)]
async fn a_watch_first_polled_after_its_start_probes_at_once() {
    let fake = FakeTransport::raw_v6();
    fake.echo(ms(1));
    let options = WatchOptions::default().period(ms(10_000)).timeout(ms(500));
    let (handle, mut watch) = watch_on(v6(&fake), &options, addresses(1)).unwrap();
    tokio::time::advance(ms(3)).await;
    let polled = clock::now();
    let first = tokio::time::timeout(ms(100), watch.next()).await;
    handle.stop();
    assert!(
        matches!(first, Ok(Some(WatchEvent::Reply { .. }))),
        "{first:?}"
    );
    assert_eq!(probed_since(&fake, polled).len(), 1);
}

/// A name looked up again (its job ended after `resolve_every`, a new one starts just
/// after its last probe) keeps to its places: the place its last probe took is not taken
/// again, as a target's very first probe may take one just passed.
#[test]
fn a_new_job_after_a_lookup_does_not_probe_the_place_just_taken() {
    use crate::scheduler::{Job, Now};
    let rules = Arc::new(
        WatchOptions::default()
            .period(ms(1_000))
            .rules(clock::now())
            .unwrap(),
    );
    let target = Arc::new(target::Tracked::new("name.example".into(), 0, &rules));
    let address = "2001:db8::1".parse().unwrap();
    let epoch = rules.epoch;
    let at = |after: Duration| Now {
        instant: epoch + after,
        wall: std::time::SystemTime::now(),
    };
    let mut first = WatchJob::new(Arc::clone(&target), address, Arc::clone(&rules), true);
    let probe = first.next(0, at(ms(3))).unwrap();
    assert_eq!(
        probe.after,
        Duration::ZERO,
        "the watch's first place, just passed"
    );
    let mut again = WatchJob::new(target, address, rules, true);
    let probe = again.next(0, at(ms(5))).unwrap();
    assert_eq!(
        probe.after,
        ms(995),
        "the next place, not the one just taken"
    );
}

/// A watch whose socket cannot open fails at once, as a sweep's stream does, rather than
/// reporting every target down every period.
#[tokio::test(start_paused = true)]
async fn a_watch_without_permission_fails_the_call() {
    let engines: Arc<dyn Engines> = Arc::new(FakeEngines { v4: None, v6: None });
    let options = WatchOptions::default();
    let Err(error) = watch_on(engines, &options, addresses(3)) else {
        panic!("the watch started without a socket");
    };
    assert!(matches!(error, Error::SocketPermission { .. }), "{error:?}");
    assert!(error.fails_the_call());
}

/// A period under the floor (1 ms, the resolution of tokio's timers) is refused, not
/// rounded up to it in silence.
#[tokio::test(start_paused = true)]
async fn a_period_under_a_millisecond_is_refused() {
    let fake = FakeTransport::raw_v6();
    for period in [Duration::ZERO, Duration::from_micros(999)] {
        let options = WatchOptions::default().period(period);
        let Err(error) = watch_on(v6(&fake), &options, addresses(1)) else {
            panic!("a watch with a period of {period:?} started");
        };
        assert!(error.to_string().contains("at least 1 ms"), "{error}");
    }
    assert!(
        watch_on(
            v6(&fake),
            &WatchOptions::default().period(ms(1)),
            addresses(1)
        )
        .is_ok()
    );
}

/// A target's cell holds its window and its state, not much more: about 0.5 KiB besides
/// 4 bytes a probe of the window.
#[test]
fn a_target_costs_its_window_and_little_more() {
    let rules = WatchOptions::default().rules(clock::now()).unwrap();
    let target = Tracked::new("2001:db8::1".into(), 0, &rules);
    let size = std::mem::size_of_val(&target);
    assert!(size <= 256, "{size} bytes a target");
    let job = std::mem::size_of::<WatchJob>();
    assert!(job <= 128, "{job} bytes a job");
}

/// A watch over two sockets: each target is probed by one shard, once a period, the
/// events of both reach the stream, changes reach the shard that probes the target, and
/// dropping the watch stops both.
#[tokio::test(start_paused = true)]
async fn a_watch_over_two_sockets_probes_each_target_once_a_period() {
    let fakes = [FakeTransport::raw_v6(), FakeTransport::raw_v6()];
    for fake in &fakes {
        fake.echo(ms(1));
    }
    let options = WatchOptions::default()
        .period(ms(100))
        .family(crate::Family::V6);
    let rules = options.rules(clock::now()).unwrap();
    let calls = fakes
        .iter()
        .map(|fake| prepare(plan(&options), v6(fake), None, true, None).unwrap())
        .collect();
    let (handle, mut watch) = Watch::start(calls, rules, addresses(40));
    let events = run(&mut watch, ms(1_000)).await;
    assert!(events >= 400, "{events} events");
    let sent = |fake: &FakeTransport| -> BTreeSet<String> {
        fake.sent()
            .iter()
            .map(|sent| sent.request.destination().to_string())
            .collect()
    };
    let (first, second) = (sent(&fakes[0]), sent(&fakes[1]));
    assert!(first.is_disjoint(&second), "a target probed by both shards");
    assert_eq!(first.len() + second.len(), 40);
    assert!(
        !first.is_empty() && !second.is_empty(),
        "one shard took all"
    );
    let count = fakes[0].sent().len() + fakes[1].sent().len();
    assert!(
        (390..=410).contains(&count),
        "{count} probes for 40 targets over 10 periods"
    );

    handle.remove(address(1));
    handle.add(address(41));
    run(&mut watch, ms(150)).await;
    let since = clock::now();
    run(&mut watch, ms(100)).await;
    let probed: BTreeSet<String> = fakes
        .iter()
        .flat_map(|fake| probed_since(fake, since))
        .collect();
    let want: BTreeSet<String> = (2..=41).map(address).collect();
    assert_eq!(probed, want);

    drop(watch);
    tokio::task::yield_now().await;
    let before = fakes[0].sent().len() + fakes[1].sent().len();
    tokio::time::sleep(ms(500)).await;
    assert_eq!(
        fakes[0].sent().len() + fakes[1].sent().len(),
        before,
        "probes after the drop"
    );
    assert!(handle.is_stopped());
}
