//! The sweep behind [`crate::multiping`]: many hosts pinged from one task, with a bound
//! on the hosts in flight, on the shared engines.
//!
//! A sweep is one state machine, not a future per host: its hosts in flight live in a
//! [`Slab`], the replies to all its requests land in one [`Inbox`], and the instants at
//! which a request times out or the next one is due wait in [`Timeline`]s behind a single
//! timer. A host in flight costs its 208 bytes in the slab plus its results; a request
//! costs a table entry, its payload and encoded message, one send and one entry in the
//! inbox.
//!
//! # Turns
//! One poll of a sweep could start tens of thousands of requests and hold its worker
//! meanwhile: other tasks would wait, among them the engine's receive task when the
//! sweep's own call spawned it (a task spawned from a worker waits in that worker's
//! next-task slot, which no other worker steals; measured: a sweep of 65,534 hosts in a
//! spawned task got its replies only when its first requests timed out). So a sweep
//! counts its work: it takes and finishes at most [`PER_TURN`] hosts per turn, then
//! yields.

mod requests;
mod slab;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, Stream, StreamExt};
use tokio::time::Sleep;

use crate::context::Context;
use crate::engine::{Engine, Inbox, Ticket, Token};
use crate::ping::{Requests, Tally};
use crate::socket::IcmpReply;
use crate::{Error, Family, Host, Result};
use requests::{Blocked, Due};
use slab::{Slab, Timeline};

/// Targets taken plus hosts finished in one turn of a sweep.
pub(crate) const PER_TURN: usize = 256;

/// Hosts in flight at most, whatever the options say: slab keys are 32 bits.
const MAX_IN_FLIGHT: usize = u32::MAX as usize;

/// A checked sweep: the requests of each host and the bound on hosts in flight.
#[derive(Debug)]
pub(crate) struct Plan {
    pub requests: Requests,
    pub family: Option<Family>,
    pub concurrency: usize,
}

/// The result for one target, and whether its error is a failure of the whole call (a
/// socket that cannot be opened) rather than of the target.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub host: Host,
    pub fatal: Option<Error>,
}

/// A host in flight.
#[derive(Debug)]
struct Flight<T> {
    /// Its place among the targets.
    index: usize,
    target: T,
    /// `None` while its name is looked up.
    address: Option<IpAddr>,
    engine: Option<Engine>,
    tally: Tally,
    /// Requests still to send.
    left: usize,
    /// The token of its current request: looked up, due, sent or waiting for room.
    token: Token,
    /// The request that left and waits for its reply.
    waiting: Option<Waiting>,
}

#[derive(Debug)]
struct Waiting {
    ticket: Ticket,
    sent_at: Instant,
    deadline: Instant,
}

/// The slab key of the host a token belongs to (its low 32 bits).
fn key_of(token: Token) -> u32 {
    token as u32
}

/// The hosts of a sweep, as a stream of (index, outcome) in the order they finish.
pub(crate) struct Sweep<I: Iterator> {
    context: Context,
    plan: Arc<Plan>,
    targets: Box<std::iter::Enumerate<I>>,
    exhausted: bool,
    flights: Slab<Flight<I::Item>>,
    /// Numbers the requests, so that a token is never reused within a sweep (in its high
    /// 32 bits; wraps after 4 billion requests).
    serial: u32,
    inbox: Arc<Inbox>,
    /// Replies taken from the inbox, being handled (kept for its room).
    replies: Vec<(Token, Result<IcmpReply>)>,
    /// The requests that left, by deadline. An answered request leaves its entry
    /// behind, skipped when due (or when the timeline is compacted).
    timeouts: Timeline<Token>,
    /// Requests due after their interval or their slot of the rate limit.
    sends: Timeline<Due>,
    /// Requests due now that wait for `blocked` to leave first.
    ready: VecDeque<Due>,
    blocked: Option<Blocked>,
    lookups: FuturesUnordered<BoxFuture<'static, (Token, Result<IpAddr>)>>,
    finished: VecDeque<(usize, Outcome)>,
    /// Made on first use, so that a sweep can be made outside a runtime.
    timer: Option<Pin<Box<Sleep>>>,
    /// What the timer is set to, and the instant it last fired for (tokio's clock, which
    /// a test may have paused, is then taken as reached).
    timer_at: Option<Instant>,
    fired_at: Option<Instant>,
    /// Work done in the current turn.
    work: usize,
}

