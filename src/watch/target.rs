//! A watched target and what the watch shares with its handles: each target's state in a
//! cell of its own (its job records every outcome there without looking it up), the map
//! from names to cells that the handles read, the targets' places in the period, and the
//! queue of targets waiting for the scheduler.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::event::WatchEvent;
use super::options::Rules;
use crate::scheduler::Events;
use crate::stats::{Stats, Window};

/// A watched target: its name (kept once, shared by its events), its place in the period,
/// and its state.
#[derive(Debug)]
pub(crate) struct Tracked {
    name: Arc<str>,
    /// Its slot among the places in the period ([`Slots`]).
    slot: u32,
    /// Removed from the watch: a target added again under the same name is another one.
    removed: AtomicBool,
    /// A job probed it already: the next job (after a new lookup) keeps to the places of
    /// the period, without taking one just passed again.
    started: AtomicBool,
    state: Mutex<State>,
}

/// What a target's probes came to.
#[derive(Debug)]
struct State {
    up: Option<bool>,
    answers_in_a_row: u32,
    losses_in_a_row: u32,
    window: Window,
}

impl Tracked {
    /// True the first time only: whether this is the target's first job.
    pub(crate) fn first_job(&self) -> bool {
        !self.started.swap(true, Ordering::Relaxed)
    }

    pub(crate) fn new(name: Arc<str>, slot: u32, rules: &Rules) -> Tracked {
        Tracked {
            name,
            slot,
            removed: AtomicBool::new(false),
            started: AtomicBool::new(false),
            state: Mutex::new(State {
                up: None,
                answers_in_a_row: 0,
                losses_in_a_row: 0,
                window: rules.window(),
            }),
        }
    }

    pub(crate) fn name(&self) -> &Arc<str> {
        &self.name
    }

    pub(crate) fn slot(&self) -> u32 {
        self.slot
    }

    pub(crate) fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Relaxed)
    }

    pub(crate) fn remove(&self) {
        self.removed.store(true, Ordering::Relaxed);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a probe sent at `sent_at`: answered after `rtt` milliseconds, or lost; and
    /// the state change it makes, as an event.
    pub(crate) fn record(
        &self,
        rules: &Rules,
        sent_at: Instant,
        rtt: Option<f64>,
        events: &mut Events<WatchEvent>,
    ) {
        let change = {
            let mut state = self.state();
            match rtt {
                Some(rtt) => {
                    state.window.reply(sent_at, rtt);
                    state.answers_in_a_row = state.answers_in_a_row.saturating_add(1);
                    state.losses_in_a_row = 0;
                }
                None => {
                    state.window.lost(sent_at);
                    state.losses_in_a_row = state.losses_in_a_row.saturating_add(1);
                    state.answers_in_a_row = 0;
                }
            }
            let now_up = if state.answers_in_a_row >= rules.up_after {
                Some(true)
            } else if state.losses_in_a_row >= rules.down_after {
                Some(false)
            } else {
                None
            };
            match now_up {
                Some(up) if state.up != Some(up) => Some((up, state.up.replace(up))),
                _ => None,
            }
        };
        if let Some((up, previous)) = change {
            events.push_back(WatchEvent::State {
                target: Arc::clone(&self.name),
                up,
                previous,
            });
        }
    }

    /// Records a duplicate reply that arrived at `at`.
    pub(crate) fn duplicate(&self, at: Instant) {
        self.state().window.duplicate(at);
    }

    pub(crate) fn stats(&self, now: Instant) -> Stats {
        self.state().window.stats(now)
    }

    pub(crate) fn is_up(&self) -> Option<bool> {
        self.state().up
    }
}

/// The targets of a watch by name, and their places in the period: changed by the
/// handles (at once, in the order they are called) and by the watch, read by both.
#[derive(Debug)]
pub(crate) struct Shared {
    rules: Arc<Rules>,
    registry: RwLock<Registry>,
    /// The watch was stopped or dropped: its handles see no target and change nothing.
    closed: AtomicBool,
}

#[derive(Debug, Default)]
struct Registry {
    targets: HashMap<Arc<str>, Arc<Tracked>>,
    slots: Slots,
}

