//! The containers of a scheduler's state, pure data: [`Slab`]s of the targets and the
//! probes in flight, and [`Timeline`]s of what is due when.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

use super::job::Mark;

/// A key of a [`Slab`]: the slot's index in the low 32 bits, its generation in the high
/// 32 bits, so that a key stays unique after its slot is reused (4 billion times).
pub(super) type Key = u64;

/// Values under small reusable keys: the targets and the probes in flight of a scheduler,
/// addressed by the tokens their answers come back with. Room is reused, so it grows with
/// what is in flight at once, never with what was done in all; a key whose value was
/// removed finds nothing, even once its slot holds another value. Free slots are chained
/// through themselves: a slab makes one allocation as it grows, none as it is reused.
#[derive(Debug)]
pub(super) struct Slab<T> {
    slots: Vec<Slot<T>>,
    /// The first free slot; `NONE` when every slot holds a value.
    free: u32,
    len: usize,
}

/// No slot.
const NONE: u32 = u32::MAX;

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    entry: Entry<T>,
}

#[derive(Debug)]
enum Entry<T> {
    Full(T),
    /// Free; the next free slot.
    Free(u32),
}

impl<T> Default for Slab<T> {
    fn default() -> Slab<T> {
        Slab {
            slots: Vec::new(),
            free: NONE,
            len: 0,
        }
    }
}

fn split(key: Key) -> (usize, u32) {
    ((key as u32) as usize, (key >> 32) as u32)
}

impl<T> Slab<T> {
    /// An empty slab with room for `capacity` values.
    pub(super) fn with_capacity(capacity: usize) -> Slab<T> {
        Slab {
            slots: Vec::with_capacity(capacity),
            ..Slab::default()
        }
    }

    /// The key the next [`Slab::insert`] returns.
    pub(super) fn next_key(&self) -> Key {
        match self.slots.get(self.free as usize) {
            Some(slot) => (u64::from(slot.generation) << 32) | u64::from(self.free),
            // A scheduler holds far fewer than 2^32 values at once.
            None => u64::try_from(self.slots.len()).unwrap_or(u64::from(u32::MAX)),
        }
    }

    /// Stores `value` and returns its key.
    pub(super) fn insert(&mut self, value: T) -> Key {
        let key = self.next_key();
        self.len += 1;
        match self.slots.get_mut(self.free as usize) {
            Some(slot) => {
                let next = match slot.entry {
                    Entry::Free(next) => next,
                    Entry::Full(_) => NONE,
                };
                slot.entry = Entry::Full(value);
                self.free = next;
            }
            None => self.slots.push(Slot {
                generation: 0,
                entry: Entry::Full(value),
            }),
        }
        key
    }

    pub(super) fn get(&self, key: Key) -> Option<&T> {
        let (index, generation) = split(key);
        match self.slots.get(index)? {
            Slot {
                generation: current,
                entry: Entry::Full(value),
            } if *current == generation => Some(value),
            _ => None,
        }
    }

    pub(super) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        let (index, generation) = split(key);
        match self.slots.get_mut(index)? {
            Slot {
                generation: current,
                entry: Entry::Full(value),
            } if *current == generation => Some(value),
            _ => None,
        }
    }

    /// Takes the value out; its slot is reused under another key.
    pub(super) fn remove(&mut self, key: Key) -> Option<T> {
        let (index, generation) = split(key);
        let slot = self.slots.get_mut(index)?;
        if slot.generation != generation || matches!(slot.entry, Entry::Free(_)) {
            return None;
        }
        let Entry::Full(value) = std::mem::replace(&mut slot.entry, Entry::Free(self.free)) else {
            return None;
        };
        slot.generation = slot.generation.wrapping_add(1);
        self.free = index as u32;
        self.len -= 1;
        Some(value)
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes room for `more` values beyond those held, and no more.
    pub(super) fn reserve_exact(&mut self, more: usize) {
        let free = self.slots.len() - self.len;
        self.slots.reserve_exact(more.saturating_sub(free));
    }

    /// Keeps the values `keep` says yes to (given each key and value), removing the
    /// others as [`Slab::remove`] does.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(Key, &mut T) -> bool) {
        for index in 0..self.slots.len() {
            let slot = &mut self.slots[index];
            let key = (u64::from(slot.generation) << 32) | index as u64;
            if let Entry::Full(value) = &mut slot.entry
                && !keep(key, value)
            {
                self.remove(key);
            }
        }
    }

    /// Every value, in no particular order.
    pub(super) fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().filter_map(|slot| match &slot.entry {
            Entry::Full(value) => Some(value),
            Entry::Free(_) => None,
        })
    }
}

