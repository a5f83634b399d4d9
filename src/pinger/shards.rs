//! A sweep over several sockets ([`MultipingOptions::sockets`](crate::MultipingOptions)):
//! one scheduler per socket, each driven by a task of its own, all taking their targets
//! from one shared iterator, their hosts merged back.
//!
//! The kernel serializes the sends of one socket, not the machine: two datagram sockets on
//! two threads sweep about twice as fast as one (see `benches/sweep.rs`). What is shared
//! is only the iterator of targets (locked for each target taken) and the rate limit;
//! each scheduler has its own engine, inbox and timers, so the shards never wait on each
//! other.
//!
//! Cancellation is as immediate as for one scheduler: each shard's scheduler sits in a
//! slot its task polls under a lock, and the call that owns the tasks takes the schedulers
//! out of their slots (dropping them, which forgets their probes) when it is dropped,
//! rather than leaving that to aborted tasks whenever their runtime next runs them.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use futures::{FutureExt, Stream, StreamExt};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Call;
use crate::engine::raw_filters_work;
use crate::error::{Error, Result};
use crate::family::Family;

/// A target with its place among all the sweep's targets.
#[derive(Debug)]
pub(crate) struct Indexed<T> {
    pub index: usize,
    pub item: T,
}

impl<T: AsRef<str>> AsRef<str> for Indexed<T> {
    fn as_ref(&self) -> &str {
        self.item.as_ref()
    }
}

/// Targets a shard takes from the shared iterator at once at most: one lock for several,
/// as the shards take targets all the time (measured: a lock per target was 1.4 % of a
/// two-socket sweep's CPU), few enough that the shards finish together. Never more than
/// the shard's hosts in flight, so that a shard does not sit on targets it has no room
/// for while another could run them.
const TAKEN_AT_ONCE: usize = 16;

/// One iterator of targets shared by the shards: each takes the next few targets when it
/// has room, so a shard whose hosts answer slowly takes fewer.
#[derive(Debug)]
pub(crate) struct Shared<I: Iterator> {
    inner: Arc<Mutex<std::iter::Enumerate<I>>>,
    /// Taken and not yet handed out, in order.
    taken: std::collections::VecDeque<(usize, I::Item)>,
    /// How many to take at once.
    at_once: usize,
}

impl<I: Iterator> Shared<I> {
    /// A handle on `targets` for each of the `shares` (the hosts in flight of each shard).
    pub(crate) fn split(targets: I, shares: &[usize]) -> Vec<Shared<I>> {
        let inner = Arc::new(Mutex::new(targets.enumerate()));
        shares
            .iter()
            .map(|share| {
                let at_once = (*share).clamp(1, TAKEN_AT_ONCE);
                Shared {
                    inner: Arc::clone(&inner),
                    taken: std::collections::VecDeque::with_capacity(at_once),
                    at_once,
                }
            })
            .collect()
    }
}

impl<I: Iterator> Iterator for Shared<I> {
    type Item = Indexed<I::Item>;

    fn next(&mut self) -> Option<Indexed<I::Item>> {
        if self.taken.is_empty() {
            let mut targets = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            self.taken.extend(targets.by_ref().take(self.at_once));
        }
        let (index, item) = self.taken.pop_front()?;
        Some(Indexed { index, item })
    }
}

/// `concurrency` hosts in flight shared out over at most `shards` shards, none empty: the
/// share of each.
pub(crate) fn shares(concurrency: usize, shards: usize) -> Vec<usize> {
    let count = shards.min(concurrency).max(1);
    (0..count)
        .map(|shard| concurrency / count + usize::from(shard < concurrency % count))
        .collect()
}

/// Where a shard's stream sits, polled by its task and emptied by its owner.
type Slot<S> = Arc<Mutex<Option<S>>>;

fn lock<S>(slot: &Slot<S>) -> MutexGuard<'_, Option<S>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The next item of the shard in `slot`; the end once its owner took it out.
fn poll_slot<S: Stream + Unpin>(slot: &Slot<S>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
    match lock(slot).as_mut() {
        Some(shard) => shard.poll_next_unpin(cx),
        None => Poll::Ready(None),
    }
}

/// The shards' tasks. Dropped, it aborts them and drops their streams at once.
#[derive(Debug)]
pub(crate) struct Tasks<S, T> {
    slots: Vec<Slot<S>>,
    handles: Vec<JoinHandle<T>>,
}