impl Shared {
    pub(crate) fn new(rules: Arc<Rules>) -> Shared {
        Shared {
            rules,
            registry: RwLock::default(),
            closed: AtomicBool::new(false),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds the targets named that are not watched yet, each at the first free place in
    /// the period, and returns them, for the scheduler.
    pub(crate) fn add(&self, names: impl IntoIterator<Item = Arc<str>>) -> Vec<Arc<Tracked>> {
        let mut registry = self.write();
        let mut added = Vec::new();
        if self.is_closed() {
            return added;
        }
        for name in names {
            if registry.targets.contains_key(&name) {
                continue;
            }
            let slot = registry.slots.take();
            let target = Arc::new(Tracked::new(Arc::clone(&name), slot, &self.rules));
            registry.targets.insert(name, Arc::clone(&target));
            added.push(target);
        }
        added
    }

    /// Removes the targets named; true if one was watched.
    pub(crate) fn remove<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> bool {
        let mut registry = self.write();
        let mut removed = false;
        for name in names {
            if let Some(target) = registry.targets.remove(name) {
                target.remove();
                registry.slots.give_back(target.slot());
                removed = true;
            }
        }
        removed
    }

    /// Watches exactly the targets named: removes the others, adds the new ones (those
    /// returned). The first value: whether a target was removed.
    pub(crate) fn replace(&self, names: Vec<Arc<str>>) -> (bool, Vec<Arc<Tracked>>) {
        let gone: Vec<Arc<str>> = {
            let keep: std::collections::HashSet<&str> = names.iter().map(|name| &**name).collect();
            self.read()
                .targets
                .keys()
                .filter(|name| !keep.contains(&***name))
                .cloned()
                .collect()
        };
        let removed = self.remove(gone.iter().map(|name| &**name));
        (removed, self.add(names))
    }

    /// The names of the targets watched.
    pub(crate) fn names(&self) -> Vec<String> {
        if self.is_closed() {
            return Vec::new();
        }
        self.read()
            .targets
            .keys()
            .map(|name| name.to_string())
            .collect()
    }

    /// The target named `name`, while the watch runs.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Tracked>> {
        if self.is_closed() {
            return None;
        }
        self.read().targets.get(name).cloned()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The watch ended: its targets are gone.
    pub(crate) fn close(&self) {
        let mut registry = self.write();
        self.closed.store(true, Ordering::Release);
        for target in registry.targets.values() {
            target.remove();
        }
        *registry = Registry::default();
    }
}

/// The places of the targets in the period: slot `n` is at the fraction of the period
/// given by `n`'s bits reversed (0, 1/2, 1/4, 3/4, 1/8, ...), so that however many
/// targets there are, and whether they came at once or one by one, their probes spread
/// over the period with gaps at most twice the even spacing. A removed target's slot is
/// given to the next one added, the lowest first, so that the slots in use stay the first
/// ones.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    next: u32,
    free: BinaryHeap<Reverse<u32>>,
}

impl Slots {
    pub(crate) fn take(&mut self) -> u32 {
        match self.free.pop() {
            Some(Reverse(slot)) => slot,
            None => {
                let slot = self.next;
                self.next = self.next.saturating_add(1);
                slot
            }
        }
    }

    pub(crate) fn give_back(&mut self, slot: u32) {
        self.free.push(Reverse(slot));
    }
}

/// Where slot `slot` sits in `period`.
pub(crate) fn phase(slot: u32, period: Duration) -> Duration {
    let fraction = u128::from(slot.reverse_bits());
    let nanos = period.as_nanos().saturating_mul(fraction) >> 32;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// The first instant at or after `now` at which slot `slot` is due: the epoch, plus its
/// place in the period, plus whole periods.
pub(crate) fn next_due(rules: &Rules, slot: u32, now: Instant) -> Instant {
    let first = crate::clock::later(rules.epoch, phase(slot, rules.period));
    let behind = now.saturating_duration_since(first);
    if behind.is_zero() {
        return first;
    }
    let period = rules.period.as_nanos().max(1);
    let periods = behind.as_nanos().div_ceil(period);
    let wait = Duration::from_nanos(u64::try_from(periods * period).unwrap_or(u64::MAX));
    crate::clock::later(first, wait)
}

/// When a target's first probe is due: at its place in the period now if that passed by
/// at most a quarter of a period, else at its next place. A watch's first place is its
/// very start, which its first poll comes just after (and a name's first probe comes
/// after its lookup): waiting a whole period for it would leave a new watch silent for a
/// period, a one-probe watch for its whole period.
pub(crate) fn first_due(rules: &Rules, slot: u32, now: Instant) -> Instant {
    let next = next_due(rules, slot, now);
    let first = crate::clock::later(rules.epoch, phase(slot, rules.period));
    if next > first
        && let Some(previous) = next.checked_sub(rules.period)
        && now.saturating_duration_since(previous) <= rules.period / 4
    {
        return previous;
    }
    next
}

/// The targets waiting for the scheduler, in the order they came: new ones, names to
/// look up again, lookups to try again. A target removed meanwhile is skipped.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    queue: VecDeque<Arc<Tracked>>,
}

impl Feed {
    pub(crate) fn push(&mut self, target: Arc<Tracked>) {
        self.queue.push_back(target);
    }