/// Items due at given instants, handed out in order of time (items due at the same
/// instant in the order they were added). A scheduler adds them almost always in that
/// order (its timeouts are equal, its requests leave one after the other, a watch's
/// targets come back one period later in the order they left), which costs O(1); an
/// item out of order (a target added to a running watch) waits in a heap, O(log n),
/// rather than being inserted in place, which moved half the line each time.
#[derive(Debug)]
pub(super) struct Timeline<T> {
    /// Items added in order of time.
    line: VecDeque<Timed<T>>,
    /// Items added out of order.
    heap: BinaryHeap<Reverse<Timed<T>>>,
    /// The order of the next item added, among those due at the same instant.
    added: u64,
}

/// An item of a [`Timeline`], ordered by when it is due, then by when it was added.
#[derive(Debug)]
struct Timed<T> {
    at: Instant,
    added: u64,
    item: T,
}

impl<T> Timed<T> {
    fn order(&self) -> (Instant, u64) {
        (self.at, self.added)
    }
}

impl<T> PartialEq for Timed<T> {
    fn eq(&self, other: &Timed<T>) -> bool {
        self.order() == other.order()
    }
}

impl<T> Eq for Timed<T> {}

impl<T> PartialOrd for Timed<T> {
    fn partial_cmp(&self, other: &Timed<T>) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Timed<T> {
    fn cmp(&self, other: &Timed<T>) -> std::cmp::Ordering {
        self.order().cmp(&other.order())
    }
}

impl<T> Default for Timeline<T> {
    fn default() -> Timeline<T> {
        Timeline {
            line: VecDeque::new(),
            heap: BinaryHeap::new(),
            added: 0,
        }
    }
}

impl<T> Timeline<T> {
    /// Adds `item`, due at `at`, after the items due at or before `at`.
    pub(super) fn push(&mut self, at: Instant, item: T) {
        let timed = Timed {
            at,
            added: self.added,
            item,
        };
        self.added += 1;
        if self.line.back().is_none_or(|last| last.at <= at) {
            self.line.push_back(timed);
        } else {
            self.heap.push(Reverse(timed));
        }
    }

    /// Makes room for `more` items in order beyond those held, and no more.
    pub(super) fn reserve_exact(&mut self, more: usize) {
        self.line.reserve_exact(more);
    }

    /// True when the first item is the heap's.
    fn heap_first(&self) -> bool {
        match (self.line.front(), self.heap.peek()) {
            (Some(line), Some(Reverse(heap))) => heap < line,
            (None, Some(_)) => true,
            _ => false,
        }
    }

    /// The first item due at or before `now`, with the instant it was due.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<(Instant, T)> {
        if self.next_due()? > now {
            return None;
        }
        self.pop_first()
    }

    /// Takes out the first item, whenever it is due.
    pub(super) fn pop_first(&mut self) -> Option<(Instant, T)> {
        let timed = if self.heap_first() {
            let timed = self.heap.pop()?.0;
            if self.heap.is_empty() {
                // Items out of order come in bursts (targets added to a watch): the room
                // they took is given back once they are all due.
                self.heap.shrink_to_fit();
            }
            timed
        } else {
            self.line.pop_front()?
        };
        Some((timed.at, timed.item))
    }

    /// The first item, with the instant it is due.
    pub(super) fn first(&self) -> Option<(Instant, &T)> {
        let timed = if self.heap_first() {
            &self.heap.peek()?.0
        } else {
            self.line.front()?
        };
        Some((timed.at, &timed.item))
    }