impl<S, T> Drop for Tasks<S, T> {
    fn drop(&mut self) {
        for handle in &self.handles {
            handle.abort();
        }
        // A task in the middle of a poll holds its slot: this waits for the end of that
        // turn (bounded), then the shard's probes are forgotten.
        for slot in &self.slots {
            drop(lock(slot).take());
        }
    }
}

impl<S, V> Tasks<S, Result<V>> {
    /// What every task came to, or the first error (the other tasks are then stopped as
    /// `self` is dropped). A task that panicked panics here; one cancelled (its runtime
    /// shutting down) is [`Error::SocketUnavailable`].
    pub(crate) async fn try_join(mut self) -> Result<Vec<V>> {
        futures::future::try_join_all(self.handles.iter_mut().map(|handle| {
            handle.map(|joined| match joined {
                Ok(output) => output,
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                Err(_) => Err(Error::SocketUnavailable),
            })
        }))
        .await
    }
}

impl<S, T> Tasks<S, T>
where
    S: Stream + Unpin + Send + 'static,
    T: Send + 'static,
{
    /// Spawns on `runtime` a task per shard, each running what `run` makes of a stream
    /// of its shard's items.
    pub(crate) fn spawn<F, Fut>(runtime: &Handle, shards: Vec<S>, run: F) -> Tasks<S, T>
    where
        F: Fn(ShardStream<S>) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let slots: Vec<Slot<S>> = shards
            .into_iter()
            .map(|shard| Arc::new(Mutex::new(Some(shard))))
            .collect();
        let handles = slots
            .iter()
            .map(|slot| {
                runtime.spawn(run(ShardStream {
                    slot: Arc::clone(slot),
                }))
            })
            .collect();
        Tasks { slots, handles }
    }

    /// Re-raises the panic of a task that panicked, if one did and has ended.
    fn raise_panics(&mut self) {
        for handle in &mut self.handles {
            if handle.is_finished()
                && let Some(Err(error)) = handle.now_or_never()
                && error.is_panic()
            {
                std::panic::resume_unwind(error.into_panic());
            }
        }
    }
}

/// A shard's stream, as its task sees it.
#[derive(Debug)]
pub(crate) struct ShardStream<S> {
    slot: Slot<S>,
}

impl<S: Stream + Unpin> Stream for ShardStream<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        poll_slot(&self.slot, cx)
    }
}

/// The shards' items, mapped by `map`, as they come, through a channel their tasks send
/// to: in batches of what each shard had ready at once (up to a turn's worth), so that a
/// sweep's hosts cost a channel message and a wake-up per batch, not per host (measured:
/// the consumer's wake-ups were a tenth of a two-socket sweep's CPU). Nothing is sent
/// before the first poll: the tasks start then.
pub(crate) struct Merged<S: Stream, T> {
    runtime: Handle,
    /// The shards, until the first poll.
    shards: Vec<S>,
    map: fn(S::Item) -> T,
    receiver: Option<mpsc::Receiver<Vec<T>>>,
    /// What is left of the last batch received.
    batch: std::vec::IntoIter<T>,
    tasks: Option<Tasks<S, ()>>,
}

impl<S: Stream, T> Merged<S, T> {
    /// The merge of `shards`, whose tasks will run on `runtime`.
    pub(crate) fn new(runtime: Handle, shards: Vec<S>, map: fn(S::Item) -> T) -> Merged<S, T> {
        Merged {
            runtime,
            shards,
            map,
            receiver: None,
            batch: Vec::new().into_iter(),
            tasks: None,
        }
    }
}

impl<S: Stream, T> Unpin for Merged<S, T> {}