// Nothing in a sweep is pinned in place: the iterator is boxed and the timer and the
// futures live in their own boxes.
impl<I: Iterator> Unpin for Sweep<I> {}

impl<I> Sweep<I>
where
    I: Iterator,
    I::Item: AsRef<str>,
{
    /// A sweep of `targets`, nothing sent yet.
    pub(crate) fn new(context: Context, targets: I, plan: Arc<Plan>) -> Sweep<I> {
        Sweep {
            context,
            plan,
            targets: Box::new(targets.enumerate()),
            exhausted: false,
            flights: Slab::default(),
            serial: 0,
            inbox: Arc::new(Inbox::default()),
            replies: Vec::new(),
            timeouts: Timeline::default(),
            sends: Timeline::default(),
            ready: VecDeque::new(),
            blocked: None,
            lookups: FuturesUnordered::new(),
            finished: VecDeque::new(),
            timer: None,
            timer_at: None,
            fired_at: None,
            work: 0,
        }
    }

    fn requests(&self) -> &Requests {
        &self.plan.requests
    }

    /// A new token for the next request of host `key`, which becomes its current one.
    fn next_token(&mut self, key: u32) -> Token {
        self.serial = self.serial.wrapping_add(1);
        let token = (u64::from(self.serial) << 32) | u64::from(key);
        if let Some(flight) = self.flights.get_mut(key) {
            flight.token = token;
        }
        token
    }

    /// The host whose current request is `token`.
    fn current(&mut self, token: Token) -> Option<&mut Flight<I::Item>> {
        self.flights
            .get_mut(key_of(token))
            .filter(|flight| flight.token == token)
    }

    /// Takes targets while there is room in flight and in the turn. Hosts finished and
    /// not yet handed out count as in flight: a sweep holds at most `concurrency` hosts.
    fn take_targets(&mut self, now: Instant) {
        while !self.exhausted
            && self.flights.len() + self.finished.len() < self.plan.concurrency.min(MAX_IN_FLIGHT)
            && self.work < PER_TURN
        {
            let Some((index, target)) = self.targets.next() else {
                self.exhausted = true;
                break;
            };
            self.work += 1;
            let literal = Context::resolve_literal(target.as_ref(), self.plan.family);
            let key = self.flights.insert(Flight {
                index,
                target,
                address: None,
                engine: None,
                tally: Tally::default(),
                left: self.plan.requests.count,
                token: 0,
                waiting: None,
            });
            match literal {
                Some(Ok(address)) => self.start(key, address, now),
                Some(Err(error)) => self.finish(key, Some(error), None),
                None => self.look_up(key),
            }
        }
    }

    /// Looks up the name of host `key`; [`Sweep::poll_lookups`] takes it from there.
    fn look_up(&mut self, key: u32) {
        let token = self.next_token(key);
        let Some(flight) = self.flights.get(key) else {
            return;
        };
        let name = flight.target.as_ref().to_owned();
        let (context, family) = (self.context.clone(), self.plan.family);
        self.lookups.push(Box::pin(async move {
            (token, context.resolve(&name, family).await)
        }));
    }

    /// Host `key` has its address: checks it and sends its first request.
    fn start(&mut self, key: u32, address: IpAddr, now: Instant) {
        let family = Family::of(&address);
        if let Err(error) = self.requests().check_family(family) {
            return self.finish(key, Some(error), None);
        }
        match self.context.engine(family) {
            Ok(engine) => {
                if let Some(flight) = self.flights.get_mut(key) {
                    flight.address = Some(address);
                    flight.engine = Some(engine);
                }
                self.advance(key, now, false);
            }
            Err(error) => {
                let fatal = error.fails_the_call().then(|| error.clone());
                if let Some(flight) = self.flights.get_mut(key) {
                    flight.address = Some(address);
                }
                self.finish(key, Some(error), fatal);
            }
        }
    }

    /// Starts the hosts whose names were looked up.
    fn poll_lookups(&mut self, cx: &mut TaskContext<'_>, now: Instant) {
        while let Poll::Ready(Some((token, resolved))) = self.lookups.poll_next_unpin(cx) {
            if self.current(token).is_none() {
                continue;
            }
            match resolved {
                Ok(address) => self.start(key_of(token), address, now),
                Err(error) => self.finish(key_of(token), Some(error), None),
            }
        }
    }

    /// Host `key` is done: its result, with `error` if it failed before its requests.
    fn finish(&mut self, key: u32, error: Option<Error>, fatal: Option<Error>) {
        let Some(flight) = self.flights.remove(key) else {
            return;
        };
        let target = flight.target.as_ref();
        let host = match (error, flight.address) {
            (None, Some(address)) => flight.tally.into_host(address),
            (error, address) => {
                let address = address.map_or_else(|| target.to_owned(), |a| a.to_string());
                Host::new(address, 0, Vec::new()).with_error(error)
            }
        };
        let host = host.with_target(target);
        self.finished
            .push_back((flight.index, Outcome { host, fatal }));
        self.work += 1;
    }

    /// One round of work: everything that is due now.
    fn run(&mut self, cx: &mut TaskContext<'_>) {
        self.inbox.register(cx.waker());
        let now = Instant::now();
        let now = self.fired_at.take().map_or(now, |fired| now.max(fired));
        self.take_replies(now);
        self.expire(now);
        loop {
            self.poll_blocked(cx, now);
            self.send_due(now);
            self.take_targets(now);
            // Polled after the targets are taken: a lookup added and never polled would
            // never wake the sweep.
            self.poll_lookups(cx, now);
            // Likewise a send that found the buffer full just now.
            if self.blocked.as_ref().is_none_or(|blocked| blocked.polled) {
                break;
            }
        }
    }

    /// Sets the timer for the next due instant; true if that has passed already.
    fn poll_timer(&mut self, cx: &mut TaskContext<'_>) -> bool {
        let next = match (self.timeouts.next_due(), self.sends.next_due()) {
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
            self.fired_at = Some(at);
            self.timer_at = None;
            return true;
        }
        false
    }
}