    /// When the next item is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.first().map(|(at, _)| at)
    }

    pub(super) fn len(&self) -> usize {
        self.line.len() + self.heap.len()
    }

    /// Keeps only the items `keep` says yes to, in their order.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.line.retain(|timed| keep(&timed.item));
        self.heap.retain(|Reverse(timed)| keep(&timed.item));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use std::time::Duration;

    #[test]
    fn slab_slots_are_reused_under_new_keys_and_room_stays_with_the_peak() {
        let mut slab = Slab::default();
        let mut keys: Vec<Key> = (0..100).map(|i| slab.insert(i)).collect();
        assert_eq!(slab.len(), 100);
        for round in 0..10_000 {
            let key = keys[round % 100];
            let value = slab.remove(key).unwrap();
            assert_eq!(slab.get(key), None);
            let next = slab.next_key();
            let again = slab.insert(value);
            assert_eq!(again, next);
            // The same slot, under a key the old one never matches.
            assert_eq!(again as u32, key as u32);
            assert_ne!(again, key);
            assert_eq!(slab.get(key), None);
            keys[round % 100] = again;
        }
        assert_eq!(slab.slots.len(), 100);
        assert_eq!(slab.remove(1_000), None);
        assert_eq!(slab.remove(keys[0]), Some(0));
        assert_eq!(slab.remove(keys[0]), None);
        assert_eq!(slab.len(), 99);
        assert_eq!(slab.values().count(), 99);
        let even = keys[1..]
            .iter()
            .filter(|key| slab.get(**key).is_some_and(|v| v % 2 == 0));
        let even: Vec<Key> = even.copied().collect();
        slab.retain(|key, value| {
            assert_eq!(slab_key_value(key), *value % 100);
            *value % 2 == 0
        });
        assert_eq!(slab.len(), even.len());
        for key in &keys[1..] {
            assert_eq!(slab.get(*key).is_some(), even.contains(key));
        }
    }

    /// What the values of the test above hold: their slot.
    fn slab_key_value(key: Key) -> usize {
        key as u32 as usize
    }

    #[test]
    fn timeline_hands_items_out_when_due_in_order_of_time() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut timeline = Timeline::default();
        timeline.push(at(10), "a");
        timeline.push(at(30), "c");
        timeline.push(at(20), "b");
        timeline.push(at(30), "d");
        assert_eq!(timeline.next_due(), Some(at(10)));
        assert_eq!(timeline.pop_due(at(5)), None);
        assert_eq!(timeline.pop_due(at(25)), Some((at(10), "a")));
        assert_eq!(timeline.pop_due(at(25)), Some((at(20), "b")));
        assert_eq!(timeline.pop_due(at(25)), None);
        // Equal instants keep the order they were added in.
        assert_eq!(timeline.pop_due(at(30)), Some((at(30), "c")));
        assert_eq!(timeline.pop_due(at(30)), Some((at(30), "d")));
        assert_eq!(timeline.next_due(), None);
        let mut numbers = Timeline::default();
        for ms in 0..10 {
            numbers.push(at(ms), ms);
        }
        numbers.retain(|ms| ms % 3 == 0);
        assert_eq!(numbers.len(), 4);
        assert_eq!(numbers.pop_due(at(100)), Some((at(0), 0)));
        assert_eq!(numbers.pop_due(at(100)), Some((at(3), 3)));
    }

    proptest! {
        /// Whatever the order items are added in, they come out sorted by time, each once,
        /// items due at the same instant in the order they were added.
        #[test]
        fn timeline_sorts_any_order(due in proptest::collection::vec(0u64..50, 0..200)) {
            let start = Instant::now();
            let mut timeline = Timeline::default();
            for (i, ms) in due.iter().enumerate() {
                timeline.push(start + Duration::from_millis(*ms), i);
            }
            let mut out = Vec::new();
            while let Some((at, i)) = timeline.pop_due(start + Duration::from_millis(100)) {
                out.push((at, i));
            }
            prop_assert_eq!(out.len(), due.len());
            // In order of time, and of adding among items due at the same instant.
            prop_assert!(out.windows(2).all(|pair| pair[0] < pair[1]));
            let mut seen: Vec<usize> = out.iter().map(|(_, i)| *i).collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..due.len()).collect::<Vec<_>>());
        }

        /// A slab behaves as a map from its keys, whatever the inserts and removals.
        #[test]
        fn slab_is_a_map(ops in proptest::collection::vec(any::<Option<u8>>(), 0..300)) {
            let mut slab = Slab::default();
            let mut model = HashMap::new();
            for (i, op) in ops.into_iter().enumerate() {
                match op {
                    Some(pick) if !model.is_empty() => {
                        let keys: Vec<Key> = model.keys().copied().collect();
                        let key = keys[pick as usize % keys.len()];
                        prop_assert_eq!(slab.remove(key), model.remove(&key));
                    }
                    _ => {
                        let key = slab.insert(i);
                        prop_assert!(model.insert(key, i).is_none());
                    }
                }
                prop_assert_eq!(slab.len(), model.len());
                for (key, value) in &model {
                    prop_assert_eq!(slab.get(*key), Some(value));
                }
            }
        }
    }
}

/// The probes answered lately, by token, with their target and mark: where a duplicate of
/// their answer goes. A ring, searched only when a duplicate comes (rare), so that an
/// answer costs a push and nothing more. Bounded like the engine's memory of answers.
#[derive(Debug, Default)]
pub(super) struct Recent {
    entries: VecDeque<(Key, Key, Mark)>,
}

/// Probes remembered: as many as an engine remembers answers.
const RECENT: usize = 4_096;

impl Recent {
    pub(super) fn record(&mut self, probe: Key, flight: Key, mark: Mark) {
        if self.entries.len() == RECENT {
            self.entries.pop_front();
        }
        self.entries.push_back((probe, flight, mark));
    }

    pub(super) fn get(&self, probe: Key) -> Option<(Key, Mark)> {
        self.entries
            .iter()
            .rev()
            .find(|(key, _, _)| *key == probe)
            .map(|(_, flight, mark)| (*flight, *mark))
    }
}
