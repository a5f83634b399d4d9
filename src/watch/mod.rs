//! [`Pinger::watch`](crate::Pinger::watch): targets probed without end, for health-check
//! daemons — a stream of [`WatchEvent`]s and a [`WatchHandle`] that adds and removes
//! targets, reads their statistics and stops the watch.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use futures::stream::{FuturesUnordered, SelectAll};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::pinger::{Call, Pinger, Plan, Probing};
use crate::scheduler::{Finished, Scheduler};
use crate::socket::address::parse_address;
use crate::stats::Stats;
pub use job::WatchEvent;
use job::{Rules, Shared, TargetState, Tracked, WatchJob};
pub use options::WatchOptions;

mod job;
mod options;

/// What a handle asks of its watch.
#[derive(Debug)]
enum Command {
    Add(Vec<String>),
    Stop,
}

/// Controls a running watch: adds and removes targets, reads their statistics, stops it.
/// Cheap to clone; the watch goes on when every handle is dropped.
#[derive(Debug, Clone)]
pub struct WatchHandle {
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
}

impl WatchHandle {
    /// Starts probing `target` (an address or a name), unless it is watched already. Its
    /// first probe leaves at once.
    pub fn add(&self, target: impl Into<String>) {
        let _ = self.commands.send(Command::Add(vec![target.into()]));
    }

    /// Stops probing `target`; its statistics are gone. Its probes in flight are
    /// forgotten as they settle.
    pub fn remove(&self, target: &str) {
        if let Some(state) = self.shared.targets().remove(target) {
            // Its job ends at its next probe.
            state.removed.store(true, Ordering::Relaxed);
        }
    }

    /// The targets watched, in no particular order.
    pub fn targets(&self) -> Vec<String> {
        self.shared.targets().keys().cloned().collect()
    }

    /// The statistics of `target`'s last probes now; `None` for a target not watched.
    pub fn stats(&self, target: &str) -> Option<Stats> {
        self.shared.stats(target)
    }

    /// Whether `target` is up: `None` until enough probes said, or when not watched.
    pub fn is_up(&self, target: &str) -> Option<bool> {
        self.shared.targets().get(target).and_then(|state| state.up)
    }

    /// Stops the watch: its stream ends after the events already there.
    pub fn stop(&self) {
        let _ = self.commands.send(Command::Stop);
    }
}

/// The probing of one batch of added targets.
type Batch = Pin<Box<dyn Stream<Item = Finished<Tracked, ()>> + Send>>;

/// A running watch: a stream of [`WatchEvent`]s. Probes leave only while it is polled
/// (as for any stream), so events never pile up beyond one turn's work; dropping it stops
/// the watch and forgets its probes in flight.
pub struct Watch {
    /// Where the probes go and what they look like; its rate limit is shared by the
    /// batches.
    call: Call,
    rules: Arc<Rules>,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    batches: SelectAll<Batch>,
    /// Targets whose name did not resolve, to try again after a period.
    retries: FuturesUnordered<Pin<Box<dyn Future<Output = Tracked> + Send>>>,
    stopped: bool,
    /// Every handle was dropped: no target can be added any more.
    handles_gone: bool,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("rules", &self.rules)
            .field("batches", &self.batches.len())
            .finish_non_exhaustive()
    }
}

impl Watch {
    /// A watch of `targets`, with its handle.
    fn new(
        call: Call,
        options: &WatchOptions,
        targets: Vec<String>,
    ) -> Result<(WatchHandle, Watch)> {
        let rules = Arc::new(options.rules()?);
        let (commands_in, commands) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let mut watch = Watch {
            call,
            rules,
            shared: Arc::clone(&shared),
            commands,
            batches: SelectAll::new(),
            retries: FuturesUnordered::new(),
            stopped: false,
            handles_gone: false,
        };
        watch.add(targets);
        let handle = WatchHandle {
            commands: commands_in,
            shared,
        };
        Ok((handle, watch))
    }

    /// Starts probing the targets not watched yet, their first probes spread over a
    /// period.
    fn add(&mut self, targets: Vec<String>) {
        let targets: Vec<Tracked> = {
            let mut states = self.shared.targets();
            let mut fresh = Vec::new();
            for target in targets {
                if let std::collections::hash_map::Entry::Vacant(vacant) =
                    states.entry(target.clone())
                {
                    let generation = self.shared.generations.fetch_add(1, Ordering::Relaxed);
                    let state = TargetState::new(&self.rules, generation);
                    fresh.push(state.tracked(&target));
                    vacant.insert(state);
                }
            }
            fresh
        };
        self.start(targets);
    }

    /// Starts a batch of targets that have their state already.
    fn start(&mut self, targets: Vec<Tracked>) {
        if targets.is_empty() {
            return;
        }
        let batch: Arc<[Tracked]> = targets.clone().into();
        let count = u32::try_from(batch.len()).unwrap_or(u32::MAX);
        let (rules, shared) = (Arc::clone(&self.rules), Arc::clone(&self.shared));
        let jobs = move |index: usize, address: IpAddr| {
            let target = batch[index].clone();
            let is_name = parse_address(&target.name).is_none();
            let offset = rules.period * u32::try_from(index).unwrap_or(0) / count.max(1);
            WatchJob::new(
                target,
                address,
                offset,
                Arc::clone(&rules),
                Arc::clone(&shared),
                is_name,
            )
        };
        let scheduler = Scheduler::new(
            Arc::clone(&self.call.engines),
            self.call.resolver.clone(),
            self.call.settings.clone(),
            targets.into_iter(),
            jobs,
        );
        self.batches.push(Box::pin(scheduler));
    }

