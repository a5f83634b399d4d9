//! [`Pinger::watch`](crate::Pinger::watch): targets probed without end, for health-check
//! daemons — a stream of [`WatchEvent`]s and a [`WatchHandle`] that adds, removes and
//! replaces targets, reads their statistics and stops the watch.
//!
//! One scheduler runs a watch: its targets wait in a [`Feed`](target::Feed) the scheduler
//! takes from, each is probed by a [`WatchJob`](job::WatchJob) that records its outcomes
//! in the target's own cell (`target.rs`) and tells them as events through the scheduler,
//! and the handle's commands reach the watch through one channel, so that they apply in
//! the order they were given.

mod event;
mod job;
mod options;
mod target;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use futures::Stream;
use tokio::sync::mpsc;
use tokio::time::Sleep;

use crate::clock::{self, later};
use crate::error::{Error, Result};
use crate::pinger::{Call, Pinger, Plan, Probing};
use crate::scheduler::{Finished, Scheduler, Step};
use crate::socket::address::parse_address;
use crate::stats::Stats;
pub use event::WatchEvent;
use job::WatchJob;
use options::Rules;
pub use options::WatchOptions;
use target::{Feed, Shared, Target, Watched};

/// What a handle asks of its watch, in the order asked: the targets themselves change at
/// once, in the registry both share; the watch follows with its scheduler.
#[derive(Debug)]
enum Command {
    /// Targets added: to probe.
    Probe(Vec<Arc<Target>>),
    /// Targets removed: to forget at once.
    Forget,
    Stop,
}

/// Controls a running watch: adds, removes and replaces targets, reads their statistics,
/// stops it. Cheap to clone; the watch goes on when every handle is dropped.
///
/// Changes apply at once, in the order they are made ([`WatchHandle::targets`] and
/// [`WatchHandle::stats`] show them as soon as the call returns); the probing follows when
/// the watch's stream is next polled. Once the watch was stopped or dropped, the handle
/// shows no target ([`WatchHandle::is_stopped`] says so) and changes do nothing.
#[derive(Debug, Clone)]
pub struct WatchHandle {
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
}

impl WatchHandle {
    /// Starts probing `target` (an address or a name), unless it is watched already. Its
    /// first probe leaves at its place in the period.
    pub fn add(&self, target: impl Into<String>) {
        let added = self.shared.add([target.into()]);
        if !added.is_empty() {
            self.send(Command::Probe(added));
        }
    }

    /// Stops probing `target`, at once: its probes in flight are forgotten and its
    /// statistics are gone.
    pub fn remove(&self, target: &str) {
        if self.shared.remove([target]) {
            self.send(Command::Forget);
        }
    }

    /// Watches exactly `targets` from now on (a daemon reloading its configuration):
    /// those not among them are removed, the new ones added; those kept go on with their
    /// statistics and their place in the period.
    pub fn replace<I>(&self, targets: I)
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let (removed, added) = self
            .shared
            .replace(targets.into_iter().map(Into::into).collect());
        if removed {
            self.send(Command::Forget);
        }
        if !added.is_empty() {
            self.send(Command::Probe(added));
        }
    }

    fn send(&self, command: Command) {
        // A watch that ended takes no command: there is nothing to change.
        let _ = self.commands.send(command);
    }

    /// The targets watched, in no particular order; none once the watch ended.
    pub fn targets(&self) -> Vec<String> {
        self.shared.names()
    }

    /// The statistics of `target`'s last probes now; `None` for a target not watched, or
    /// once the watch ended.
    pub fn stats(&self, target: &str) -> Option<Stats> {
        let target = self.shared.get(target)?;
        Some(target.stats(clock::now()))
    }

    /// Whether `target` is up: `None` until enough probes said, for a target not watched,
    /// or once the watch ended.
    pub fn is_up(&self, target: &str) -> Option<bool> {
        self.shared.get(target)?.is_up()
    }

    /// Stops the watch: its stream ends after the events already there.
    pub fn stop(&self) {
        self.send(Command::Stop);
    }

    /// True once the watch was stopped, or its stream dropped or ended: it probes no more.
    pub fn is_stopped(&self) -> bool {
        self.shared.is_closed()
    }
}

