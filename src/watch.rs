//! [`Pinger::watch`](crate::Pinger::watch): targets probed without end, for health-check
//! daemons — a stream of [`WatchEvent`]s and a [`WatchHandle`] that adds and removes
//! targets, reads their statistics and stops the watch.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::{FuturesUnordered, SelectAll};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
pub use crate::jobs::watch::WatchEvent;
use crate::jobs::watch::{Rules, Shared, TargetState, Tracked, WatchJob};
use crate::options::{ProbeOptions, probe_setters};
use crate::pacer::Pacer;
use crate::resolve::Resolver;
use crate::scheduler::{Engines, Finished, Scheduler};
use crate::socket::address::parse_address;
use crate::stats::Stats;

/// Options of [`Pinger::watch`](crate::Pinger::watch): what each probe looks like
/// ([`ProbeOptions`]: timeout, payload, TTL, privileges, source, family; `count` and
/// `interval` do not apply), how often each target is probed, and when a target counts
/// as up or down.
///
/// ```
/// use std::time::Duration;
/// use icmplib::WatchOptions;
///
/// let options = WatchOptions::default()
///     .period(Duration::from_millis(500))
///     .down_after(3)
///     .timeout(Duration::from_millis(400));
/// assert_eq!(options.period, Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchOptions {
    /// Each probe: its timeout (default 1 s), payload, TTL, privileges, source, family.
    pub probe: ProbeOptions,
    /// Time from one probe of a target to its next, whatever the answers (fping `-p`;
    /// default 1 s). The targets' probes are spread evenly over it.
    pub period: Duration,
    /// Answers in a row after which a target is up (default 1).
    pub up_after: u32,
    /// Losses in a row after which a target is down (default 3).
    pub down_after: u32,
    /// Probes each target's statistics are over (default 100).
    pub window: usize,
    /// If set, the statistics leave out probes older than this.
    pub max_age: Option<Duration>,
    /// How often a target given by name is looked up again (default 5 minutes; `None`:
    /// once).
    pub resolve_every: Option<Duration>,
    /// At most this many probes per second for the whole watch (none by default): probes
    /// then leave later than their period says when there are too many.
    pub rate_limit: Option<u32>,
}

impl Default for WatchOptions {
    fn default() -> WatchOptions {
        WatchOptions {
            probe: ProbeOptions::default().timeout(Duration::from_secs(1)),
            period: Duration::from_secs(1),
            up_after: 1,
            down_after: 3,
            window: 100,
            max_age: None,
            resolve_every: Some(Duration::from_secs(300)),
            rate_limit: None,
        }
    }
}

probe_setters!(WatchOptions, probe);

impl From<ProbeOptions> for WatchOptions {
    /// These probe options, with the watch's other defaults.
    fn from(probe: ProbeOptions) -> WatchOptions {
        WatchOptions {
            probe,
            ..WatchOptions::default()
        }
    }
}

impl WatchOptions {
    /// Sets [`WatchOptions::period`].
    pub fn period(mut self, period: Duration) -> Self {
        self.period = period;
        self
    }

    /// Sets [`WatchOptions::up_after`].
    pub fn up_after(mut self, answers: u32) -> Self {
        self.up_after = answers;
        self
    }

    /// Sets [`WatchOptions::down_after`].
    pub fn down_after(mut self, losses: u32) -> Self {
        self.down_after = losses;
        self
    }

    /// Sets [`WatchOptions::window`].
    pub fn window(mut self, probes: usize) -> Self {
        self.window = probes;
        self
    }

    /// Sets [`WatchOptions::max_age`].
    pub fn max_age(mut self, age: Option<Duration>) -> Self {
        self.max_age = age;
        self
    }

    /// Sets [`WatchOptions::rate_limit`].
    pub fn rate_limit(mut self, per_second: Option<u32>) -> Self {
        self.rate_limit = per_second;
        self
    }

    /// Sets [`WatchOptions::resolve_every`].
    pub fn resolve_every(mut self, every: Option<Duration>) -> Self {
        self.resolve_every = every;
        self
    }

    /// Checks the options and makes the rules the jobs follow.
    fn rules(&self) -> Result<Rules> {
        if self.period.is_zero() || self.period > MAX_PERIOD {
            return Err(Error::invalid(
                "period must be greater than zero and at most a day",
            ));
        }
        if self.up_after == 0 || self.down_after == 0 {
            return Err(Error::invalid("up_after and down_after must be at least 1"));
        }
        if self.window == 0 {
            return Err(Error::invalid("window must be at least 1"));
        }
        if self.rate_limit == Some(0) {
            return Err(Error::invalid(
                "rate_limit must be at least 1 probe per second",
            ));
        }
        if self.resolve_every.is_some_and(|every| every < self.period) {
            return Err(Error::invalid("resolve_every must be at least one period"));
        }
        Ok(Rules {
            period: self.period,
            ttl: self.probe.ttl,
            up_after: self.up_after,
            down_after: self.down_after,
            window: self.window,
            max_age: self.max_age,
            resolve_every: self.resolve_every,
        })
    }
}

/// The longest period: a day.
const MAX_PERIOD: Duration = Duration::from_secs(24 * 3600);

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
    engines: Arc<dyn Engines>,
    resolver: Option<Resolver>,
    probe: ProbeOptions,
    source: Option<IpAddr>,
    rules: Arc<Rules>,
    shared: Arc<Shared>,
    /// The rate limit of the whole watch, shared by its batches.
    pacer: Option<Arc<Pacer>>,
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
    pub(crate) fn new(
        engines: Arc<dyn Engines>,
        resolver: Option<Resolver>,
        source: Option<IpAddr>,
        options: &WatchOptions,
        targets: Vec<String>,
    ) -> Result<(WatchHandle, Watch)> {
        let rules = Arc::new(options.rules()?);
        // The probe options are checked once here, as each batch will.
        options.probe.settings(source, 1, None)?;
        let (commands_in, commands) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let mut watch = Watch {
            engines,
            resolver,
            probe: options.probe.clone(),
            source,
            rules,
            shared: Arc::clone(&shared),
            pacer: options
                .rate_limit
                .map(|rate| Arc::new(Pacer::per_second(rate))),
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
        let settings = match self
            .probe
            .settings(self.source, usize::MAX, self.pacer.clone())
        {
            Ok(settings) => settings,
            Err(error) => {
                for target in targets {
                    self.shared.push(WatchEvent::Error {
                        target: target.name,
                        address: None,
                        error: error.clone(),
                    });
                }
                return;
            }
        };
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
            Arc::clone(&self.engines),
            self.resolver.clone(),
            settings,
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