    /// True while this adding of the target is watched (not removed, nor removed and
    /// added again).
    fn is_watched(&self, target: &Tracked) -> bool {
        !target.removed.load(Ordering::Relaxed)
            && self
                .shared
                .targets()
                .get(&target.name)
                .is_some_and(|state| state.generation == target.generation)
    }

    /// A batch's target is done: its name is looked up again (a job for a name ends after
    /// `resolve_every`), or, when it could not be probed (its name did not resolve, no
    /// socket), that counts as a loss and it is tried again after a period — unless it
    /// never can be (an address of a family the options exclude).
    fn finished(&mut self, finished: Finished<Tracked, ()>) {
        let target = finished.target;
        if !self.is_watched(&target) {
            return;
        }
        match finished.result {
            Ok(()) => self.start(vec![target]),
            Err(failed) => {
                let permanent = matches!(failed.error, Error::InvalidOption { .. });
                self.shared.push(WatchEvent::Error {
                    target: target.name.clone(),
                    address: failed.address,
                    error: failed.error,
                });
                self.shared
                    .record(&target, &self.rules, crate::clock::now(), None);
                if permanent {
                    return;
                }
                let period = self.rules.period;
                self.retries.push(Box::pin(async move {
                    tokio::time::sleep(period).await;
                    target
                }));
            }
        }
    }
}

impl Pinger {
    /// Watches `targets` (addresses or names) without end: each is probed every
    /// [`period`](WatchOptions::period), the targets' probes spread over it, and each
    /// outcome is a [`WatchEvent`](crate::WatchEvent) on the returned stream, with the
    /// target's state changes (up, down). The [`WatchHandle`] adds and removes targets,
    /// reads their statistics ([`Stats`](crate::Stats) over the last
    /// [`window`](WatchOptions::window) probes) and stops the watch. Probes leave while
    /// the stream is polled; names are looked up again every
    /// [`resolve_every`](WatchOptions::resolve_every).
    ///
    /// ```no_run
    /// # async fn run() -> icmplib::Result<()> {
    /// use futures::StreamExt;
    /// use icmplib::{Pinger, WatchEvent, WatchOptions};
    ///
    /// let pinger = Pinger::new();
    /// let (handle, mut events) = pinger.watch(["127.0.0.1"], &WatchOptions::default())?;
    /// while let Some(event) = events.next().await {
    ///     if let WatchEvent::State { target, up, .. } = event {
    ///         println!("{target} is {}", if up { "up" } else { "down" });
    ///         handle.stop();
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for invalid options, [`Error::Runtime`] outside a tokio
    /// runtime, and the errors of a socket that cannot open for the watch's likely family
    /// ([`Error::SocketPermission`], ...: those that [fail a call](Error::fails_the_call));
    /// each target's own failures (a name that does not resolve, an unreachable host) are
    /// events.
    pub fn watch<I>(&self, targets: I, options: &WatchOptions) -> Result<(WatchHandle, Watch)>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        options.rules()?;
        let call = self.set_up(Plan {
            concurrency: usize::MAX,
            rate_limit: options.rate_limit,
            ..Plan::new(Probing::Watch, &options.probe)
        })?;
        Watch::new(call, options, targets.into_iter().map(Into::into).collect())
    }
}

impl Stream for Watch {
    type Item = WatchEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchEvent>> {
        let this = self.get_mut();
        loop {
            if let Some(event) = this.shared.pop() {
                return Poll::Ready(Some(event));
            }
            if this.stopped {
                return Poll::Ready(None);
            }
            while let Poll::Ready(command) = this.commands.poll_recv(cx) {
                match command {
                    Some(Command::Add(targets)) => this.add(targets),
                    // Every handle dropped: the watch goes on with what it has.
                    None => {
                        this.handles_gone = true;
                        break;
                    }
                    Some(Command::Stop) => {
                        this.stopped = true;
                        this.batches.clear();
                        this.retries.clear();
                    }
                }
            }
            if this.stopped {
                continue;
            }
            while let Poll::Ready(Some(target)) = this.retries.poll_next_unpin(cx) {
                if this.is_watched(&target) {
                    this.start(vec![target]);
                }
            }
            match this.batches.poll_next_unpin(cx) {
                Poll::Ready(Some(finished)) => this.finished(finished),
                // Nothing left to probe and nobody to add any: the watch is over.
                Poll::Ready(None) if this.handles_gone && this.retries.is_empty() => {
                    this.stopped = true;
                }
                // No batch (every target removed), or none ready: events may have come.
                Poll::Ready(None) | Poll::Pending => {
                    if this
                        .shared
                        .events
                        .lock()
                        .map_or(true, |events| events.is_empty())
                    {
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}