/// Makes the job of each target the scheduler takes (boxed, so that the watch's scheduler
/// has a type that can be named).
type Jobs = Box<dyn FnMut(&Watched, IpAddr) -> WatchJob + Send>;

/// Commands applied at most in one poll, so that a flood of them does not hold the
/// runtime's thread.
const COMMANDS_PER_POLL: usize = 1_024;

/// A running watch: a stream of [`WatchEvent`]s.
///
/// Probes leave only while it is polled (as for any stream), so events never pile up
/// beyond one turn's work. Each poll does a bounded amount of work and spends tokio's
/// cooperative budget on each event: a watch under any load lets the other tasks and the
/// timers of its runtime run. Dropping it stops the watch and forgets its probes in
/// flight.
///
/// A target costs about 0.5 KiB plus 4 bytes per probe of its
/// [`window`](WatchOptions::window) (8 with a [`max_age`](WatchOptions::max_age)).
pub struct Watch {
    scheduler: Scheduler<Feed, WatchJob, Jobs>,
    rules: Arc<Rules>,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    /// Targets whose name did not resolve, to feed again when due (in order: each one
    /// period after it failed).
    retries: VecDeque<(Instant, Arc<Target>)>,
    retry_timer: Option<Pin<Box<Sleep>>>,
    stopped: bool,
    /// Every handle was dropped: no target can be added any more.
    handles_gone: bool,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("rules", &self.rules)
            .field("retries", &self.retries.len())
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

/// What a watch with `options` asks of the set-up: every target in flight at once.
fn plan(options: &WatchOptions) -> Plan<'_> {
    Plan {
        concurrency: usize::MAX,
        rate_limit: options.rate_limit,
        ..Plan::new(Probing::Watch, &options.probe)
    }
}

