//! A sweep over several sockets ([`MultipingOptions::sockets`](crate::MultipingOptions)):
//! one scheduler per socket, each in a task of its own, all taking their targets from one
//! shared iterator, their hosts merged back.
//!
//! The kernel serializes the sends of one socket, not the machine: two datagram sockets on
//! two threads sweep about twice as fast as one (see `benches/sweep.rs`). What is shared
//! is only the iterator of targets (locked for each target taken) and the rate limit;
//! each scheduler has its own engine, inbox and timers, so the shards never wait on each
//! other.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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

/// One iterator of targets shared by the shards: each takes the next target when it has
/// room, so a shard whose hosts answer slowly takes fewer.
#[derive(Debug)]
pub(crate) struct Shared<I> {
    inner: Arc<Mutex<std::iter::Enumerate<I>>>,
}

impl<I: Iterator> Shared<I> {
    /// `shards` handles on `targets`.
    pub(crate) fn split(targets: I, shards: usize) -> Vec<Shared<I>> {
        let inner = Arc::new(Mutex::new(targets.enumerate()));
        (0..shards)
            .map(|_| Shared {
                inner: Arc::clone(&inner),
            })
            .collect()
    }
}

impl<I: Iterator> Iterator for Shared<I> {
    type Item = Indexed<I::Item>;

    fn next(&mut self) -> Option<Indexed<I::Item>> {
        let mut targets = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        targets.next().map(|(index, item)| Indexed { index, item })
    }
}

/// The shards' tasks, aborted when the call that spawned them is dropped: a sweep
/// abandoned stops sending.
#[derive(Debug)]
pub(crate) struct Tasks<T>(pub Vec<JoinHandle<T>>);

impl<T> Drop for Tasks<T> {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl<T> Tasks<T> {
    /// Waits for every task, in turn; a task that panicked panics here.
    pub(crate) async fn join(mut self) -> Vec<T> {
        let mut outputs = Vec::with_capacity(self.0.len());
        for task in &mut self.0 {
            match task.await {
                Ok(output) => outputs.push(output),
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                // Aborted: only when the runtime shuts down, which ends this call too.
                Err(_) => {}
            }
        }
        outputs
    }
}

/// The hosts of the shards, as they finish, from a channel their tasks send to.
#[derive(Debug)]
pub(crate) struct Merged<T> {
    pub receiver: mpsc::Receiver<T>,
    /// Held for their abort when the stream is dropped.
    pub _tasks: Tasks<()>,
}

impl<T> Stream for Merged<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().receiver.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_take_every_target_once_with_its_index() {
        let mut shards = Shared::split(["a", "b", "c", "d", "e"].into_iter(), 2);
        let mut taken = Vec::new();
        // Taken in any order by either shard.
        while let Some(target) = shards[taken.len() % 2].next() {
            taken.push((target.index, target.item));
        }
        assert_eq!(taken, [(0, "a"), (1, "b"), (2, "c"), (3, "d"), (4, "e")]);
        assert!(shards[0].next().is_none() && shards[1].next().is_none());
    }
}
