//! The pending table: which requests are waiting for a reply, keyed by what a reply
//! carries back (peer address, identifier, sequence number). Pure data, no I/O, no clock.
//!
//! Keys are allocated here, so two requests in flight never share one whatever the
//! callers ask for: the sequence number is chosen by the table, skipping keys in use, and
//! wraps around at 65,535. Each (peer, identifier) in flight has a cursor: how many of its
//! 65,536 sequence numbers are in flight (a full one is refused at once) and where the
//! next free one is looked for (after the last one given, so that requests answered or
//! timed out in the order they left leave it free: O(1) amortised).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use crate::error::{Error, Result};

/// What identifies a reply: the address it answers for, the identifier and the sequence
/// number. On datagram sockets the kernel owns the identifier, so it is 0 in the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub peer: IpAddr,
    pub id: u16,
    pub sequence: u16,
}

/// A fast hasher for keys: a multiply-rotate mix of the key's words (as FxHash does).
///
/// Flooding cannot degrade it: only the library inserts keys (it chooses the sequence
/// numbers), and looking up a key taken from a hostile packet inserts nothing.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.write_u64(u64::from(value));
    }

    fn write_u16(&mut self, value: u16) {
        self.write_u64(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Debug)]
struct Entry<W> {
    payload: Arc<[u8]>,
    waiter: W,
    generation: u64,
}

/// What [`PendingTable::insert`] hands back: the request's key, and which use of that key
/// it is, so that a request that gave up late never removes a newer request that was given
/// the same key after the sequence numbers wrapped around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub key: Key,
    generation: u64,
}

/// Requests waiting for a reply, each with the payload it was sent with and its waiter.
#[derive(Debug)]
pub(crate) struct PendingTable<W> {
    entries: HashMap<Key, Entry<W>, BuildHasherDefault<KeyHasher>>,
    /// The (peer, identifier) pairs in flight, counted once the table holds [`COUNT_FROM`]
    /// requests: below that, no pair can be full and a scan from `next_sequence` looks at
    /// few slots, and a sweep of distinct hosts pays nothing for the counting.
    cursors: Option<HashMap<(IpAddr, u16), Cursor, BuildHasherDefault<KeyHasher>>>,
    /// After the last sequence number given: where the next one is looked for (a pair
    /// that is not counted, or new). A pair seen again thus does not reuse at once the
    /// numbers whose late replies may still come.
    next_sequence: u16,
    next_generation: u64,
    closed: Option<Error>,
    /// Slots looked at by inserts, to show that allocation is O(1) amortised.
    #[cfg(test)]
    probed: u64,
}

/// The sequence numbers of one (peer, identifier) pair.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    in_flight: u32,
    next: u16,
}

/// Sequence numbers of one (peer, identifier) pair.
const SEQUENCES: u32 = 1 << 16;

/// Requests in the table from which pairs are counted (and below half of which they are
/// not any more).
const COUNT_FROM: usize = 4_096;

impl<W> PendingTable<W> {
    /// An empty table whose first sequence number is `first_sequence`.
    pub fn new(first_sequence: u16) -> PendingTable<W> {
        PendingTable {
            entries: HashMap::default(),
            cursors: None,
            next_sequence: first_sequence,
            next_generation: 0,
            closed: None,
            #[cfg(test)]
            probed: 0,
        }
    }

    /// True when all 65,536 sequence numbers of `peer` and `id` are in flight: an
    /// insert would fail.
    pub fn is_full(&self, peer: IpAddr, id: u16) -> bool {
        self.cursors
            .as_ref()
            .and_then(|cursors| cursors.get(&(peer, id)))
            .is_some_and(|cursor| cursor.in_flight >= SEQUENCES)
    }

    /// Counts the pairs in flight, once the table is large enough for one to fill up.
    fn count_pairs(&mut self) {
        if self.cursors.is_some() || self.entries.len() < COUNT_FROM {
            return;
        }
        let mut cursors: HashMap<_, Cursor, BuildHasherDefault<KeyHasher>> = HashMap::default();
        for key in self.entries.keys() {
            cursors
                .entry((key.peer, key.id))
                .or_insert(Cursor {
                    in_flight: 0,
                    next: self.next_sequence,
                })
                .in_flight += 1;
        }
        self.cursors = Some(cursors);
    }

