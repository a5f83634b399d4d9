//! The probe scheduler: the one way a target is probed, for `ping` (one target),
//! `multiping` (many, with a bound on those in flight), `traceroute` (one target over
//! distances), path MTU (one target, growing sizes) and `watch` (targets that come and go,
//! probed without end, their events handed out as they happen).
//!
//! A [`Scheduler`] takes targets from an iterator, resolves names, and for each target asks
//! its [`Job`] what to send next: a probe with a TTL, now or after a pause. It hands the
//! probes to the engine of the target's family and settles each one with its answer, its
//! timeout or its failure to leave, telling the job. What a job makes of the outcomes (a
//! `Host`, the hops of a trace) is the job's business: the scheduler knows
//! nothing of statistics.
//!
//! One set of rules, here and in `probes.rs`: a probe's deadline runs from the moment it
//! left; an answer received after the deadline is a timeout, even when the timer has not
//! fired yet; a deadline is final only once the engine has read everything that arrived
//! before it ([`Engine::poll_drained`]); an answer for a probe no longer waited for finds
//! nothing; dropping the scheduler forgets every probe in flight.
//!
//! A scheduler is one state machine, not a future per target: its targets and probes in
//! flight live in [`Slab`]s, the answers to all its probes land in one [`Inbox`], and the
//! instants at which a probe times out or the next one is due wait in [`Timeline`]s behind
//! a single timer. A target in flight costs its slot in the slab plus its job.
//!
//! # Turns
//! One poll could start tens of thousands of probes and hold its worker meanwhile: other
//! tasks would wait, among them the engine's reader when the scheduler's own call spawned
//! it (a task spawned from a worker waits in that worker's next-task slot, which no other
//! worker steals; measured: a sweep of 65,534 hosts in a spawned task got its replies only
//! when its first requests timed out). So a scheduler counts its work: it takes, finishes
//! and sends at most [`PER_TURN`] units per turn, then yields.

#[cfg(test)]
pub(crate) mod fake;
mod job;
mod pacer;
mod probes;
mod settings;
mod slab;
mod targets;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_next;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, Stream};
use tokio::time::Sleep;

use crate::clock;
use crate::engine::{Engine, Inbox, Ticket, Token};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::resolve::Resolver;
use crate::socket::reply::IcmpReply;
#[cfg(test)]
pub(crate) use job::Told;
pub(crate) use job::{Events, Job, Mark, Next, Now, Pause};
pub(crate) use pacer::Pacer;
use probes::{Blocked, Due};
pub(crate) use settings::Settings;
use slab::{Key, Recent, Slab, Timeline};

/// Probes a scheduler sends before it reads their answers, within a turn: a turn of 256
/// sends takes about a millisecond on loopback, longer than the reader waits behind tasks
/// that read inline (measured: reading every 64 sends keeps a sweep's replies on its own
/// thread).
pub(crate) const READ_EVERY: usize = 64;

/// Units of work (targets taken or finished, probes sent) in one turn of a scheduler.
pub(crate) const PER_TURN: usize = 256;

/// Names looked up at once at most by one call. A lookup holds a socket for each of its
/// questions (A and AAAA) until the answers come: 1,000 names in flight at once ran a
/// process out of file descriptors at the usual limit of 1,024, and the failed lookups
/// looked like names that do not exist. Names beyond it wait, keeping their place among
/// the targets in flight.
const MAX_LOOKUPS: usize = 64;

/// Where a scheduler's engines come from: a `Pinger`'s, for one socket
/// kind and source address (or, in the tests, engines on a fake transport).
pub(crate) trait Engines: Send + Sync {
    /// The engine for requests to `family`, to a destination reached through the
    /// interface `scope_id` (a link-local IPv6 address's zone; 0 for none), which a
    /// link-local source address needs too.
    ///
    /// # Errors
    /// Why there is none: the socket cannot be opened, the source address is of the
    /// other family, ...
    fn engine(&self, family: Family, scope_id: u32) -> Result<Engine>;
}

/// A target that could not be probed at all.
#[derive(Debug, Clone)]
pub(crate) struct Failed {
    pub error: Error,
    /// Its address, when the failure came after the lookup.
    pub address: Option<IpAddr>,
}

/// A target done: its place among the targets, the target itself, and what it came to.
#[derive(Debug)]
pub(crate) struct Finished<T, O> {
    pub index: usize,
    pub target: T,
    pub result: std::result::Result<O, Failed>,
}

