//! Turns for a sweep: how much work one poll of a sweep may do before the other tasks of
//! its runtime get to run.
//!
//! A sweep drives thousands of ping futures from one task. It is polled outside tokio's
//! cooperative budget ([`Turn::polling`]): with the budget, once about a hundred of its
//! futures had polled a tokio resource, tokio would defer the wake-ups of the rest, which
//! `FuturesUnordered` cannot see, and it would then poll every one of its futures for
//! each handful of completions (measured: 65,534 hosts in flight took 7 s instead of
//! 0.8 s). Without the budget, nothing would stop one poll from starting tens of
//! thousands of requests and holding its worker meanwhile: other tasks would wait, among
//! them the receive task when the sweep's own call spawned it (a task spawned from a
//! worker waits in that worker's next-task slot, which no other worker steals; measured:
//! 65,534 hosts in flight in a spawned task took 1.4 s instead of 1.0 s, their replies
//! read only when the first requests timed out). So a sweep counts its work itself: it
//! starts and finishes at most [`PER_TURN`] hosts per turn, then yields.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};

/// Targets started plus hosts finished in one turn of a sweep.
pub(crate) const PER_TURN: usize = 256;

/// The work done in the current turn, shared by the two ends of a sweep: the targets it
/// takes ([`Turn::taking`]) and the hosts it hands out ([`Turn::polling`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Turn(Arc<AtomicUsize>);

impl Turn {
    /// Counts one unit of work; false when the turn is used up.
    fn take(&self) -> bool {
        self.0.fetch_add(1, Ordering::Relaxed) < PER_TURN
    }

    fn is_used_up(&self) -> bool {
        self.0.load(Ordering::Relaxed) >= PER_TURN
    }

    fn start_next(&self) {
        self.0.store(0, Ordering::Relaxed);
    }

    /// `targets`, each one taken counting against the turn: once it is used up, the
    /// stream says `Pending` (and wakes its task) until the next turn.
    pub(crate) fn taking<S: Stream + Unpin>(&self, targets: S) -> Taking<S> {
        Taking {
            targets,
            turn: self.clone(),
        }
    }

    /// Polls `hosts` outside the cooperative budget, each host handed out counting
    /// against the turn; a turn ends when the sweep has nothing ready or uses it up.
    pub(crate) fn polling<S: Stream>(self, hosts: S) -> Turns<S> {
        Turns {
            hosts: Box::pin(hosts),
            turn: self,
        }
    }
}

/// The targets of a sweep, taken within its turns (see [`Turn::taking`]).
pub(crate) struct Taking<S> {
    targets: S,
    turn: Turn,
}

impl<S: Stream + Unpin> Stream for Taking<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if !self.turn.take() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.targets.poll_next_unpin(cx)
    }
}

/// The hosts of a sweep, handed out in turns (see [`Turn::polling`]).
pub(crate) struct Turns<S> {
    hosts: Pin<Box<S>>,
    turn: Turn,
}

impl<S: Stream> Stream for Turns<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.turn.is_used_up() {
            // The task goes to the back of the run queue.
            self.turn.start_next();
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let mut next = std::pin::pin!(tokio::task::unconstrained(self.hosts.next()));
        let polled = next.as_mut().poll(cx);
        match polled {
            Poll::Ready(Some(_)) => {
                self.turn.take();
            }
            Poll::Ready(None) => {}
            Poll::Pending => self.turn.start_next(),
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;
    use futures::task::{ArcWake, waker};

    #[derive(Default)]
    struct Wakes(AtomicUsize);

    impl ArcWake for Wakes {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Polls `stream` until it ends; returns the length of each run of items between
    /// two `Pending`s, checking that each `Pending` woke the task.
    fn runs<S: Stream + Unpin>(mut stream: S) -> Vec<usize> {
        let wakes = Arc::new(Wakes::default());
        let waker = waker(Arc::clone(&wakes));
        let mut cx = Context::from_waker(&waker);
        let (mut runs, mut run) = (Vec::new(), 0);
        loop {
            match stream.poll_next_unpin(&mut cx) {
                Poll::Ready(Some(_)) => run += 1,
                Poll::Ready(None) => break,
                Poll::Pending => {
                    assert_eq!(wakes.0.swap(0, Ordering::Relaxed), 1, "a turn ends awake");
                    runs.push(std::mem::take(&mut run));
                }
            }
        }
        runs.push(run);
        runs
    }

    #[test]
    fn hosts_are_handed_out_per_turn_in_a_row_at_most() {
        let turn = Turn::default();
        let runs = runs(turn.polling(stream::iter(0..1_000)));
        assert_eq!(runs, [PER_TURN, PER_TURN, PER_TURN, 1_000 - 3 * PER_TURN]);
    }

    #[test]
    fn targets_taken_and_hosts_handed_out_share_one_turn() {
        // Each item is taken, then handed out: two units of work.
        let turn = Turn::default();
        let runs = runs(turn.clone().polling(turn.taking(stream::iter(0..1_000))));
        assert!(runs.iter().all(|&run| run <= PER_TURN / 2 + 1), "{runs:?}");
        assert_eq!(runs.iter().sum::<usize>(), 1_000);
    }
}
