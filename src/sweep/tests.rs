//! Sweep tests that need no socket: the turns of a sweep whose targets all fail before a
//! request, and the size of a host in flight. Sweeps on real packets are in
//! `tests/multiping.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::task::{ArcWake, waker};

use super::*;
use crate::MultipingOptions;

#[derive(Default)]
struct Wakes(AtomicUsize);

impl ArcWake for Wakes {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Polls `sweep` until it ends; returns the outcomes and the length of each run of them
/// between two `Pending`s, checking that each `Pending` woke the task (a turn ends awake).
fn runs<I>(mut sweep: Sweep<I>) -> (Vec<(usize, Outcome)>, Vec<usize>)
where
    I: Iterator,
    I::Item: AsRef<str>,
{
    let wakes = Arc::new(Wakes::default());
    let waker = waker(Arc::clone(&wakes));
    let mut cx = TaskContext::from_waker(&waker);
    let (mut outcomes, mut runs, mut run) = (Vec::new(), Vec::new(), 0);
    loop {
        match sweep.poll_next_unpin(&mut cx) {
            Poll::Ready(Some(outcome)) => {
                outcomes.push(outcome);
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
    (outcomes, runs)
}

/// IPv4 addresses with the family forced to IPv6: each target fails as it is taken,
/// without a socket.
fn failing_sweep(hosts: usize, concurrency: usize) -> Sweep<std::vec::IntoIter<String>> {
    let options = MultipingOptions::default()
        .family(Family::V6)
        .concurrent_tasks(concurrency);
    let plan = Arc::new(options.plan().unwrap());
    let targets: Vec<String> = (0..hosts).map(|i| format!("192.0.2.{}", i % 250)).collect();
    Sweep::new(Context::new(true, None), targets.into_iter(), plan)
}

#[test]
fn targets_taken_and_hosts_handed_out_share_one_turn() {
    // Each target is taken, then handed out: two units of work.
    let (outcomes, runs) = runs(failing_sweep(1_000, 10_000));
    assert!(runs.iter().all(|&run| run <= PER_TURN / 2), "{runs:?}");
    assert!(runs.len() >= 1_000 * 2 / PER_TURN, "{runs:?}");
    assert_eq!(outcomes.len(), 1_000);
    // Every target once, each with its error.
    let mut indexes: Vec<usize> = outcomes.iter().map(|(index, _)| *index).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..1_000).collect::<Vec<_>>());
    for (index, outcome) in &outcomes {
        assert_eq!(outcome.host.target(), format!("192.0.2.{}", index % 250));
        assert!(matches!(
            outcome.host.error(),
            Some(Error::NameLookup { .. })
        ));
        assert!(outcome.fatal.is_none());
    }
}

#[test]
fn no_more_than_concurrency_hosts_are_held() {
    // With room for 3, a sweep takes 3 targets, hands them out, then takes 3 more.
    let (outcomes, runs) = runs(failing_sweep(10, 3));
    assert_eq!(outcomes.len(), 10);
    assert_eq!(runs, [10], "no turn is used up");
    let order: Vec<usize> = outcomes.iter().map(|(index, _)| *index).collect();
    assert_eq!(order, (0..10).collect::<Vec<_>>());
}

/// Memory grows with the hosts in flight: each is one of these in the sweep's slab.
#[test]
fn a_host_in_flight_costs_less_than_256_bytes() {
    let size = std::mem::size_of::<Flight<String>>();
    assert!(size < 256, "{size} bytes");
}