/// The tests' table of names: a name's addresses, or why it has none.
#[cfg(test)]
type TestNames = fn(&str) -> Result<Vec<IpAddr>>;

/// A name being looked up, for the target of this key: its addresses.
type Lookup = BoxFuture<'static, (Key, Result<Vec<IpAddr>>)>;

/// A target in flight.
#[derive(Debug)]
struct Flight<T, J> {
    /// Its place among the targets.
    index: usize,
    target: T,
    /// `None` while its name is looked up.
    address: Option<IpAddr>,
    /// The interface of a link-local IPv6 address (its zone); 0 for none.
    scope_id: u32,
    engine: Option<Engine>,
    /// Made once its address is known.
    job: Option<J>,
    /// Probes sent (or waiting for room to leave) and not settled.
    in_flight: u32,
    /// A probe is due (after a pause, the rate limit, or a blocked send).
    scheduled: bool,
    /// The name's addresses after this one, the next last, when the call tries them
    /// ([`Settings::next_address`]); empty otherwise.
    rest: Vec<IpAddr>,
    /// The name has several addresses and the call tries them: its job may be through
    /// with one ([`Job::unanswered`]).
    several: bool,
}

impl<T, J> Flight<T, J> {
    /// Target `target`, at `index` among the targets, before its address is known.
    fn new(index: usize, target: T) -> Flight<T, J> {
        Flight {
            index,
            target,
            address: None,
            scope_id: 0,
            engine: None,
            job: None,
            in_flight: 0,
            scheduled: false,
            rest: Vec::new(),
            several: false,
        }
    }
}

/// A probe in flight.
#[derive(Debug)]
struct Outstanding {
    flight: Key,
    ticket: Ticket,
    mark: Mark,
    /// When it left; `None` while it waits for room in the send buffer.
    sent_at: Option<Instant>,
    deadline: Instant,
}

/// What a scheduler hands out: what a job told, or a target done.
#[derive(Debug)]
pub(crate) enum Step<T, O, E> {
    Event(E),
    Finished(Finished<T, O>),
}

/// What a scheduler of targets from `I` probed by jobs `J` hands out.
pub(crate) type StepOf<I, J> = Step<<I as Iterator>::Item, <J as Job>::Output, <J as Job>::Event>;

/// The probing of `targets`, as a stream of finished targets in the order they finish
/// (and, for jobs that tell something as they go, of their events: [`Scheduler::poll_step`]).
pub(crate) struct Scheduler<I: Iterator, J: Job, F> {
    engines: Arc<dyn Engines>,
    /// Made on the first name, unless given.
    resolver: Option<Resolver>,
    settings: Settings,
    jobs: F,
    targets: I,
    /// Targets taken so far: the place of the next one.
    taken: usize,
    /// The targets ran out (until more are given: [`Scheduler::targets_mut`]).
    exhausted: bool,
    flights: Slab<Flight<I::Item, J>>,
    probes: Slab<Outstanding>,
    /// The engines of this call, looked up once per family.
    family_engines: [Option<Engine>; 2],
    inbox: Arc<Inbox>,
    /// Answers taken from the inbox, being handled (kept for its room).
    answers: Vec<(Token, Result<IcmpReply>)>,
    /// Duplicates taken from the inbox, being handled.
    duplicates: Vec<(Token, IcmpReply)>,
    /// The probes answered lately, by token: where a duplicate of their answer goes.
    answered: Recent,
    /// The probes that left, by deadline. An answered probe leaves its entry behind,
    /// skipped when due (or when the timeline is compacted).
    timeouts: Timeline<Key>,
    /// Probes due after a pause or their slot of the rate limit.
    sends: Timeline<Due>,
    /// Probes due now that wait for the next turn or for `blocked` to leave first.
    ready: VecDeque<Due>,
    blocked: Option<Blocked>,
    /// Made on the first name (an empty set allocates): most calls have none.
    lookups: Option<FuturesUnordered<Lookup>>,
    /// Names waiting for room among the lookups in flight ([`MAX_LOOKUPS`]).
    names: VecDeque<Key>,
    finished: VecDeque<Finished<I::Item, J::Output>>,
    /// What the jobs told, to hand out before anything else.
    events: Events<J::Event>,
    /// The wall clock at this turn's reading of the monotonic one.
    wall: SystemTime,
    /// Made on first use, so that a scheduler can be made outside a runtime.
    timer: Option<Pin<Box<Sleep>>>,
    /// What the timer is set to.
    timer_at: Option<Instant>,
    /// A due timeout waits for its engine to read past its deadline: the engine wakes the
    /// scheduler then, not the timer.
    draining: bool,
    /// Work done in the current turn.
    work: usize,
    /// Probes left since the last inline read: the next round reads their answers on
    /// this task's thread first ([`Engine::read_inline`]).
    read_after_send: bool,
    /// Probes sent since the last read of their answers (see [`READ_EVERY`]).
    sent_unread: usize,
    /// The tests' names, looked up at once instead of by a resolver.
    #[cfg(test)]
    test_names: Option<TestNames>,
}