impl<I> Stream for Sweep<I>
where
    I: Iterator,
    I::Item: AsRef<str>,
{
    type Item = (usize, Outcome);

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(finished) = this.finished.pop_front() {
                return Poll::Ready(Some(finished));
            }
            if this.work >= PER_TURN {
                // The turn is used up: to the back of the run queue.
                this.work = 0;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if this.exhausted && this.flights.is_empty() {
                return Poll::Ready(None);
            }
            this.run(cx);
            if !this.finished.is_empty() || this.work >= PER_TURN || this.poll_timer(cx) {
                continue;
            }
            if this.exhausted && this.flights.is_empty() {
                return Poll::Ready(None);
            }
            // Woken by a reply, a lookup, room in the send buffer or the timer.
            this.work = 0;
            return Poll::Pending;
        }
    }
}

impl<I: Iterator> Drop for Sweep<I> {
    /// Forgets the requests in flight, so that their late replies find nothing.
    fn drop(&mut self) {
        for flight in self.flights.values() {
            if let (Some(engine), Some(waiting)) = (&flight.engine, &flight.waiting) {
                engine.forget(&waiting.ticket);
            }
        }
        if let Some(blocked) = &self.blocked {
            blocked.forget();
        }
    }
}

#[cfg(test)]
mod tests;
