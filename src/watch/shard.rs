//! One scheduler of a watch and what it does with its targets: takes those the handles
//! add, forgets those they remove at once, looks names up again, tries failed lookups
//! again a period later, and hands out its jobs' events. A watch runs one shard in its own
//! stream, or several, each in a task of its own with a socket of its own
//! ([`WatchOptions::sockets`](super::WatchOptions::sockets)).

use std::collections::VecDeque;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::time::Sleep;

use super::event::WatchEvent;
use super::job::WatchJob;
use super::options::Rules;
use super::target::{self, Feed, Shared, Tracked, Watched};
use crate::clock::{self, later};
use crate::error::Error;
use crate::pinger::Call;
use crate::scheduler::{Finished, Scheduler, Step};
use crate::socket::address::parse_address;

/// What a handle asks of a shard of its watch, in the order asked: the targets themselves
/// change at once, in the registry both share; the shard follows with its scheduler.
#[derive(Debug)]
pub(super) enum Command {
    /// Targets added: to probe.
    Probe(Vec<Arc<Tracked>>),
    /// Targets removed: to forget at once.
    Forget,
    Stop,
}

/// Makes the job of each target the scheduler takes (boxed, so that the watch's scheduler
/// has a type that can be named).
type Jobs = Box<dyn FnMut(&Watched, IpAddr) -> WatchJob + Send>;

/// Commands applied at most in one poll, so that a flood of them does not hold the
/// runtime's thread.
const COMMANDS_PER_POLL: usize = 1_024;

/// One scheduler of a watch, with the targets it probes.
pub(super) struct Shard {
    scheduler: Scheduler<Feed, WatchJob, Jobs>,
    rules: Arc<Rules>,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    /// Targets whose name did not resolve, to feed again when due (in order: each one
    /// period after it failed).
    retries: VecDeque<(Instant, Arc<Tracked>)>,
    retry_timer: Option<Pin<Box<Sleep>>>,
    stopped: bool,
    /// Every handle was dropped: no target can be added any more.
    handles_gone: bool,
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("retries", &self.retries.len())
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}

impl Shard {
    /// A shard on the engines of `call`, and where its commands go.
    pub(super) fn new(
        call: Call,
        rules: &Arc<Rules>,
        shared: &Arc<Shared>,
    ) -> (Shard, mpsc::UnboundedSender<Command>) {
        let jobs: Jobs = {
            let rules = Arc::clone(rules);
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
        let shard = Shard {
            scheduler: call.schedule(Feed::default(), jobs),
            rules: Arc::clone(rules),
            shared: Arc::clone(shared),
            commands,
            retries: VecDeque::new(),
            retry_timer: None,
            stopped: false,
            handles_gone: false,
        };
        (shard, commands_in)
    }

    /// Starts probing targets added (unless removed meanwhile: the feed skips them), in
    /// the order of their places in the period, so that their first probes are due in the
    /// order the scheduler takes them.
    pub(super) fn probe(&mut self, mut targets: Vec<Arc<Tracked>>) {
        targets.sort_by_key(|target| target::phase(target.slot(), self.rules.period));
        // Room for a batch, exactly; one by one, the vectors grow as vectors do (room for
        // one more each time would copy them all each time).
        if targets.len() >= 64 {
            self.scheduler.reserve(targets.len());
        }
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

    /// Ends the shard (and so the watch): its probes in flight are forgotten, its handles
    /// see no target.
    pub(super) fn stop(&mut self) {
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
    pub(super) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<WatchEvent>> {
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