impl<S, T> Stream for Merged<S, T>
where
    S: Stream + Unpin + Send + 'static,
    S::Item: Send,
    T: Send + 'static,
{
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        if let Some(item) = this.batch.next() {
            return Poll::Ready(Some(item));
        }
        if this.tasks.is_none() {
            // Two batches per shard may wait: a shard runs ahead of its consumer by
            // at most that much.
            let (sender, receiver) = mpsc::channel(2 * this.shards.len().max(1));
            let map = this.map;
            let shards = std::mem::take(&mut this.shards);
            this.tasks = Some(Tasks::spawn(&this.runtime, shards, |shard| {
                let sender = sender.clone();
                async move {
                    let mut batches = shard.ready_chunks(crate::scheduler::PER_TURN);
                    while let Some(batch) = batches.next().await {
                        let batch = batch.into_iter().map(map).collect();
                        if sender.send(batch).await.is_err() {
                            return;
                        }
                    }
                }
            }));
            this.receiver = Some(receiver);
        }
        let Some(receiver) = this.receiver.as_mut() else {
            return Poll::Ready(None);
        };
        loop {
            match receiver.poll_recv(cx) {
                Poll::Ready(Some(batch)) => {
                    this.batch = batch.into_iter();
                    if let Some(item) = this.batch.next() {
                        return Poll::Ready(Some(item));
                    }
                }
                Poll::Ready(None) => {
                    // Every shard ended: one that panicked does not end quietly.
                    if let Some(tasks) = this.tasks.as_mut() {
                        tasks.raise_panics();
                    }
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Sockets per family a call may spread over
/// ([`MultipingOptions::sockets`](crate::MultipingOptions::sockets),
/// [`WatchOptions::sockets`](crate::WatchOptions::sockets)).
pub(crate) const MAX_SOCKETS: usize = 64;

/// The sockets per family a call that asks for `wanted` can spread over: as many, except
/// for raw sockets, each of which receives a copy of every reply: those spread only where
/// an in-kernel filter on the identifier drops the others' (Linux, and the system took it)
/// and each socket has identifiers of its own (none `chosen`); else one. Unfiltered, each
/// socket would read every reply into a buffer sized for its own.
pub(crate) fn spread(call: &Call, wanted: usize, chosen: bool, family: Option<Family>) -> usize {
    if wanted > 1
        && call.privileged
        && (!cfg!(target_os = "linux") || chosen || !raw_filters_work_for(call, family))
    {
        1
    } else {
        wanted
    }
}

/// Whether raw sockets take the identifier filter here: as the last one opened did, or,
/// before any, the one this call would use (of `family`, else IPv4), opened now.
fn raw_filters_work_for(call: &Call, family: Option<Family>) -> bool {
    if let Some(known) = raw_filters_work() {
        return known;
    }
    // The engine opened here stays in the pinger's cache for the call.
    let _engine = call.engines.engine(family.unwrap_or(Family::V4), 0);
    raw_filters_work().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_take_every_target_once_with_its_index() {
        let targets = (0..100).map(|n| n.to_string());
        let mut shards = Shared::split(targets, &[40, 40, 1]);
        let mut taken = Vec::new();
        // Taken in turns by the shards, a few at a time each, until all are done.
        let mut done = [false; 3];
        for turn in 0.. {
            let shard = turn % 3;
            match shards[shard].next() {
                Some(target) => taken.push((target.index, target.item)),
                None => done[shard] = true,
            }
            if done.iter().all(|done| *done) {
                break;
            }
        }
        taken.sort_unstable();
        let expected: Vec<(usize, String)> = (0..100).map(|n| (n, n.to_string())).collect();
        assert_eq!(taken, expected);
        // None has any left.
        assert!(shards.iter_mut().all(|shard| shard.next().is_none()));
        // A shard with room for one host takes one target at a time: four targets over
        // four shards of one host each go one to each.
        let mut shards = Shared::split(["a", "b", "c", "d"].into_iter(), &[1, 1, 1, 1]);
        let firsts: Vec<_> = shards
            .iter_mut()
            .map(|shard| shard.next().map(|t| t.item))
            .collect();
        assert_eq!(firsts, [Some("a"), Some("b"), Some("c"), Some("d")]);
    }

    #[test]
    fn the_hosts_in_flight_are_shared_out_exactly() {
        assert_eq!(shares(10, 4), [3, 3, 2, 2]);
        assert_eq!(shares(1, 4), [1]);
        assert_eq!(shares(1000, 2), [500, 500]);
        for (concurrency, sockets) in [(7, 3), (64, 64), (3, 64), (65_534, 5)] {
            let shares = shares(concurrency, sockets);
            assert_eq!(shares.iter().sum::<usize>(), concurrency);
            assert!(shares.iter().all(|&share| share >= 1));
            assert!(shares.len() <= sockets);
        }
    }

    #[tokio::test]
    async fn dropping_the_tasks_drops_their_streams_at_once() {
        struct Flag(Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Flag(Arc::clone(&dropped));
        // A shard that never ends, holding the flag.
        let shard = futures::stream::pending::<()>().map(move |item| {
            let _ = &flag;
            item
        });
        let tasks = Tasks::spawn(
            &Handle::current(),
            vec![Box::pin(shard)],
            |mut shard| async move {
                shard.next().await;
            },
        );
        tokio::task::yield_now().await;
        assert!(!dropped.load(std::sync::atomic::Ordering::SeqCst));
        drop(tasks);
        // At once, not when the aborted task is next run.
        assert!(dropped.load(std::sync::atomic::Ordering::SeqCst));
    }
}