    /// Registers a request to `peer` with identifier `id`: allocates a sequence number no
    /// request in flight to that peer and id uses, and returns its ticket.
    ///
    /// # Errors
    /// The table's error once it is closed; [`Error::InvalidOption`] at once if all
    /// 65,536 sequence numbers for this peer and id are in flight.
    #[cfg(test)]
    pub fn insert(
        &mut self,
        peer: IpAddr,
        id: u16,
        payload: Arc<[u8]>,
        waiter: W,
    ) -> Result<Ticket> {
        self.insert_with(peer, id, |_| payload, waiter)
    }

    /// As [`PendingTable::insert`], the payload made by `payload` once the sequence number
    /// is chosen (a flow-stable probe's payload depends on it).
    pub fn insert_with(
        &mut self,
        peer: IpAddr,
        id: u16,
        payload: impl FnOnce(u16) -> Arc<[u8]>,
        waiter: W,
    ) -> Result<Ticket> {
        if let Some(error) = &self.closed {
            return Err(error.clone());
        }
        self.count_pairs();
        let start = self.next_sequence;
        let mut cursor = match self.cursors.as_mut() {
            Some(cursors) => {
                let cursor = cursors.entry((peer, id)).or_insert(Cursor {
                    in_flight: 0,
                    next: start,
                });
                if cursor.in_flight >= SEQUENCES {
                    return Err(Error::invalid(format!(
                        "65,536 requests to {peer} with id {id} are already in flight"
                    )));
                }
                Some(cursor)
            }
            None => None,
        };
        // A free number exists (a counted pair is not full; an uncounted one has fewer
        // than COUNT_FROM in flight): the scan ends within 65,536 steps, usually at once.
        let mut sequence = cursor.as_ref().map_or(start, |cursor| cursor.next);
        loop {
            #[cfg(test)]
            {
                self.probed += 1;
            }
            let key = Key { peer, id, sequence };
            if let std::collections::hash_map::Entry::Vacant(slot) = self.entries.entry(key) {
                let generation = self.next_generation;
                self.next_generation += 1;
                slot.insert(Entry {
                    payload: payload(sequence),
                    waiter,
                    generation,
                });
                let next = sequence.wrapping_add(1);
                if let Some(cursor) = cursor.as_mut() {
                    cursor.in_flight += 1;
                    cursor.next = next;
                }
                self.next_sequence = next;
                return Ok(Ticket { key, generation });
            }
            sequence = sequence.wrapping_add(1);
        }
    }

    /// Takes the entry of `key` out, and its pair's count with it.
    fn take(&mut self, key: &Key) -> Option<W> {
        let entry = self.entries.remove(key)?;
        if let Some(cursors) = self.cursors.as_mut() {
            if self.entries.len() < COUNT_FROM / 2 {
                self.cursors = None;
            } else if let std::collections::hash_map::Entry::Occupied(mut cursor) =
                cursors.entry((key.peer, key.id))
            {
                cursor.get_mut().in_flight -= 1;
                if cursor.get().in_flight == 0 {
                    cursor.remove();
                }
            }
        }
        Some(entry.waiter)
    }

    /// A reply with `key` arrived: when a request waits for it and `accept` agrees with
    /// its payload, the entry is removed and its waiter returned. A reply that does not
    /// pass leaves the entry in place (the real reply may still come).
    pub fn complete(&mut self, key: &Key, accept: impl FnOnce(&[u8]) -> bool) -> Option<W> {
        let entry = self.entries.get(key)?;
        if !accept(&entry.payload) {
            return None;
        }
        self.take(key)
    }

    /// The waiter gave up (its timeout expired, or its future was dropped): forgets the
    /// request, so a late reply finds nothing. Does nothing if the ticket's request is gone
    /// already (answered), even if a newer request now holds the same key.
    pub fn remove(&mut self, ticket: &Ticket) -> Option<W> {
        match self.entries.get(&ticket.key) {
            Some(entry) if entry.generation == ticket.generation => self.take(&ticket.key),
            _ => None,
        }
    }

    /// Closes the table with `error` and returns every waiter, so each can be told.
    /// Later inserts fail with the same error. The first error sticks.
    pub fn close(&mut self, error: Error) -> Vec<W> {
        self.closed.get_or_insert(error);
        self.cursors = None;
        self.entries
            .drain()
            .map(|(_, entry)| entry.waiter)
            .collect()
    }

    /// The error the table was closed with, if it was.
    pub fn closed(&self) -> Option<&Error> {
        self.closed.as_ref()
    }

