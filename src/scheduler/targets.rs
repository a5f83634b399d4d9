//! The life of a scheduler's targets: taken from the iterator while there is room, their
//! names looked up, started at their address (or the name's next one), and finished with
//! their job's output or their failure.

use std::net::IpAddr;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::stream::{FuturesUnordered, StreamExt};

use super::slab::Key;
use super::{Failed, Finished, Flight, Job, MAX_LOOKUPS, PER_TURN, Scheduler};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::family::Family;
use crate::resolve::{Resolver, check_literal};
use crate::socket::address::parse_address;
use crate::socket::core::check_target;

impl<I, J, F> Scheduler<I, J, F>
where
    I: Iterator,
    I::Item: AsRef<str>,
    J: Job,
    F: FnMut(&I::Item, IpAddr) -> J,
{
    /// The engine of this call for `family` and interface `scope_id`, looked up again if
    /// it closed.
    fn engine(&mut self, family: Family, scope_id: u32) -> Result<Engine> {
        if scope_id != 0 {
            return self.engines.engine(family, scope_id);
        }
        let slot = &mut self.family_engines[usize::from(family == Family::V6)];
        if let Some(engine) = slot.as_ref().filter(|engine| !engine.is_closed()) {
            return Ok(engine.clone());
        }
        let engine = self.engines.engine(family, 0)?;
        *slot = Some(engine.clone());
        Ok(engine)
    }

    /// Takes targets while there is room in flight and in the turn. Targets finished and
    /// not yet handed out count as in flight: a scheduler holds at most `concurrency`.
    pub(super) fn take_targets(&mut self, now: Instant) {
        while !self.exhausted
            && self.flights.len() + self.finished.len() < self.settings.concurrency
            && self.work < PER_TURN
        {
            let Some(target) = self.targets.next() else {
                self.exhausted = true;
                break;
            };
            let index = self.taken;
            self.taken += 1;
            self.work += 1;
            let literal = parse_address(target.as_ref()).map(|parsed| {
                parsed.and_then(|(address, scope_id)| {
                    check_literal(target.as_ref(), address, self.settings.family)
                        .map(|address| (address, scope_id))
                })
            });
            let key = self.flights.insert(Flight::new(index, target));
            match literal {
                Some(Ok((address, scope_id))) => self.start(key, address, scope_id, now),
                Some(Err(error)) => self.fail(key, error),
                None => self.look_up(key),
            }
        }
    }

    /// Looks up the name of target `key` when there is room among the lookups in flight,
    /// later otherwise; [`Scheduler::poll_lookups`] takes it on.
    fn look_up(&mut self, key: Key) {
        if self.lookups.as_ref().map_or(0, FuturesUnordered::len) >= MAX_LOOKUPS {
            return self.names.push_back(key);
        }
        let Some(flight) = self.flights.get(key) else {
            return;
        };
        let name = flight.target.as_ref().to_owned();
        let family = self.settings.lookup_family();
        #[cfg(test)]
        if let Some(names) = self.test_names {
            let looked_up = names(&name);
            let lookups = self.lookups.get_or_insert_with(FuturesUnordered::new);
            return lookups.push(Box::pin(async move { (key, looked_up) }));
        }
        let resolver = match &self.resolver {
            Some(resolver) => resolver.clone(),
            None => match Resolver::system() {
                Ok(resolver) => self.resolver.insert(resolver).clone(),
                Err(error) => return self.fail(key, error),
            },
        };
        // A lookup's future is large (about 2 KiB); boxed, it costs only the names, not
        // every address of a sweep.
        let lookups = self.lookups.get_or_insert_with(FuturesUnordered::new);
        lookups.push(Box::pin(async move {
            (key, resolver.lookup(&name, family).await)
        }));
    }

    /// Starts the targets whose names were looked up, and the lookups that waited for room.
    pub(super) fn poll_lookups(&mut self, cx: &mut Context<'_>, now: Instant) {
        loop {
            while self.lookups.as_ref().map_or(0, FuturesUnordered::len) < MAX_LOOKUPS
                && let Some(key) = self.names.pop_front()
            {
                self.look_up(key);
            }
            let Some(lookups) = self.lookups.as_mut() else {
                return;
            };
            let Poll::Ready(Some((key, resolved))) = lookups.poll_next_unpin(cx) else {
                return;
            };
            match resolved {
                Ok(mut addresses) => {
                    // `lookup` returns at least one address.
                    addresses.truncate(if self.settings.next_address {
                        usize::MAX
                    } else {
                        1
                    });
                    addresses.reverse();
                    let Some(first) = addresses.pop() else {
                        // `lookup` gives at least one address; were it none, the name
                        // has none.
                        let name = self
                            .flights
                            .get(key)
                            .map(|flight| flight.target.as_ref().to_owned())
                            .unwrap_or_default();
                        self.fail(key, Error::name_not_found(&name));
                        continue;
                    };
                    if let Some(flight) = self.flights.get_mut(key) {
                        flight.several = !addresses.is_empty();
                        flight.rest = addresses;
                    }
                    self.start(key, first, 0, now);
                }
                Err(error) => self.fail(key, error),
            }
        }
    }

    /// Target `key` has its address: checks it and starts its job. An address that
    /// cannot be probed fails the target, or passes it to the name's next address.
    fn start(&mut self, key: Key, mut address: IpAddr, scope_id: u32, now: Instant) {
        loop {
            let family = Family::of(&address);
            let engine = check_target(address)
                .and_then(|()| self.settings.check_family(family))
                .and_then(|()| self.engine(family, scope_id));
            let Some(flight) = self.flights.get_mut(key) else {
                return;
            };
            flight.address = Some(address);
            flight.scope_id = scope_id;
            match engine {
                Ok(engine) => {
                    flight.engine = Some(engine);
                    flight.job = Some((self.jobs)(&flight.target, address));
                    return self.advance(key, now);
                }
                Err(error) => match flight.rest.pop() {
                    Some(next) => {
                        tracing::debug!(%address, %next, %error, "an address cannot be probed: the next one");
                        address = next;
                    }
                    None => return self.fail(key, error),
                },
            }
        }
    }

    /// Target `key`'s job is through with its address unanswered ([`Job::unanswered`]):
    /// its probes in flight are forgotten (their late answers find nothing) and it goes on
    /// at the name's next address with a new job, under a new key (a probe its old job
    /// had scheduled finds nothing either); after the last, it finishes.
    pub(super) fn move_on(&mut self, key: Key, now: Instant) {
        self.forget_probes(key);
        let Some(flight) = self.flights.get_mut(key) else {
            return;
        };
        let Some(next) = flight.rest.pop() else {
            return self.finish(key);
        };
        let Some(old) = self.flights.remove(key) else {
            return;
        };
        let key = self.flights.insert(Flight {
            rest: old.rest,
            several: true,
            ..Flight::new(old.index, old.target)
        });
        self.start(key, next, 0, now);
    }

    /// Target `key` could not be probed.
    /// Forgets the probes target `key` has in flight: their late answers find nothing,
    /// and nothing of them stays.
    fn forget_probes(&mut self, key: Key) {
        let Some(flight) = self.flights.get_mut(key) else {
            return;
        };
        if flight.in_flight == 0 {
            return;
        }
        let engine = flight.engine.clone();
        flight.in_flight = 0;
        self.probes.retain(|_, probe| {
            if probe.flight != key {
                return true;
            }
            if let Some(engine) = &engine {
                engine.forget(&probe.ticket);
            }
            false
        });
    }

    /// Target `key`'s engine closed (its socket failed): the call's engine for its family
    /// is looked up again (a new socket), so that a long trace or watch outlives its
    /// socket; when none opens, the target fails with why, its probes forgotten. False
    /// when the target failed.
    pub(super) fn reopen(&mut self, key: Key) -> bool {
        let Some(flight) = self.flights.get(key) else {
            return false;
        };
        let (Some(address), scope_id) = (flight.address, flight.scope_id) else {
            return true;
        };
        let engine = self
            .engine(Family::of(&address), scope_id)
            .and_then(|engine| match engine.closed_error() {
                // The system gave the same engine back (no new socket could be made).
                Some(error) => Err(error),
                None => Ok(engine),
            });
        match engine {
            Ok(engine) => {
                if let Some(flight) = self.flights.get_mut(key) {
                    flight.engine = Some(engine);
                }
                true
            }
            Err(error) => {
                self.forget_probes(key);
                self.fail(key, error);
                false
            }
        }
    }

    fn fail(&mut self, key: Key, error: Error) {
        let Some(flight) = self.flights.remove(key) else {
            return;
        };
        self.finished.push_back(Finished {
            index: flight.index,
            target: flight.target,
            result: Err(Failed {
                error,
                address: flight.address,
            }),
        });
        self.work += 1;
    }

    /// Target `key` is done: its job's output.
    pub(super) fn finish(&mut self, key: Key) {
        let Some(flight) = self.flights.remove(key) else {
            return;
        };
        let (Some(job), Some(address)) = (flight.job, flight.address) else {
            return;
        };
        debug_assert_eq!(
            flight.in_flight, 0,
            "a target finishes with nothing in flight"
        );
        self.finished.push_back(Finished {
            index: flight.index,
            target: flight.target,
            result: Ok(job.finish(address, flight.scope_id)),
        });
        self.work += 1;
    }
}
