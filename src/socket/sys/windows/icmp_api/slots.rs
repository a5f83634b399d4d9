//! The table of requests a session's thread has with the system: a slot per request, whose
//! key — index and generation — is the request's APC context, a plain number. A key whose
//! slot was emptied, or reused since, finds nothing: a completion routine that ran late
//! (or twice) can never take another request's buffer. Pure code, tested everywhere.
// Used by the Windows backend only; compiled everywhere for its tests.
#![cfg_attr(not(windows), allow(dead_code))]

/// Bits of a key that give the slot's index; the rest is its generation.
const INDEX_BITS: u32 = 16;

/// Slots at most: requests a session can have in flight.
pub(crate) const MAX_SLOTS: usize = 1 << INDEX_BITS;

struct Slot<T> {
    generation: usize,
    /// The request, and the order it was put in.
    value: Option<(u64, T)>,
}

/// Requests by key, in the order they were put in.
pub(crate) struct Slots<T> {
    slots: Vec<Slot<T>>,
    free: Vec<usize>,
    live: usize,
    next_order: u64,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots {
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            next_order: 0,
        }
    }
}

impl<T> Slots<T> {
    /// Puts `value` in a free slot: its key, or the value back when every slot is taken.
    pub(crate) fn insert(&mut self, value: T) -> Result<usize, T> {
        let index = match self.free.pop() {
            Some(index) => index,
            None if self.slots.len() < MAX_SLOTS => {
                self.slots.push(Slot {
                    generation: 0,
                    value: None,
                });
                self.slots.len() - 1
            }
            None => return Err(value),
        };
        let slot = &mut self.slots[index];
        slot.generation = slot.generation.wrapping_add(1);
        slot.value = Some((self.next_order, value));
        self.next_order += 1;
        self.live += 1;
        Ok((slot.generation << INDEX_BITS) | index)
    }

    /// The value under `key`, left in.
    pub(crate) fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        let slot = self.slots.get_mut(key & (MAX_SLOTS - 1))?;
        if slot.generation << INDEX_BITS != key & !(MAX_SLOTS - 1) {
            return None;
        }
        slot.value.as_mut().map(|(_, value)| value)
    }

    /// Takes the value under `key` out, with the order it was put in; `None` when the key
    /// is stale.
    pub(crate) fn take(&mut self, key: usize) -> Option<(u64, T)> {
        let index = key & (MAX_SLOTS - 1);
        let slot = self.slots.get_mut(index)?;
        if slot.generation << INDEX_BITS != key & !(MAX_SLOTS - 1) {
            return None;
        }
        let value = slot.value.take()?;
        self.free.push(index);
        self.live -= 1;
        Some(value)
    }

    /// Values in the slots.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Values in the slots put in before the `order`-th.
    pub(crate) fn live_before(&self, order: u64) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.value.as_ref().is_some_and(|(put, _)| *put < order))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_comes_out_once_under_its_key() {
        let mut slots = Slots::default();
        let a = slots.insert("a").unwrap();
        let b = slots.insert("b").unwrap();
        assert_eq!(slots.live(), 2);
        assert_eq!(slots.take(a), Some((0, "a")));
        assert_eq!(slots.take(a), None);
        assert_eq!(slots.take(b), Some((1, "b")));
        assert_eq!(slots.live(), 0);
    }

    #[test]
    fn a_stale_key_finds_nothing_in_a_reused_slot() {
        let mut slots = Slots::default();
        let old = slots.insert(1).unwrap();
        slots.take(old).unwrap();
        let new = slots.insert(2).unwrap();
        assert_eq!(slots.get_mut(old), None);
        assert_eq!(slots.get_mut(new), Some(&mut 2));
        assert_eq!(
            old & (MAX_SLOTS - 1),
            new & (MAX_SLOTS - 1),
            "the slot is reused"
        );
        assert_eq!(slots.take(old), None);
        assert_eq!(slots.take(new), Some((1, 2)));
        assert_eq!(slots.take(usize::MAX), None);
    }

    #[test]
    fn live_before_counts_the_earlier_values_still_in() {
        let mut slots = Slots::default();
        let keys: Vec<usize> = (0..5).map(|n| slots.insert(n).unwrap()).collect();
        slots.take(keys[1]).unwrap();
        assert_eq!(slots.live_before(4), 3);
        assert_eq!(slots.live_before(0), 0);
    }

    #[test]
    fn the_table_is_bounded() {
        let mut slots = Slots::default();
        for n in 0..MAX_SLOTS {
            assert!(slots.insert(n).is_ok());
        }
        assert_eq!(slots.insert(7), Err(7));
    }
}
