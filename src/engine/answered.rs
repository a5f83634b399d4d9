//! The requests answered lately, with where their answers went: a second echo reply to
//! one of them is a duplicate (a host, or a network, that answers twice), handed to the
//! same waiter as such rather than dropped as an answer for nobody. Bounded: the last
//! [`KEPT`] answers of an engine.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::inbox::Waiter;
use super::pending::Key;

/// Answers remembered per engine: a duplicate that comes after this many other answers is
/// not recognised (it is dropped, as any answer for nobody).
pub(crate) const KEPT: usize = 4_096;

/// The last [`KEPT`] requests answered.
#[derive(Debug, Default)]
pub(crate) struct Answered {
    entries: HashMap<Key, (u64, Waiter, Arc<[u8]>)>,
    order: VecDeque<(Key, u64)>,
    next: u64,
}

impl Answered {
    /// The request of `key`, sent with `payload`, was answered to `waiter`.
    pub(crate) fn record(&mut self, key: Key, waiter: Waiter, payload: Arc<[u8]>) {
        let stamp = self.next;
        self.next += 1;
        self.entries.insert(key, (stamp, waiter, payload));
        self.order.push_back((key, stamp));
        while self.order.len() > KEPT {
            if let Some((old, stamp)) = self.order.pop_front()
                && self.entries.get(&old).is_some_and(|entry| entry.0 == stamp)
            {
                self.entries.remove(&old);
            }
        }
    }

    /// The waiter of the answered request of `key`, when `accept` agrees with its payload:
    /// where a duplicate goes.
    pub(crate) fn duplicate(
        &self,
        key: &Key,
        accept: impl FnOnce(&[u8]) -> bool,
    ) -> Option<&Waiter> {
        let (_, waiter, payload) = self.entries.get(key)?;
        accept(payload).then_some(waiter)
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
    use crate::engine::inbox::Inbox;

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
        answered.record(key(1), (Arc::clone(&inbox), 11), Arc::from(&b"abc"[..]));
        let found = answered.duplicate(&key(1), |payload| payload == b"abc");
        assert_eq!(found.map(|(_, token)| *token), Some(11));
        assert!(
            answered
                .duplicate(&key(1), |payload| payload == b"abd")
                .is_none()
        );
        assert!(answered.duplicate(&key(2), |_| true).is_none());
    }

    #[test]
    fn only_the_last_answers_are_kept() {
        let inbox = Arc::new(Inbox::default());
        let mut answered = Answered::default();
        for sequence in 0..u16::try_from(KEPT + 10).unwrap() {
            answered.record(key(sequence), (Arc::clone(&inbox), 0), Arc::from(&b""[..]));
        }
        assert_eq!(answered.len(), KEPT);
        assert!(answered.duplicate(&key(0), |_| true).is_none());
        assert!(
            answered
                .duplicate(&key(u16::try_from(KEPT).unwrap()), |_| true)
                .is_some()
        );
        // A key answered again replaces its entry, and outlives its first answer's turn.
        answered.record(key(20), (Arc::clone(&inbox), 5), Arc::from(&b""[..]));
        for sequence in 30_000..30_000 + u16::try_from(KEPT - 1).unwrap() {
            answered.record(key(sequence), (Arc::clone(&inbox), 0), Arc::from(&b""[..]));
        }
        assert_eq!(
            answered.duplicate(&key(20), |_| true).map(|(_, t)| *t),
            Some(5)
        );
    }
}