impl Watch {
    /// A watch of `targets` with `rules` on the engines of `call`, and its handle.
    fn start<I>(call: Call, rules: Rules, targets: I) -> (WatchHandle, Watch)
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let rules = Arc::new(rules);
        let jobs: Jobs = {
            let rules = Arc::clone(&rules);
            Box::new(move |target: &Watched, address: IpAddr| {
                let looked_up = parse_address(target.as_ref()).is_none();
                WatchJob::new(
                    Arc::clone(&target.0),
                    address,
                    Arc::clone(&rules),
                    looked_up,
                )
            })
        };
        let (commands_in, commands) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::new(Arc::clone(&rules)));
        let mut watch = Watch {
            scheduler: call.schedule(Feed::default(), jobs),
            rules,
            shared: Arc::clone(&shared),
            commands,
            retries: VecDeque::new(),
            retry_timer: None,
            stopped: false,
            handles_gone: false,
        };
        let added = shared.add(targets.into_iter().map(Into::into));
        watch.probe(added);
        let handle = WatchHandle {
            commands: commands_in,
            shared,
        };
        (handle, watch)
    }

    /// Starts probing targets added (unless removed meanwhile: the feed skips them).
    fn probe(&mut self, targets: Vec<Arc<Target>>) {
        let feed = self.scheduler.targets_mut();
        for target in targets {
            feed.push(target);
        }
    }

    /// Drops what the scheduler and the retries hold of removed targets.
    fn forget_removed(&mut self) {
        self.scheduler
            .retain_targets(|target| !target.0.is_removed());
        self.retries.retain(|(_, target)| !target.is_removed());
    }

    /// Ends the watch: its probes in flight are forgotten, its handles see no target.
    fn stop(&mut self) {
        self.stopped = true;
        self.scheduler.retain_targets(|_| false);
        self.scheduler.targets_mut().clear();
        self.retries.clear();
        self.retry_timer = None;
        self.shared.close();
    }

    /// Applies the handles' commands, in order.
    fn poll_commands(&mut self, cx: &mut Context<'_>) {
        // Removals are forgotten once for all those of this poll: a pass over the targets
        // and probes in flight each.
        let mut forget = false;
        let mut applied = 0;
        loop {
            if applied == COMMANDS_PER_POLL {
                // More to come: this poll has done its share.
                cx.waker().wake_by_ref();
                break;
            }
            applied += 1;
            match self.commands.poll_recv(cx) {
                Poll::Ready(Some(Command::Probe(targets))) => self.probe(targets),
                Poll::Ready(Some(Command::Forget)) => forget = true,
                Poll::Ready(Some(Command::Stop)) => return self.stop(),
                // Every handle dropped: the watch goes on with what it has.
                Poll::Ready(None) => {
                    self.handles_gone = true;
                    break;
                }
                Poll::Pending => break,
            }
        }
        if forget {
            self.forget_removed();
        }
    }

    /// Feeds the targets whose lookup is to be tried again, once due.
    fn poll_retries(&mut self, cx: &mut Context<'_>) {
        let now = clock::now();
        while let Some((due, _)) = self.retries.front()
            && *due <= now
            && let Some((_, target)) = self.retries.pop_front()
        {
            self.scheduler.targets_mut().push(target);
        }
        let Some((due, _)) = self.retries.front() else {
            self.retry_timer = None;
            return;
        };
        let timer = self
            .retry_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until((*due).into())));
        if timer.deadline() != (*due).into() {
            timer.as_mut().reset((*due).into());
        }
        if timer.as_mut().poll(cx).is_ready() {
            // Due now: the next poll feeds it.
            cx.waker().wake_by_ref();
        }
    }

    /// A target's job ended: its name is looked up again (a job for a name ends after
    /// `resolve_every`), or, when it could not be probed (its name did not resolve, no
    /// socket), that counts as a loss and it is tried again after a period — unless it
    /// never can be (an address of a family the options exclude).
    fn finished(&mut self, finished: Finished<Watched, ()>) {
        let target = finished.target.0;
        if target.is_removed() || self.stopped {
            return;
        }
        let failed = match finished.result {
            Ok(()) => return self.scheduler.targets_mut().push(target),
            Err(failed) => failed,
        };
        let now = clock::now();
        let permanent = matches!(failed.error, Error::InvalidOption { .. });
        let events = self.scheduler.events_mut();
        events.push_back(WatchEvent::Error {
            target: Arc::clone(target.name()),
            address: failed.address,
            error: failed.error,
        });
        target.record(&self.rules, now, None, events);
        if !permanent {
            self.retries
                .push_back((later(now, self.rules.period), target));
        }
    }

    /// The next event, within this poll's share of work.
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<WatchEvent>> {
        loop {
            if !self.stopped {
                self.poll_commands(cx);
            }
            if self.stopped {
                // The events already there, then the end.
                return Poll::Ready(self.scheduler.events_mut().pop_front());
            }
            self.poll_retries(cx);
            match self.scheduler.poll_step(cx) {
                Poll::Ready(Some(Step::Event(event))) => return Poll::Ready(Some(event)),
                Poll::Ready(Some(Step::Finished(finished))) => self.finished(finished),
                // Nothing to probe now: woken by a command or a retry.
                Poll::Ready(None) => {
                    if self.handles_gone && self.retries.is_empty() {
                        self.stop();
                    } else {
                        return Poll::Pending;
                    }
                }
                Poll::Pending => return Poll::Pending,
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
    /// One scheduler runs the whole watch, whatever is added later: a target added while
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
        let rules = options.rules(clock::now())?;
        let call = self.set_up(plan(options))?;
        Ok(Watch::start(call, rules, targets))
    }
}

impl Stream for Watch {
    type Item = WatchEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchEvent>> {
        // Each event spends a unit of the task's budget: once it is spent, the task yields
        // to the runtime, so that a watch that always has an event ready cannot starve the
        // other tasks and the timers of its thread.
        let budget = ready!(tokio::task::coop::poll_proceed(cx));
        let event = self.get_mut().poll_event(cx);
        if event.is_ready() {
            budget.made_progress();
        }
        event
    }
}

impl Drop for Watch {
    /// The handles see no target from now on; the scheduler, dropped next, forgets the
    /// probes in flight.
    fn drop(&mut self) {
        self.shared.close();
    }
}

#[cfg(test)]
mod tests;
