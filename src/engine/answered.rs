//! The requests answered lately, with where their answers went: a second echo reply to
//! one of them is a duplicate (a host, or a network, that answers twice), handed to the
//! same waiter as such rather than dropped as an answer for nobody. Bounded, and sized
//! once: the last [`KEPT`] answers of an engine, each a key, a weak reference to its
//! waiter's inbox and a fingerprint of its payload (no payload is kept alive).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Weak};

use super::inbox::{Inbox, Token};
use super::pending::{Key, KeyHasher};

/// Answers remembered per engine: a duplicate that comes after this many other answers is
/// not recognised (it is dropped, as any answer for nobody). Duplicates come within
/// milliseconds of their original; this covers a fraction of a second of a sweep at ten
/// thousand replies a second, and about 200 KiB per engine, allocated at once.
pub(crate) const KEPT: usize = 4_096;

/// A payload's length and hash: enough to tell a duplicate from another request's reply
/// (payloads are random unless the caller fixed one; a forged match only makes a reply
/// that is no answer count as a duplicate). The keys' fast hash, not SipHash: every echo
/// reply pays for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint(usize, u64);

impl Fingerprint {
    pub(crate) fn of(payload: &[u8]) -> Fingerprint {
        let mut hasher = KeyHasher::default();
        hasher.write(payload);
        Fingerprint(payload.len(), hasher.finish())
    }
}

#[derive(Debug)]
struct Entry {
    stamp: u64,
    inbox: Weak<Inbox>,
    token: Token,
    payload: Fingerprint,
}

/// The last [`KEPT`] requests answered.
#[derive(Debug)]
pub(crate) struct Answered {
    entries: HashMap<Key, Entry, BuildHasherDefault<KeyHasher>>,
    order: VecDeque<(Key, u64)>,
    next: u64,
}

impl Default for Answered {
    fn default() -> Answered {
        Answered {
            entries: HashMap::with_capacity_and_hasher(KEPT, BuildHasherDefault::default()),
            order: VecDeque::with_capacity(KEPT + 1),
            next: 0,
        }
    }
}

impl Answered {
    /// The request of `key`, sent with `payload`, was answered to `token` of `inbox`.
    pub(crate) fn record(&mut self, key: Key, inbox: &Arc<Inbox>, token: Token, payload: &[u8]) {
        let stamp = self.next;
        self.next += 1;
        let entry = Entry {
            stamp,
            inbox: Arc::downgrade(inbox),
            token,
            payload: Fingerprint::of(payload),
        };
        self.entries.insert(key, entry);
        self.order.push_back((key, stamp));
        while self.order.len() > KEPT {
            if let Some((old, stamp)) = self.order.pop_front()
                && self
                    .entries
                    .get(&old)
                    .is_some_and(|entry| entry.stamp == stamp)
            {
                self.entries.remove(&old);
            }
        }
    }

    /// Where a duplicate of the answered request of `key` goes, when `payload` is the
    /// payload it was sent with and its waiter is still there.
    pub(crate) fn duplicate(&self, key: &Key, payload: &[u8]) -> Option<(Arc<Inbox>, Token)> {
        let entry = self.entries.get(key)?;
        if entry.payload != Fingerprint::of(payload) {
            return None;
        }
        Some((entry.inbox.upgrade()?, entry.token))
    }

    /// Requests remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn key(sequence: u16) -> Key {
        Key {
            peer: IpAddr::from([192, 0, 2, 1]),
            id: 0,
            sequence,
        }
    }

    #[test]
    fn a_second_answer_finds_the_first_one_s_waiter_if_its_payload_matches() {
        let inbox = Arc::new(Inbox::default());
        let mut answered = Answered::default();
        answered.record(key(1), &inbox, 11, b"abc");
        let found = answered.duplicate(&key(1), b"abc");
        assert_eq!(found.map(|(_, token)| token), Some(11));
        assert!(answered.duplicate(&key(1), b"abd").is_none());
        assert!(answered.duplicate(&key(1), b"abcd").is_none());
        assert!(answered.duplicate(&key(2), b"abc").is_none());
        // Its waiter gone (the call is over), a duplicate goes nowhere.
        drop(inbox);
        assert!(answered.duplicate(&key(1), b"abc").is_none());
    }

    #[test]
    fn only_the_last_answers_are_kept() {
        let inbox = Arc::new(Inbox::default());
        let mut answered = Answered::default();
        for sequence in 0..u16::try_from(KEPT + 10).unwrap() {
            answered.record(key(sequence), &inbox, 0, b"");
        }
        assert_eq!(answered.len(), KEPT);
        assert!(answered.duplicate(&key(0), b"").is_none());
        assert!(
            answered
                .duplicate(&key(u16::try_from(KEPT).unwrap()), b"")
                .is_some()
        );
        // A key answered again replaces its entry, and outlives its first answer's turn.
        answered.record(key(20), &inbox, 5, b"");
        for sequence in 30_000..30_000 + u16::try_from(KEPT - 1).unwrap() {
            answered.record(key(sequence), &inbox, 0, b"");
        }
        assert_eq!(answered.duplicate(&key(20), b"").map(|(_, t)| t), Some(5));
    }
}
