//! Where the answers to a scheduler's requests go: one inbox per scheduler (a ping, a
//! sweep, a traceroute), which collects the answers of all its requests for its one task
//! to read.
//!
//! A sweep of thousands of hosts would otherwise pay, per request, for a channel, a
//! future, a timer and a wake-up; with an inbox it pays for one entry in a vector. A
//! single ping pays for the inbox once, as it would for a channel (measured with the ping
//! benchmark: see `benches/ping.rs`).

use std::sync::{Arc, Mutex, PoisonError};
use std::task::Waker;

use futures::task::AtomicWaker;

use crate::error::Result;
use crate::socket::reply::IcmpReply;

/// Duplicates an inbox holds at most until they are taken.
const MAX_DUPLICATES: usize = 4_096;

/// Which request an answer is for: chosen by the scheduler, handed back with the answer.
pub(crate) type Token = u64;

/// What waits for an answer in the pending table: where the answer goes, and whether a
/// duplicate of it is looked for (see [`Probe::duplicates`](super::Probe::duplicates)).
pub(crate) type Waiter = (Arc<Inbox>, Token, bool);

/// The answers to a scheduler's requests, in the order they were handed out, and the task
/// to wake when one arrives.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    answers: Mutex<Vec<(Token, Result<IcmpReply>)>>,
    /// Second (third, ...) echo replies to requests answered already.
    duplicates: Mutex<Vec<(Token, IcmpReply)>>,
    waker: AtomicWaker,
}

impl Inbox {
    /// Wakes `waker` for the next answer: call before [`Inbox::take`], so that an answer
    /// delivered in between is not missed.
    pub(crate) fn register(&self, waker: &Waker) {
        self.waker.register(waker);
    }

    /// Forgets the task to wake: answers delivered until the next [`Inbox::register`] wake
    /// nobody (their task reads them right after).
    pub(crate) fn unregister(&self) {
        drop(self.waker.take());
    }

    /// Moves the answers delivered so far to the end of `into`.
    pub(crate) fn take(&self, into: &mut Vec<(Token, Result<IcmpReply>)>) {
        let mut answers = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        if into.is_empty() {
            std::mem::swap(&mut *answers, into);
        } else {
            into.append(&mut answers);
        }
    }

    /// Hands over a duplicate answer to request `token`, which was answered already. At
    /// most [`MAX_DUPLICATES`] wait to be taken: a host that floods duplicates to a call
    /// that does not take them cannot grow the inbox.
    pub(crate) fn deliver_duplicate(&self, token: Token, reply: IcmpReply) {
        let mut duplicates = self
            .duplicates
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if duplicates.len() < MAX_DUPLICATES {
            duplicates.push((token, reply));
        }
        drop(duplicates);
        self.waker.wake();
    }

    /// Moves the duplicates delivered so far to the end of `into`.
    pub(crate) fn take_duplicates(&self, into: &mut Vec<(Token, IcmpReply)>) {
        into.append(
            &mut self
                .duplicates
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
    }

    /// Hands over the answer to request `token` (or the engine's error). Whoever calls
    /// this took the request out of the table first, so each request is answered once.
    pub(crate) fn deliver(&self, token: Token, result: Result<IcmpReply>) {
        self.answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((token, result));
        self.waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn an_inbox_keeps_delivery_order_and_wakes_its_task() {
        let counter = Arc::new(Counter(0.into()));
        let waker = Waker::from(Arc::clone(&counter));
        let inbox = Inbox::default();
        inbox.register(&waker);
        inbox.deliver(7, Err(Error::SocketUnavailable));
        inbox.deliver(3, Err(Error::SocketBroadcast));
        // One wake-up until the task registers again.
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        let mut answers = vec![(1, Err(Error::SocketUnavailable))];
        inbox.take(&mut answers);
        let tokens: Vec<Token> = answers.iter().map(|(token, _)| *token).collect();
        assert_eq!(tokens, [1, 7, 3]);
        let mut again = Vec::new();
        inbox.take(&mut again);
        assert!(again.is_empty());
    }
}
