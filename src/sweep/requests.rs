//! The life of a sweep's requests: sent (or queued behind the rate limit, the interval or
//! a full send buffer), answered through the inbox, or timed out.

use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use futures::future::BoxFuture;

use super::{Sweep, Waiting, key_of};
use crate::engine::{Engine, Launched, Sending, Ticket, Token};
use crate::socket::later;
use crate::{Error, Result};

/// A request whose send waits for room in the socket's send buffer.
pub(super) struct Blocked {
    token: Token,
    ticket: Ticket,
    engine: Engine,
    send: BoxFuture<'static, Result<Instant>>,
    /// Polled at least once: it will wake the sweep when the request left.
    pub(super) polled: bool,
    /// What the engine said meanwhile (it closed): the request's outcome once it left.
    settled: Option<Error>,
}

impl Blocked {
    /// Forgets the request: the sweep gives up on it before it left.
    pub(super) fn forget(&self) {
        self.engine.forget(&self.ticket);
    }
}

/// A request due at some instant; `paced` once it holds a slot of the rate limit.
#[derive(Debug, Clone, Copy)]
pub(super) struct Due {
    token: Token,
    paced: bool,
}

impl<I> Sweep<I>
where
    I: Iterator,
    I::Item: AsRef<str>,
{
    /// Moves host `key` on once its last request is settled: its next request, after the
    /// interval if `after_interval`, or its result.
    pub(super) fn advance(&mut self, key: u32, now: Instant, mut after_interval: bool) {
        loop {
            let Some(flight) = self.flights.get(key) else {
                return;
            };
            if flight.left == 0 {
                return self.finish(key, None, None);
            }
            let due = Due {
                token: self.next_token(key),
                paced: false,
            };
            let interval = self.requests().interval;
            if after_interval && !interval.is_zero() {
                return self.sends.push(later(now, interval), due);
            }
            if !self.send(due, now) {
                return;
            }
            // The send failed at once: the next request follows its interval.
            after_interval = true;
        }
    }

    /// Sends the request `due` now, or when the rate limit allows, or once the blocked
    /// send left. True when it failed at once (its error is in the host's tally).
    fn send(&mut self, due: Due, now: Instant) -> bool {
        if !due.paced
            && let Some(pacer) = &self.plan.requests.pacer
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
        let (requests, inbox) = (&self.plan.requests, &self.inbox);
        let Some(flight) = self
            .flights
            .get_mut(key_of(due.token))
            .filter(|flight| flight.token == due.token)
        else {
            return false;
        };
        let (Some(address), Some(engine)) = (flight.address, flight.engine.as_ref()) else {
            return false;
        };
        flight.left -= 1;
        let probe = requests.probe(address, requests.ttl);
        match engine.launch(&probe, inbox, due.token) {
            Ok(Launched {
                ticket,
                sending: Sending::Sent(sent_at),
            }) => {
                let deadline = later(sent_at, requests.timeout);
                flight.tally.sent();
                flight.waiting = Some(Waiting {
                    ticket,
                    sent_at,
                    deadline,
                });
                self.timeouts.push(deadline, due.token);
                false
            }
            Ok(Launched {
                ticket,
                sending: Sending::Blocked(send),
            }) => {
                self.blocked = Some(Blocked {
                    token: due.token,
                    ticket,
                    engine: engine.clone(),
                    send,
                    polled: false,
                    settled: None,
                });
                false
            }
            Err(error) => {
                flight.tally.send_failed(error);
                true
            }
        }
    }

    /// Sends the requests that are due.
    pub(super) fn send_due(&mut self, now: Instant) {
        while self.blocked.is_none()
            && let Some(due) = self.ready.pop_front()
        {
            if self.send(due, now) {
                self.advance(key_of(due.token), now, true);
            }
        }
        while let Some((_, due)) = self.sends.pop_due(now) {
            if self.send(due, now) {
                self.advance(key_of(due.token), now, true);
            }
        }
    }

    /// Finishes the send that waited for room in the send buffer, once it can.
    pub(super) fn poll_blocked(&mut self, cx: &mut TaskContext<'_>, now: Instant) {
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
        let timeout = self.requests().timeout;
        let Some(flight) = self.current(blocked.token) else {
            blocked.engine.forget(&blocked.ticket);
            return;
        };
        match sent {
            Ok(sent_at) => {
                flight.tally.sent();
                if let Some(error) = blocked.settled {
                    flight.tally.settle(sent_at, Err(error));
                    return self.advance(key_of(blocked.token), now, true);
                }
                let deadline = later(sent_at, timeout);
                flight.waiting = Some(Waiting {
                    ticket: blocked.ticket,
                    sent_at,
                    deadline,
                });
                self.timeouts.push(deadline, blocked.token);
            }
            Err(error) => {
                blocked.engine.forget(&blocked.ticket);
                flight.tally.send_failed(error);
                self.advance(key_of(blocked.token), now, true);
            }
        }
    }

    /// Settles the requests whose replies (or engine errors) are in the inbox.
    pub(super) fn take_replies(&mut self, now: Instant) {
        let mut replies = std::mem::take(&mut self.replies);
        self.inbox.take(&mut replies);
        let timeout = self.requests().timeout;
        for (token, result) in replies.drain(..) {
            let Some(flight) = self.current(token) else {
                continue;
            };
            // Whoever handed the reply over removed the request from the table.
            let Some(waiting) = flight.waiting.take() else {
                // The engine closed while the request waited for room to leave.
                if let (Some(blocked), Err(error)) = (self.blocked.as_mut(), result)
                    && blocked.token == token
                {
                    blocked.settled = Some(error);
                }
                continue;
            };
            let result = match result {
                Ok(reply) if reply.time() > waiting.deadline => {
                    Err(Error::TimeoutExceeded { timeout })
                }
                other => other,
            };
            flight.tally.settle(waiting.sent_at, result);
            self.advance(key_of(token), now, true);
        }
        self.replies = replies;
    }

    /// Settles the requests whose deadline passed without a reply.
    pub(super) fn expire(&mut self, now: Instant) {
        let timeout = self.requests().timeout;
        while let Some((deadline, token)) = self.timeouts.pop_due(now) {
            let Some(engine) = self
                .current(token)
                .filter(|flight| flight.waiting.is_some())
                .and_then(|flight| flight.engine.clone())
            else {
                continue;
            };
            // The reply may have arrived in time and still wait in the socket buffer,
            // the receive task being behind: have it handed out first.
            engine.catch_up(deadline);
            self.take_replies(now);
            let Some(flight) = self.current(token) else {
                continue;
            };
            let Some(waiting) = flight.waiting.take() else {
                continue;
            };
            engine.forget(&waiting.ticket);
            flight
                .tally
                .settle(waiting.sent_at, Err(Error::TimeoutExceeded { timeout }));
            self.advance(key_of(token), now, true);
        }
        self.compact_timeouts();
    }

    /// Drops the entries of answered requests from the timeouts once they outnumber the
    /// hosts in flight, so that memory follows the hosts in flight, not the send rate.
    fn compact_timeouts(&mut self) {
        if self.timeouts.len() <= 2 * self.flights.len() + 1_024 {
            return;
        }
        let flights = &self.flights;
        self.timeouts.retain(|token| {
            flights
                .get(key_of(*token))
                .is_some_and(|flight| flight.token == *token && flight.waiting.is_some())
        });
    }
}
