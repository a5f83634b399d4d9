//! The life of a scheduler's probes: asked for by a job, sent (or queued behind a pause,
//! the rate limit, the turn or a full send buffer), then settled by an answer through the
//! inbox, by a timeout, or by a failure to leave.

use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;

use super::slab::Key;
use super::{Job, Mark, Now, Outstanding, PER_TURN, Scheduler};
use crate::clock::later;
use crate::engine::{Engine, Launched, Sending};
use crate::error::{Error, Result};
use crate::socket::reply::IcmpReply;

/// A probe whose send waits for room in the send buffer.
pub(super) struct Blocked {
    /// Its key among the probes in flight.
    probe: Key,
    send: BoxFuture<'static, Result<Instant>>,
    /// Polled at least once: it will wake the scheduler when the probe left.
    pub(super) polled: bool,
    /// What the engine said meanwhile (it closed): the probe's outcome once it left.
    settled: Option<Error>,
}

/// A probe due at some instant, for target `flight`; `paced` once it holds a slot of the
/// rate limit.
#[derive(Debug, Clone, Copy)]
pub(super) struct Due {
    flight: Key,
    mark: Mark,
    payload_size: Option<usize>,
    last: bool,
    paced: bool,
}

impl<I, J, F> Scheduler<I, J, F>
where
    I: Iterator,
    I::Item: AsRef<str>,
    J: Job,
    F: FnMut(&I::Item, std::net::IpAddr) -> J,
{
    /// The clocks for the jobs: `now` and this turn's wall clock.
    fn clocks(&self, now: Instant) -> Now {
        Now {
            instant: now,
            wall: self.wall,
        }
    }

    /// Asks target `key`'s job for its next probe and sends or schedules it; finishes the
    /// target once its job has nothing more to send and nothing is in flight.
    pub(super) fn advance(&mut self, key: Key, now: Instant) {
        let clocks = self.clocks(now);
        loop {
            let Some(flight) = self.flights.get_mut(key) else {
                return;
            };
            let Some(job) = flight.job.as_mut() else {
                return;
            };
            if flight.several && job.unanswered() {
                return self.move_on(key, now);
            }
            if flight.scheduled {
                return;
            }
            let Some(next) = job.next(flight.in_flight as usize, clocks) else {
                if flight.in_flight == 0 {
                    self.finish(key);
                }
                return;
            };
            flight.scheduled = true;
            let due = Due {
                flight: key,
                mark: Mark::of(&next),
                payload_size: next.payload_size,
                last: next.last,
                paced: false,
            };
            if next.after > self.settings.slack {
                return self.sends.push(later(now, next.after), due);
            }
            if self.work >= PER_TURN {
                return self.ready.push_back(due);
            }
            if !self.send(due, now) {
                return;
            }
        }
    }

    /// Sends the probe `due` now, or when the rate limit allows, or once the blocked send
    /// left. True when it is settled as far as sending goes (it left, or failed at once):
    /// the job may then say what comes next.
    fn send(&mut self, due: Due, now: Instant) -> bool {
        if self.flights.get(due.flight).is_none() {
            // Its target was removed meanwhile.
            return false;
        }
        if !due.paced
            && let Some(pacer) = &self.settings.pacer
        {
            let slot = pacer.reserve(now);
            let due = Due { paced: true, ..due };
            if slot > now {
                self.sends.push(slot, due);
                return false;
            }
        }
        if self.blocked.is_some() {
            self.ready.push_back(Due { paced: true, ..due });
            return false;
        }
        if self
            .flights
            .get(due.flight)
            .and_then(|flight| flight.engine.as_ref())
            .is_some_and(Engine::is_closed)
            && !self.reopen(due.flight)
        {
            return false;
        }
        let clocks = self.clocks(now);
        let Some(flight) = self.flights.get_mut(due.flight) else {
            return false;
        };
        let (Some(address), Some(engine), Some(job)) =
            (flight.address, flight.engine.as_ref(), flight.job.as_mut())
        else {
            return false;
        };
        self.work += 1;
        let token = self.probes.next_key();
        let probe = self.settings.probe(
            address,
            flight.scope_id,
            due.mark,
            due.payload_size,
            due.last,
        );
        match engine.launch(&probe, &self.inbox, token) {
            Ok(Launched {
                ticket,
                sending: Sending::Sent(sent_at),
            }) => {
                let deadline = later(sent_at, self.settings.timeout);
                flight.scheduled = false;
                flight.in_flight += 1;
                job.sent(due.mark, clocks);
                self.read_after_send = true;
                self.sent_unread += 1;
                if self.sent_unread >= super::READ_EVERY {
                    // Mid-turn: the answers of what left so far, while they are few.
                    self.sent_unread = 0;
                    engine.read_inline();
                }
                self.probes.insert(Outstanding {
                    flight: due.flight,
                    ticket,
                    mark: due.mark,
                    sent_at: Some(sent_at),
                    deadline,
                });
                self.timeouts.push(deadline, token);
                true
            }
            Ok(Launched {
                ticket,
                sending: Sending::Blocked(send),
            }) => {
                // Still scheduled: the target waits for this probe to leave.
                flight.in_flight += 1;
                self.probes.insert(Outstanding {
                    flight: due.flight,
                    ticket,
                    mark: due.mark,
                    sent_at: None,
                    deadline: now,
                });
                self.blocked = Some(Blocked {
                    probe: token,
                    send,
                    polled: false,
                    settled: None,
                });
                false
            }
            Err(error) => {
                flight.scheduled = false;
                job.failed(due.mark, error, clocks, &mut self.events);
                true
            }
        }
    }

    /// Sends the probes that are due, as far as the turn allows.
    pub(super) fn send_due(&mut self, now: Instant) {
        while self.blocked.is_none()
            && self.work < PER_TURN
            && let Some(due) = self.ready.pop_front()
        {
            if self.send(due, now) {
                self.advance(due.flight, now);
            }
        }
        while self.work < PER_TURN
            && let Some((_, due)) = self.sends.pop_due(later(now, self.settings.slack))
        {
            if self.send(due, now) {
                self.advance(due.flight, now);
            }
        }
    }

    /// Finishes the send that waited for room in the send buffer, once it can.
    pub(super) fn poll_blocked(&mut self, cx: &mut Context<'_>, now: Instant) {
        let clocks = self.clocks(now);
        let Some(blocked) = self.blocked.as_mut() else {
            return;
        };
        blocked.polled = true;
        let Poll::Ready(sent) = blocked.send.as_mut().poll(cx) else {
            return;
        };
        let Some(blocked) = self.blocked.take() else {
            return;
        };
        let token = blocked.probe;
        let Some(probe) = self.probes.get_mut(token) else {
            return;
        };
        let flight = probe.flight;
        match (sent, blocked.settled) {
            (Ok(sent_at), None) => {
                self.read_after_send = true;
                let deadline = later(sent_at, self.settings.timeout);
                probe.sent_at = Some(sent_at);
                probe.deadline = deadline;
                let mark = probe.mark;
                self.timeouts.push(deadline, token);
                if let Some(flight) = self.flights.get_mut(flight) {
                    flight.scheduled = false;
                    if let Some(job) = flight.job.as_mut() {
                        job.sent(mark, clocks);
                    }
                }
            }
            (Ok(sent_at), Some(error)) => {
                probe.sent_at = Some(sent_at);
                if let Some(probe) = self.probes.remove(token) {
                    self.settle(probe, Err(error), true, now);
                }
            }
            (Err(error), _) => {
                let Some(probe) = self.probes.remove(token) else {
                    return;
                };
                if let Some(flight) = self.flights.get_mut(probe.flight) {
                    if let Some(engine) = &flight.engine {
                        engine.forget(&probe.ticket);
                    }
                    flight.scheduled = false;
                    flight.in_flight -= 1;
                    if let Some(job) = flight.job.as_mut() {
                        job.failed(probe.mark, error, clocks, &mut self.events);
                    }
                }
            }
        }
        self.advance(flight, now);
    }

    /// Settles the probes whose answers (or engine errors) are in the inbox.
    pub(super) fn take_answers(&mut self, now: Instant) {
        let mut answers = std::mem::take(&mut self.answers);
        self.inbox.take(&mut answers);
        for (token, result) in answers.drain(..) {
            let Some(probe) = self.probes.get(token) else {
                continue;
            };
            // Whoever handed the answer over removed the probe from the engine's table.
            if probe.sent_at.is_none() {
                // The engine closed while the probe waited for room to leave.
                if let (Some(blocked), Err(error)) = (self.blocked.as_mut(), result)
                    && blocked.probe == token
                {
                    blocked.settled = Some(error);
                }
                continue;
            }
            let Some(probe) = self.probes.remove(token) else {
                continue;
            };
            let flight = probe.flight;
            let result = match result {
                // Received after its deadline, before the timer fired (timers round up to
                // the millisecond): too late all the same.
                Ok(reply) if reply.time() > probe.deadline => Err(Error::TimeoutExceeded {
                    timeout: self.settings.timeout,
                }),
                other => other,
            };
            // Only an answer in time has duplicates: a late one was a loss.
            if result.is_ok() {
                self.answered.record(token, flight, probe.mark);
            }
            self.settle(probe, result, false, now);
            self.advance(flight, now);
        }
        self.answers = answers;
        let mut duplicates = std::mem::take(&mut self.duplicates);
        self.inbox.take_duplicates(&mut duplicates);
        // A duplicate whose original was delivered after the answers were taken waits for
        // the next turn, when its original has been handled.
        let clocks = self.clocks(now);
        duplicates.retain(|(token, reply)| {
            let Some((flight, mark)) = self.answered.get(*token) else {
                return self.probes.get(*token).is_some();
            };
            if let Some(job) = self
                .flights
                .get_mut(flight)
                .and_then(|flight| flight.job.as_mut())
            {
                job.duplicate(mark, reply, clocks, &mut self.events);
            }
            false
        });
        self.duplicates = duplicates;
    }

    /// Tells the job of `probe` its outcome. `scheduled_until_now`: the probe was what its
    /// target waited for to leave (a blocked send).
    fn settle(
        &mut self,
        probe: Outstanding,
        outcome: Result<IcmpReply>,
        scheduled_until_now: bool,
        now: Instant,
    ) {
        let clocks = self.clocks(now);
        let Some(flight) = self.flights.get_mut(probe.flight) else {
            return;
        };
        flight.in_flight -= 1;
        if scheduled_until_now {
            flight.scheduled = false;
        }
        let (Some(job), Some(sent_at)) = (flight.job.as_mut(), probe.sent_at) else {
            return;
        };
        if scheduled_until_now {
            job.sent(probe.mark, clocks);
        }
        job.settle(probe.mark, sent_at, outcome, clocks, &mut self.events);
    }

    /// Settles the probes whose deadline passed without an answer, once their engine has
    /// read everything that arrived before the deadline.
    pub(super) fn expire(&mut self, cx: &mut Context<'_>, now: Instant) {
        self.draining = false;
        let timeout = self.settings.timeout;
        while self.work < PER_TURN
            && let Some((deadline, &token)) = self.timeouts.first()
            && deadline <= now
        {
            let engine = self
                .probes
                .get(token)
                .filter(|probe| probe.sent_at.is_some())
                .and_then(|probe| self.flights.get(probe.flight))
                .and_then(|flight| flight.engine.clone());
            let Some(engine) = engine else {
                // Answered already.
                self.timeouts.pop_due(now);
                continue;
            };
            // The answer may have arrived in time and still wait in the socket buffer,
            // the reader being behind: it is handed out first.
            if engine.poll_drained(deadline, cx).is_pending() {
                self.draining = true;
                break;
            }
            self.timeouts.pop_due(now);
            self.take_answers(now);
            let Some(probe) = self.probes.remove(token) else {
                continue;
            };
            engine.forget(&probe.ticket);
            let flight = probe.flight;
            self.work += 1;
            self.settle(probe, Err(Error::TimeoutExceeded { timeout }), false, now);
            self.advance(flight, now);
        }
        self.compact_timeouts();
    }

    /// Drops the entries of answered probes from the timeouts once they outnumber the
    /// probes in flight, so that memory follows what is in flight, not the send rate.
    fn compact_timeouts(&mut self) {
        if self.timeouts.len() <= 2 * self.probes.len() + 1_024 {
            return;
        }
        let probes = &self.probes;
        self.timeouts.retain(|token| {
            probes
                .get(*token)
                .is_some_and(|probe| probe.sent_at.is_some())
        });
    }
}
