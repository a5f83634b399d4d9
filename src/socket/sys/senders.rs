//! Per-probe TTL and TOS where the system has no per-packet option for them (IPv4 on macOS
//! and FreeBSD): a socket per (TTL, TOS) pair beside the shared one, opened like it with
//! the pair set once at opening and never changed.
//!
//! Setting the TTL on the shared socket before each send, under a lock, is not enough
//! there: the kernel may stamp a queued packet with the socket's TTL of the moment it
//! leaves, so parallel traceroute probes could leave with each other's TTL. A socket whose
//! TTL never changes cannot. Answers still arrive on the shared socket: these sockets only
//! send (a raw socket sees every ICMP message, so their own copies are dropped by a
//! tiny receive buffer).
//!
//! The pool is pure (generic over the socket) and tested on every system; only the
//! systems without per-packet options use it.

use std::collections::VecDeque;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::family::Family;

/// Sockets kept at most; the one used least recently is closed for a new pair. A
/// traceroute uses one per distance (30 by default).
pub(crate) const CAPACITY: usize = 64;

/// A (TTL, TOS) pair.
pub(crate) type Key = (u8, u8);

/// The pair a request must be sent with from a socket of its own, or `None` when the
/// shared socket sends it: it has per-packet options (`per_packet`), or the request uses
/// the shared socket's own values (`defaults`).
pub(crate) fn sender_key(
    per_packet: bool,
    defaults: Key,
    ttl: u8,
    traffic_class: u8,
) -> Option<Key> {
    (!per_packet && (ttl, traffic_class) != defaults).then_some((ttl, traffic_class))
}

/// True where sends carry the TTL and TOS as control messages: Linux, and IPv6 everywhere
/// (RFC 3542 `IPV6_HOPLIMIT` / `IPV6_TCLASS`).
pub(crate) fn has_per_packet_options(family: Family) -> bool {
    cfg!(target_os = "linux") || family == Family::V6
}

/// At most [`CAPACITY`] sockets by key, most recently used first.
#[derive(Debug)]
pub(crate) struct Pool<S> {
    entries: VecDeque<(Key, S)>,
}

impl<S> Default for Pool<S> {
    fn default() -> Pool<S> {
        Pool {
            entries: VecDeque::new(),
        }
    }
}

impl<S> Pool<S> {
    /// The socket of `key`, opened with `open` if there is none; it becomes the most
    /// recently used, and the least recently used goes when the pool is full.
    pub(crate) fn get_or_open(
        &mut self,
        key: Key,
        open: impl FnOnce() -> io::Result<S>,
    ) -> io::Result<&S> {
        match self.entries.iter().position(|(held, _)| *held == key) {
            Some(0) => {}
            Some(index) => {
                if let Some(entry) = self.entries.remove(index) {
                    self.entries.push_front(entry);
                }
            }
            None => {
                let socket = open()?;
                self.entries.truncate(CAPACITY - 1);
                self.entries.push_front((key, socket));
            }
        }
        self.entries
            .front()
            .map(|(_, socket)| socket)
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    /// Closes every socket: the shared socket's settings changed, and new ones must be
    /// opened like it again.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Sockets held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The sending sockets of one shared socket.
#[derive(Debug, Default)]
pub(crate) struct Senders {
    pool: Mutex<Pool<socket2::Socket>>,
}

impl Senders {
    /// The pool, locked for one send.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Pool<socket2::Socket>> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the shared socket with `change`, then forgets every sending socket (see
    /// [`Pool::clear`]), the pool locked meanwhile: no send opens a sending socket like
    /// the shared one of before the change.
    pub(crate) fn changing<T>(&self, change: impl FnOnce() -> T) -> T {
        let mut pool = self.lock();
        let result = change();
        pool.clear();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_other_values_without_per_packet_options_get_a_socket() {
        let defaults = (64, 0);
        assert_eq!(sender_key(false, defaults, 64, 0), None);
        assert_eq!(sender_key(false, defaults, 3, 0), Some((3, 0)));
        assert_eq!(sender_key(false, defaults, 64, 0x10), Some((64, 0x10)));
        assert_eq!(sender_key(true, defaults, 3, 0x10), None);
        assert!(has_per_packet_options(Family::V6));
        assert_eq!(
            has_per_packet_options(Family::V4),
            cfg!(target_os = "linux")
        );
    }

    /// Opens (or finds) the socket of `key` in `pool`, counting openings in `opened`.
    fn open(pool: &mut Pool<(Key, usize)>, opened: &mut usize, key: Key) -> (Key, usize) {
        let socket = *pool
            .get_or_open(key, || {
                *opened += 1;
                Ok((key, *opened))
            })
            .unwrap();
        assert_eq!(socket.0, key, "a socket serves its own pair only");
        socket
    }

    #[test]
    fn a_pair_keeps_its_socket_and_the_least_used_goes_first() {
        let (mut pool, mut opened) = (Pool::default(), 0);
        let first = open(&mut pool, &mut opened, (1, 0));
        assert_eq!(open(&mut pool, &mut opened, (1, 0)), first, "opened once");
        for ttl in 2..=CAPACITY as u8 {
            open(&mut pool, &mut opened, (ttl, 0));
        }
        // The pool is full; using TTL 1 makes TTL 2 the least recently used.
        assert_eq!(open(&mut pool, &mut opened, (1, 0)), first);
        open(&mut pool, &mut opened, (200, 0));
        assert_eq!(open(&mut pool, &mut opened, (1, 0)), first, "still held");
        let before = opened;
        open(&mut pool, &mut opened, (2, 0));
        assert_eq!(opened, before + 1, "TTL 2 was closed and opened again");
        assert_eq!(pool.len(), CAPACITY);
        pool.clear();
        assert_eq!(pool.len(), 0);
    }

    #[test]
    fn a_failed_open_leaves_the_pool_as_it_was() {
        let mut pool: Pool<u8> = Pool::default();
        pool.get_or_open((1, 0), || Ok(1)).unwrap();
        let failed = pool.get_or_open((2, 0), || Err(io::ErrorKind::PermissionDenied.into()));
        assert!(failed.is_err());
        assert_eq!(pool.len(), 1);
        assert_eq!(*pool.get_or_open((1, 0), || Ok(9)).unwrap(), 1);
    }
}