impl<I, J, F> Scheduler<I, J, F>
where
    I: Iterator,
    I::Item: AsRef<str>,
    J: Job,
    F: FnMut(&I::Item, IpAddr) -> J,
{
    /// A scheduler of `targets`, each probed by the job `jobs` makes for it and its
    /// address; nothing is sent before it is polled.
    pub(crate) fn new(
        engines: Arc<dyn Engines>,
        resolver: Option<Resolver>,
        settings: Settings,
        targets: I,
        jobs: F,
    ) -> Scheduler<I, J, F> {
        // Room for what is in flight when that is little (a ping, a traceroute's first
        // probes): a first allocation of the default size would be several times larger.
        let room = settings.concurrency.min(16);
        Scheduler {
            engines,
            resolver,
            settings,
            jobs,
            targets,
            taken: 0,
            exhausted: false,
            flights: Slab::with_capacity(room),
            probes: Slab::with_capacity(room),
            family_engines: [None, None],
            inbox: Arc::new(Inbox::default()),
            answers: Vec::new(),
            duplicates: Vec::new(),
            answered: Recent::default(),
            timeouts: Timeline::default(),
            sends: Timeline::default(),
            ready: VecDeque::new(),
            blocked: None,
            lookups: None,
            names: VecDeque::new(),
            finished: VecDeque::with_capacity(room),
            events: VecDeque::new(),
            wall: SystemTime::UNIX_EPOCH,
            timer: None,
            timer_at: None,
            draining: false,
            work: 0,
            read_after_send: false,
            sent_unread: 0,
            #[cfg(test)]
            test_names: None,
        }
    }

    /// This scheduler, its names looked up by `names` (the tests' own table) instead of a
    /// resolver.
    #[cfg(test)]
    pub(crate) fn with_test_names(mut self, names: TestNames) -> Self {
        self.test_names = Some(names);
        self
    }

    /// One round of work: everything that is due now. After probes left, their answers
    /// are read first, here: on loopback or a fast network many are there already, and
    /// the reader task, on another thread, would cost a wake-up to hand them over.
    fn run(&mut self, cx: &mut Context<'_>) {
        if std::mem::take(&mut self.read_after_send) {
            self.sent_unread = 0;
            // What this read hands to the inbox is taken below: no need to be woken.
            self.inbox.unregister();
            for engine in self.family_engines.iter().flatten() {
                engine.read_inline();
            }
        }
        self.inbox.register(cx.waker());
        self.wall = SystemTime::now();
        let now = clock::now();
        self.take_answers(now);
        self.expire(cx, now);
        loop {
            self.poll_blocked(cx, now);
            self.send_due(now);
            self.take_targets(now);
            // Polled after the targets are taken: a lookup added and never polled would
            // never wake the scheduler.
            self.poll_lookups(cx, now);
            // Likewise a send that found the buffer full just now.
            if self.blocked.as_ref().is_none_or(|blocked| blocked.polled) {
                break;
            }
        }
    }

    /// Sets the timer for the next due instant; true if that has passed already.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        // The deadlines of probes answered since are not worth a wake-up: most probes are
        // answered, and a watch woke once for each of their deadlines (measured: as many
        // wake-ups as probes) only to find it answered.
        while let Some((_, token)) = self.timeouts.first()
            && self
                .probes
                .get(*token)
                .is_none_or(|probe| probe.sent_at.is_none())
        {
            self.timeouts.pop_first();
        }
        let timeouts = if self.draining {
            None
        } else {
            self.timeouts.next_due()
        };
        let next = match (timeouts, self.sends.next_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(at) = next else {
            return false;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at.into())));
        if self.timer_at != Some(at) {
            timer.as_mut().reset(at.into());
            self.timer_at = Some(at);
        }
        if timer.as_mut().poll(cx).is_ready() {
            self.timer_at = None;
            return true;
        }
        false
    }

    fn is_done(&self) -> bool {
        self.exhausted && self.flights.is_empty() && self.finished.is_empty()
    }

    /// The next thing to hand out: what a job told (first, in order), or a target done.
    /// `Ready(None)` once every target is done and the targets ran out (for a scheduler
    /// given more targets later, until then).
    pub(crate) fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Option<StepOf<I, J>>> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Poll::Ready(Some(Step::Event(event)));
            }
            if let Some(finished) = self.finished.pop_front() {
                return Poll::Ready(Some(Step::Finished(finished)));
            }
            if self.work >= PER_TURN {
                // The turn is used up: to the back of the run queue.
                self.work = 0;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if self.is_done() {
                return Poll::Ready(None);
            }
            self.run(cx);
            if !self.events.is_empty()
                || !self.finished.is_empty()
                || self.work >= PER_TURN
                || self.read_after_send
                || self.poll_timer(cx)
            {
                continue;
            }
            if self.is_done() {
                return Poll::Ready(None);
            }
            // Woken by an answer, a lookup, room in the send buffer, an engine that read
            // past a deadline, or the timer.
            self.work = 0;
            return Poll::Pending;
        }
    }

    /// Makes room for `more` targets in flight at once, and no more: a watch that is given
    /// its targets knows how many it holds, and a doubling vector would take up to twice
    /// the room of each target's slot and due probe.
    pub(crate) fn reserve(&mut self, more: usize) {
        self.flights.reserve_exact(more);
        self.sends.reserve_exact(more);
    }

    /// The source of the targets, to give it more (a watch adds targets as they come):
    /// the scheduler takes them from its next turn on.
    pub(crate) fn targets_mut(&mut self) -> &mut I {
        self.exhausted = false;
        &mut self.targets
    }

    /// Where the events handed out next wait: the owner of a scheduler may tell its own
    /// among its jobs'.
    pub(crate) fn events_mut(&mut self) -> &mut Events<J::Event> {
        &mut self.events
    }

    /// Stops probing the targets in flight that `keep` says no to, at once: their probes
    /// in flight are forgotten (their late answers find nothing) and their jobs dropped
    /// without finishing. Costs a pass over the targets and the probes in flight.
    pub(crate) fn retain_targets(&mut self, mut keep: impl FnMut(&I::Item) -> bool) {
        let mut gone = Vec::new();
        self.flights.retain(|key, flight| {
            let kept = keep(&flight.target);
            if !kept {
                gone.push((key, flight.engine.take()));
            }
            kept
        });
        if gone.is_empty() {
            return;
        }
        let engines: std::collections::HashMap<Key, Option<Engine>> = gone.into_iter().collect();
        self.probes.retain(|_, probe| {
            let Some(engine) = engines.get(&probe.flight) else {
                return true;
            };
            if let Some(engine) = engine {
                engine.forget(&probe.ticket);
            }
            false
        });
        self.finished.retain(|finished| keep(&finished.target));
    }
}

// A scheduler never pins anything it holds: the iterator is driven through `&mut`, and
// the timer and the lookups live in boxes of their own.
impl<I: Iterator, J: Job, F> Unpin for Scheduler<I, J, F> {}

impl<I, J, F> Stream for Scheduler<I, J, F>
where
    I: Iterator,
    I::Item: AsRef<str>,
    J: Job<Event = std::convert::Infallible>,
    F: FnMut(&I::Item, IpAddr) -> J,
{
    type Item = Finished<I::Item, J::Output>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut().poll_step(cx) {
            Poll::Ready(Some(Step::Finished(finished))) => Poll::Ready(Some(finished)),
            Poll::Ready(Some(Step::Event(never))) => match never {},
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: Iterator, J: Job, F> Drop for Scheduler<I, J, F> {
    /// Forgets the probes in flight, so that their late answers find nothing.
    fn drop(&mut self) {
        for probe in self.probes.values() {
            if let Some(engine) = self
                .flights
                .get(probe.flight)
                .and_then(|flight| flight.engine.as_ref())
            {
                engine.forget(&probe.ticket);
            }
        }
    }
}