    pub(crate) fn clear(&mut self) {
        self.queue.clear();
    }
}

impl Iterator for Feed {
    type Item = Watched;

    fn next(&mut self) -> Option<Watched> {
        loop {
            let target = self.queue.pop_front()?;
            if !target.is_removed() {
                return Some(Watched(target));
            }
        }
    }
}

/// A watched target as the scheduler holds it: by its name, which it looks up.
#[derive(Debug, Clone)]
pub(crate) struct Watched(pub Arc<Tracked>);

impl AsRef<str> for Watched {
    fn as_ref(&self) -> &str {
        &self.0.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(period: Duration) -> Rules {
        Rules {
            epoch: Instant::now(),
            period,
            ttl: 64,
            up_after: 1,
            down_after: 3,
            window: 10,
            max_age: None,
            resolve_every: None,
        }
    }

    #[test]
    fn slots_halve_the_gaps() {
        let period = Duration::from_secs(1);
        let phases: Vec<u128> = (0..4).map(|n| phase(n, period).as_millis()).collect();
        assert_eq!(phases, [0, 500, 250, 750]);
        assert_eq!(phase(u32::MAX, period).as_nanos(), 999_999_999);
    }

    #[test]
    fn slots_of_removed_targets_are_given_again_lowest_first() {
        let mut slots = Slots::default();
        let taken: Vec<u32> = (0..5).map(|_| slots.take()).collect();
        assert_eq!(taken, [0, 1, 2, 3, 4]);
        slots.give_back(3);
        slots.give_back(1);
        assert_eq!((slots.take(), slots.take(), slots.take()), (1, 3, 5));
    }

    #[test]
    fn a_slot_is_due_at_its_place_in_the_period_from_now_on() {
        let rules = rules(Duration::from_millis(100));
        let slot = 1; // half way through the period
        let at = |ms| rules.epoch + Duration::from_millis(ms);
        assert_eq!(next_due(&rules, slot, at(0)), at(50));
        assert_eq!(next_due(&rules, slot, at(50)), at(50));
        assert_eq!(next_due(&rules, slot, at(51)), at(150));
        assert_eq!(next_due(&rules, slot, at(1_049)), at(1_050));
    }

    #[test]
    fn a_first_probe_takes_a_place_just_passed() {
        let rules = rules(Duration::from_millis(100));
        let at = |ms| rules.epoch + Duration::from_millis(ms);
        // The start of the watch, polled a little after it.
        assert_eq!(first_due(&rules, 0, at(0)), at(0));
        assert_eq!(first_due(&rules, 0, at(3)), at(0));
        // Half way through the period: not passed, passed by a quarter, by more.
        assert_eq!(first_due(&rules, 1, at(10)), at(50));
        assert_eq!(first_due(&rules, 1, at(75)), at(50));
        assert_eq!(first_due(&rules, 1, at(76)), at(150));
        assert_eq!(first_due(&rules, 1, at(1_060)), at(1_050));
    }

    /// However many targets, the busiest stretch of a tenth of the even spacing holds at
    /// most two probes more than even.
    #[test]
    fn any_number_of_slots_spread_over_the_period() {
        let period = Duration::from_secs(1);
        for count in [1u32, 2, 3, 100, 1_000, 5_000, 5_001] {
            let mut phases: Vec<u128> = (0..count).map(|n| phase(n, period).as_nanos()).collect();
            phases.sort_unstable();
            let even = period.as_nanos() / u128::from(count);
            let widest = phases
                .windows(2)
                .map(|pair| pair[1] - pair[0])
                .chain(std::iter::once(
                    period.as_nanos() - phases[phases.len() - 1] + phases[0],
                ))
                .max()
                .unwrap_or(0);
            assert!(
                widest <= 2 * even + 1,
                "{count}: gap {widest} against {even}"
            );
        }
    }

    #[test]
    fn a_removed_target_is_skipped_by_the_feed() {
        let rules = rules(Duration::from_secs(1));
        let mut feed = Feed::default();
        let kept = Arc::new(Tracked::new("kept".into(), 0, &rules));
        let gone = Arc::new(Tracked::new("gone".into(), 1, &rules));
        feed.push(Arc::clone(&gone));
        feed.push(Arc::clone(&kept));
        gone.remove();
        assert_eq!(
            feed.next().map(|t| t.0.name().to_string()),
            Some("kept".into())
        );
        assert!(feed.next().is_none());
    }
}
