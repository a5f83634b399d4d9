//! A watch over several sockets ([`WatchOptions::sockets`](super::WatchOptions::sockets)):
//! each shard in a task of its own, on a thread of the runtime's, its events handed to the
//! watch's stream in batches through one bounded channel.
//!
//! The channel is the only queue between a shard's jobs and the stream, and it is
//! bounded: a stream not polled holds the shards back once it is full, as a watch of one
//! shard probes only while it is polled.

use std::future::poll_fn;
use std::task::{Context, Poll, ready};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::event::WatchEvent;
use super::shard::Shard;

/// Events a shard hands over at once at most: one channel operation for many events.
const BATCH: usize = 256;

/// Batches waiting in the channel at most, for all the shards.
const BATCHES: usize = 16;

/// The shards of a watch, each in a task of its own.
#[derive(Debug)]
pub(super) struct Spread {
    events: mpsc::Receiver<Vec<WatchEvent>>,
    /// The batch being handed out.
    batch: std::vec::IntoIter<WatchEvent>,
    tasks: Vec<JoinHandle<()>>,
}

impl Spread {
    /// Runs each of `shards` in a task of its own on the current runtime.
    pub(super) fn spawn(shards: Vec<Shard>) -> Spread {
        let (sender, events) = mpsc::channel(BATCHES);
        let tasks = shards
            .into_iter()
            .map(|shard| tokio::spawn(run(shard, sender.clone())))
            .collect();
        Spread {
            events,
            batch: Vec::new().into_iter(),
            tasks,
        }
    }

    /// The next event of any shard; `None` once every shard ended.
    pub(super) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<WatchEvent>> {
        loop {
            if let Some(event) = self.batch.next() {
                return Poll::Ready(Some(event));
            }
            match ready!(self.events.poll_recv(cx)) {
                Some(batch) => self.batch = batch.into_iter(),
                None => return Poll::Ready(None),
            }
        }
    }
}

impl Drop for Spread {
    /// Stops the shards: each task drops its scheduler, which forgets its probes.
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Runs `shard` until it ends or the watch is dropped, handing its events to `events` in
/// batches of what it had ready.
async fn run(mut shard: Shard, events: mpsc::Sender<Vec<WatchEvent>>) {
    loop {
        let mut batch = Vec::with_capacity(BATCH);
        let more = poll_fn(|cx| {
            loop {
                match shard.poll_event(cx) {
                    Poll::Ready(Some(event)) => {
                        batch.push(event);
                        if batch.len() == BATCH {
                            return Poll::Ready(true);
                        }
                    }
                    Poll::Ready(None) => return Poll::Ready(false),
                    Poll::Pending if batch.is_empty() => return Poll::Pending,
                    Poll::Pending => return Poll::Ready(true),
                }
            }
        })
        .await;
        // The watch was dropped: nobody to hand events to.
        if !batch.is_empty() && events.send(batch).await.is_err() {
            return;
        }
        if !more {
            return;
        }
    }
}
