//! [`Pinger::watch`](crate::Pinger::watch): targets probed without end, for health-check
//! daemons — a stream of [`WatchEvent`]s and a [`WatchHandle`] that adds, removes and
//! replaces targets, reads their statistics and stops the watch.
//!
//! A watch runs on one scheduler (`shard.rs`), or on several, each in a task of its own
//! with a socket of its own (`spread.rs`). Its targets live in a registry shared with the
//! handles (`target.rs`), each in a cell of its own where its job (`job.rs`) records its
//! outcomes, and the events leave through the scheduler. The handle's changes apply to the
//! registry at once and reach the shards through one channel each, in the order they were
//! made.

mod event;
mod job;
mod options;
mod shard;
mod spread;
mod target;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures::Stream;
use tokio::sync::mpsc;

use crate::clock;
use crate::error::Result;
use crate::pinger::shards::spread;
use crate::pinger::{Call, Pinger, Plan, Probing};
use crate::stats::Stats;
use crate::target::Target;
pub use event::WatchEvent;
use options::Rules;
pub use options::WatchOptions;
use shard::{Command, Shard};
use spread::Spread;
use target::{Shared, Tracked};

/// Controls a running watch: adds, removes and replaces targets, reads their statistics,
/// stops it. Cheap to clone; the watch goes on when every handle is dropped.
///
/// Changes apply at once, in the order they are made ([`WatchHandle::targets`] and
/// [`WatchHandle::stats`] show them as soon as the call returns); the probing follows when
/// the watch's stream is next polled. Once the watch was stopped or dropped, the handle
/// shows no target ([`WatchHandle::is_stopped`] says so) and changes do nothing.
#[derive(Debug, Clone)]
pub struct WatchHandle {
    /// Where each shard's commands go.
    shards: Arc<[mpsc::UnboundedSender<Command>]>,
    shared: Arc<Shared>,
}

impl WatchHandle {
    /// Starts probing `target` (an address or a name: see [`Target`]), unless it is
    /// watched already. Its first probe leaves at its place in the period.
    pub fn add(&self, target: impl Into<Target>) {
        let added = self.shared.add([target.into().into_shared()]);
        self.probe(added);
    }

    /// Stops probing `target`, at once: its probes in flight are forgotten and its
    /// statistics are gone.
    pub fn remove(&self, target: impl Into<Target>) {
        if self.shared.remove([target.into().as_str()]) {
            self.to_all(|| Command::Forget);
        }
    }

    /// Watches exactly `targets` from now on (a daemon reloading its configuration):
    /// those not among them are removed, the new ones added; those kept go on with their
    /// statistics and their place in the period.
    pub fn replace<I>(&self, targets: I)
    where
        I: IntoIterator,
        I::Item: Into<Target>,
    {
        let (removed, added) = self
            .shared
            .replace(targets.into_iter().map(shared_name).collect());
        if removed {
            self.to_all(|| Command::Forget);
        }
        self.probe(added);
    }

    /// Hands targets added to the shards that probe them.
    fn probe(&self, added: Vec<Arc<Tracked>>) {
        probe(self.shards.len(), added, |shard, targets| {
            // A watch that ended takes no command: there is nothing to change.
            let _ = self.shards[shard].send(Command::Probe(targets));
        });
    }

    fn to_all(&self, command: impl Fn() -> Command) {
        for shard in self.shards.iter() {
            let _ = shard.send(command());
        }
    }

    /// The targets watched, in no particular order; none once the watch ended.
    pub fn targets(&self) -> Vec<String> {
        self.shared.names()
    }

    /// The statistics of `target`'s last probes now; `None` for a target not watched, or
    /// once the watch ended.
    pub fn stats(&self, target: impl Into<Target>) -> Option<Stats> {
        let target = self.shared.get(target.into().as_str())?;
        Some(target.stats(clock::now()))
    }

    /// Whether `target` is up: `None` until enough probes said, for a target not watched,
    /// or once the watch ended.
    pub fn is_up(&self, target: impl Into<Target>) -> Option<bool> {
        self.shared.get(target.into().as_str())?.is_up()
    }

    /// Stops the watch: its stream ends after the events already there.
    pub fn stop(&self) {
        self.to_all(|| Command::Stop);
    }

    /// True once the watch was stopped, or its stream dropped or ended: it probes no more.
    pub fn is_stopped(&self) -> bool {
        self.shared.is_closed()
    }
}

/// The text of a target given, shared by the registry, the target's cell and its events.
fn shared_name(target: impl Into<Target>) -> Arc<str> {
    target.into().into_shared()
}

/// The shard that probes target `name`, among `shards`: by a hash of its name (FNV-1a),
/// so that the shards share the targets and each shard's targets spread over the period.
fn shard_of(name: &str, shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    usize::try_from(hash % shards as u64).unwrap_or(0)
}

/// Hands each of `added` to the shard that probes it: `to(shard, its targets)`.
fn probe(shards: usize, added: Vec<Arc<Tracked>>, mut to: impl FnMut(usize, Vec<Arc<Tracked>>)) {
    if added.is_empty() {
        return;
    }
    if shards <= 1 {
        return to(0, added);
    }
    let mut groups: Vec<Vec<Arc<Tracked>>> = vec![Vec::new(); shards];
    for target in added {
        groups[shard_of(target.name(), shards)].push(target);
    }
    for (shard, targets) in groups.into_iter().enumerate() {
        if !targets.is_empty() {
            to(shard, targets);
        }
    }
}