    /// Requests in flight.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The identifiers of the requests in flight (a look through them all: for the rare
    /// times a raw socket's identifier filter is full).
    pub fn ids_in_flight(&self) -> std::collections::HashSet<u16> {
        self.entries.keys().map(|key| key.id).collect()
    }

    /// Allocated room, to check that memory does not grow with requests in total.
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.entries.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn payload(bytes: &[u8]) -> Arc<[u8]> {
        bytes.to_vec().into()
    }

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    #[test]
    fn complete_checks_the_payload_and_removes_once() {
        let mut table = PendingTable::new(0);
        let key = table
            .insert(PEER, 7, payload(b"abc"), "waiter")
            .unwrap()
            .key;
        assert_eq!(
            key,
            Key {
                peer: PEER,
                id: 7,
                sequence: 0
            }
        );
        // A reply with another payload does not complete it.
        assert_eq!(table.complete(&key, |p| p == b"abd"), None);
        assert_eq!(table.len(), 1);
        assert_eq!(table.complete(&key, |p| p == b"abc"), Some("waiter"));
        // A duplicate finds nothing.
        assert_eq!(table.complete(&key, |_| true), None);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn removed_entries_ignore_late_replies() {
        let mut table = PendingTable::new(0);
        let ticket = table.insert(PEER, 1, payload(b""), 1).unwrap();
        assert_eq!(table.remove(&ticket), Some(1));
        assert_eq!(table.complete(&ticket.key, |_| true), None);
        assert_eq!(table.remove(&ticket), None);
    }

    #[test]
    fn a_late_removal_spares_a_newer_request_with_the_same_key() {
        let mut table = PendingTable::new(0);
        let old = table.insert(PEER, 1, payload(b""), "old").unwrap();
        assert_eq!(table.complete(&old.key, |_| true), Some("old"));
        // The sequence numbers wrap around and the same key is handed out again.
        for _ in 0..u16::MAX {
            let ticket = table.insert(PEER, 1, payload(b""), "filler").unwrap();
            table.remove(&ticket);
        }
        let new = table.insert(PEER, 1, payload(b""), "new").unwrap();
        assert_eq!(new.key, old.key);
        // The answered request's registration goes away late: the new one stays.
        assert_eq!(table.remove(&old), None);
        assert_eq!(table.complete(&new.key, |_| true), Some("new"));
    }

    #[test]
    fn keys_in_use_are_skipped_and_sequences_wrap() {
        let mut table = PendingTable::new(u16::MAX);
        let first = table.insert(PEER, 1, payload(b""), ()).unwrap();
        let second = table.insert(PEER, 1, payload(b""), ()).unwrap().key;
        assert_eq!((first.key.sequence, second.sequence), (u16::MAX, 0));
        // Go all the way round: the two in-flight sequences are skipped.
        for _ in 0..(u16::MAX - 1) {
            let key = table.insert(PEER, 1, payload(b""), ()).unwrap().key;
            assert!(key.sequence != first.key.sequence && key.sequence != second.sequence);
        }
        assert_eq!(table.len(), 65_536);
        assert!(matches!(
            table.insert(PEER, 1, payload(b""), ()),
            Err(Error::InvalidOption { .. })
        ));
        // Another id or another peer still has room.
        assert!(table.insert(PEER, 2, payload(b""), ()).is_ok());
        table.remove(&first);
        assert_eq!(
            table.insert(PEER, 1, payload(b""), ()).unwrap().key,
            first.key
        );
    }

    #[test]
    fn allocation_is_constant_time_even_with_every_number_of_a_peer_in_flight() {
        let mut table = PendingTable::new(0);
        let mut in_flight = std::collections::VecDeque::new();
        for _ in 0..65_536 {
            in_flight.push_back(table.insert(PEER, 1, payload(b""), ()).unwrap());
        }
        // Full: refused at once, without looking at a single slot.
        let probed = table.probed;
        assert!(table.is_full(PEER, 1));
        assert!(matches!(
            table.insert(PEER, 1, payload(b""), ()),
            Err(Error::InvalidOption { .. })
        ));
        assert_eq!(table.probed, probed);
        // Answered or timed out in the order they left, each frees the number the next
        // one gets: one slot looked at per insert.
        for round in 0..200_000 {
            let oldest = in_flight.pop_front().unwrap();
            if round % 2 == 0 {
                table.remove(&oldest);
            } else {
                table.complete(&oldest.key, |_| true);
            }
            in_flight.push_back(table.insert(PEER, 1, payload(b""), ()).unwrap());
        }
        assert!(
            table.probed - probed <= 200_000 + 1,
            "{}",
            table.probed - probed
        );
        // Other peers and identifiers are not slowed by the full one.
        let before = table.probed;
        for i in 0..1_000u16 {
            table.insert(PEER, 2 + i, payload(b""), ()).unwrap();
        }
        assert_eq!(table.probed - before, 1_000);
        // A pair with nothing in flight leaves no cursor behind.
        while let Some(ticket) = in_flight.pop_front() {
            table.remove(&ticket);
        }
        assert!(
            table.cursors.is_none(),
            "counting stops once the table is small"
        );
    }

    #[test]
    fn close_hands_every_waiter_back_and_refuses_inserts() {
        let mut table = PendingTable::new(10);
        for id in 0..5 {
            table.insert(PEER, id, payload(b"x"), id).unwrap();
        }
        let mut waiters = table.close(Error::SocketUnavailable);
        waiters.sort();
        assert_eq!(waiters, [0, 1, 2, 3, 4]);
        assert!(matches!(table.closed(), Some(Error::SocketUnavailable)));
        assert!(matches!(
            table.insert(PEER, 9, payload(b""), 9),
            Err(Error::SocketUnavailable)
        ));
        // The first error sticks.
        table.close(Error::SocketBroadcast);
        assert!(matches!(table.closed(), Some(Error::SocketUnavailable)));
    }

    #[test]
    fn a_million_requests_leave_the_table_empty_and_small() {
        let mut table = PendingTable::new(0);
        let shared = payload(&[0u8; 56]);
        let mut in_flight = std::collections::VecDeque::new();
        for i in 0..1_000_000u32 {
            let peer = IpAddr::V4(std::net::Ipv4Addr::from(0xc000_0200 + (i % 300)));
            in_flight.push_back(table.insert(peer, 1, shared.clone(), i).unwrap());
            // 1,000 in flight at a time; half answered, half given up.
            if in_flight.len() > 1_000 {
                let ticket: Ticket = in_flight.pop_front().unwrap();
                if i % 2 == 0 {
                    assert!(table.complete(&ticket.key, |_| true).is_some());
                } else {
                    assert!(table.remove(&ticket).is_some());
                }
            }
        }
        while let Some(ticket) = in_flight.pop_front() {
            table.remove(&ticket);
        }
        assert_eq!(table.len(), 0);
        assert!(table.capacity() < 4_096, "capacity {}", table.capacity());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u16),
        Complete(usize),
        Remove(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..4, 0u16..3).prop_map(|(peer, id)| Op::Insert(peer, id)),
            any::<usize>().prop_map(Op::Complete),
            any::<usize>().prop_map(Op::Remove),
        ]
    }

    proptest! {
        /// Whatever the order of operations, keys in flight are unique and every waiter
        /// comes back exactly once (completed, removed or at close).
        #[test]
        fn keys_stay_unique_and_waiters_come_back_once(start in any::<u16>(), ops in proptest::collection::vec(op(), 0..400)) {
            let mut table = PendingTable::new(start);
            let mut live: Vec<Ticket> = Vec::new();
            let mut returned = HashSet::new();
            let mut next = 0u32;
            for op in ops {
                match op {
                    Op::Insert(peer, id) => {
                        let peer = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, peer));
                        let ticket = table.insert(peer, id, payload(b"p"), next).unwrap();
                        prop_assert!(!live.iter().any(|live| live.key == ticket.key));
                        live.push(ticket);
                        next += 1;
                    }
                    Op::Complete(i) | Op::Remove(i) if !live.is_empty() => {
                        let ticket = live.swap_remove(i % live.len());
                        let waiter = if matches!(op, Op::Complete(_)) {
                            table.complete(&ticket.key, |p| p == b"p")
                        } else {
                            table.remove(&ticket)
                        };
                        prop_assert!(returned.insert(waiter.unwrap()));
                    }
                    _ => {}
                }
                prop_assert_eq!(table.len(), live.len());
            }
            for waiter in table.close(Error::SocketUnavailable) {
                prop_assert!(returned.insert(waiter));
            }
            prop_assert_eq!(returned.len() as u32, next);
        }
    }
}