/// A running watch: a stream of [`WatchEvent`]s.
///
/// Probes leave only while it is polled (as for any stream; a watch over several
/// [`sockets`](WatchOptions::sockets) runs ahead of the stream by a bounded batch of
/// events), so events never pile up. Each poll does a bounded amount of work and spends
/// tokio's cooperative budget on each event: a watch under any load lets the other tasks
/// and the timers of its runtime run. Dropping it stops the watch and forgets its probes
/// in flight.
///
/// A target costs about 0.4 KiB plus 4 bytes per probe of its
/// [`window`](WatchOptions::window) (8 with a [`max_age`](WatchOptions::max_age)).
#[derive(Debug)]
pub struct Watch {
    runs: Runs,
    shared: Arc<Shared>,
}

/// Where a watch's shards run.
#[derive(Debug)]
enum Runs {
    /// One, in the stream.
    Here(Box<Shard>),
    /// Several, each in a task of its own.
    Spread(Spread),
}

/// What a watch with `options` asks of the set-up: every target in flight at once, and
/// probes that may leave a little early (a 500th of the period, at most 2 ms) to share a
/// wake-up: with 5,000 targets a second, waking for each millisecond's few probes cost a
/// quarter of the watch's CPU (measured), the probes leaving within 1 ms of their time all
/// the same.
fn plan(options: &WatchOptions) -> Plan<'_> {
    Plan {
        concurrency: usize::MAX,
        rate_limit: options.rate_limit,
        slack: (options.period / 500).min(MAX_SLACK),
        ..Plan::new(Probing::Watch, &options.probe)
    }
}

/// The most a watch's probe leaves before its time.
const MAX_SLACK: std::time::Duration = std::time::Duration::from_millis(2);

impl Watch {
    /// A watch of `targets` with `rules`, a shard on the engines of each of `calls`, and
    /// its handle. Several shards run in tasks of their own on the current runtime.
    fn start<I>(calls: Vec<Call>, rules: Rules, targets: I) -> (WatchHandle, Watch)
    where
        I: IntoIterator,
        I::Item: Into<Target>,
    {
        let rules = Arc::new(rules);
        let shared = Arc::new(Shared::new(Arc::clone(&rules)));
        let (mut shards, senders): (Vec<Shard>, Vec<_>) = calls
            .into_iter()
            .map(|call| Shard::new(call, &rules, &shared))
            .unzip();
        let added = shared.add(targets.into_iter().map(shared_name));
        probe(shards.len(), added, |shard, targets| {
            shards[shard].probe(targets)
        });
        let runs = match shards.len() {
            1 => Runs::Here(Box::new(shards.remove(0))),
            _ => Runs::Spread(Spread::spawn(shards)),
        };
        let handle = WatchHandle {
            shards: senders.into(),
            shared: Arc::clone(&shared),
        };
        (handle, Watch { runs, shared })
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
    /// One scheduler runs the whole watch (or one per socket, with
    /// [`sockets`](WatchOptions::sockets)), whatever is added later: a target added while
    /// it runs takes a free place in the period, so that the probes stay spread (see
    /// [`Watch`] for its cost and how it shares its runtime).
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
    /// [`Error::InvalidOption`](crate::Error::InvalidOption) for invalid options, [`Error::Runtime`](crate::Error::Runtime) outside a tokio
    /// runtime, and the errors of a socket that cannot open for the watch's likely family
    /// ([`Error::SocketPermission`](crate::Error::SocketPermission), ...: those that [fail a call](crate::Error::fails_the_call));
    /// each target's own failures (a name that does not resolve, an unreachable host) are
    /// events.
    pub fn watch<I>(&self, targets: I, options: &WatchOptions) -> Result<(WatchHandle, Watch)>
    where
        I: IntoIterator,
        I::Item: Into<Target>,
    {
        let rules = options.rules(clock::now())?;
        let call = self.set_up(plan(options))?;
        let sockets = spread(
            &call,
            options.sockets,
            options.probe.id.is_some(),
            options.probe.family,
        );
        // Raw shards on sockets of their own, not the pinger's shared one, whose identifier
        // filter other calls' chosen identifiers may have removed.
        let first = usize::from(call.privileged && sockets > 1);
        let calls = (0..sockets)
            .map(|shard| Call {
                engines: self.engines_for(
                    call.privileged,
                    call.source,
                    options.probe.dont_fragment,
                    u16::try_from(first + shard).unwrap_or(u16::MAX),
                ),
                ..call.clone()
            })
            .collect();
        Ok(Watch::start(calls, rules, targets))
    }
}

impl Stream for Watch {
    type Item = WatchEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchEvent>> {
        // Each event spends a unit of the task's budget: once it is spent, the task yields
        // to the runtime, so that a watch that always has an event ready cannot starve the
        // other tasks and the timers of its thread.
        let budget = ready!(tokio::task::coop::poll_proceed(cx));
        let event = match &mut self.get_mut().runs {
            Runs::Here(shard) => shard.poll_event(cx),
            Runs::Spread(spread) => spread.poll_event(cx),
        };
        if event.is_ready() {
            budget.made_progress();
        }
        event
    }
}

impl Drop for Watch {
    /// The handles see no target from now on; the shards, dropped next, forget their
    /// probes in flight.
    fn drop(&mut self) {
        self.shared.close();
    }
}

#[cfg(test)]
mod tests;
