//! What waits for a reply in the table: a single request's channel, or the inbox of a
//! sweep, which collects the replies of all its requests for one task to read.
//!
//! A sweep of thousands of hosts would otherwise pay, per request, for a channel, a
//! future in a `FuturesUnordered`, a timer and a wake-up; with an inbox it pays for one
//! entry in a vector.

use std::sync::{Arc, Mutex, PoisonError};
use std::task::Waker;

use futures::task::AtomicWaker;
use tokio::sync::oneshot;

use crate::Result;
use crate::socket::IcmpReply;

/// Which request of a sweep a reply answers: chosen by the sweep, handed back with the
/// reply.
pub(crate) type Token = u64;

/// The replies of a sweep's requests, in the order they were handed out, and the task to
/// wake when one arrives.
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    replies: Mutex<Vec<(Token, Result<IcmpReply>)>>,
    waker: AtomicWaker,
}

impl Inbox {
    /// Wakes `waker` for the next reply: call before [`Inbox::take`], so that a reply
    /// delivered in between is not missed.
    pub(crate) fn register(&self, waker: &Waker) {
        self.waker.register(waker);
    }

    /// Moves the replies delivered so far to the end of `into`.
    pub(crate) fn take(&self, into: &mut Vec<(Token, Result<IcmpReply>)>) {
        let mut replies = self.replies.lock().unwrap_or_else(PoisonError::into_inner);
        if into.is_empty() {
            std::mem::swap(&mut *replies, into);
        } else {
            into.append(&mut replies);
        }
    }

    fn deliver(&self, token: Token, result: Result<IcmpReply>) {
        self.replies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((token, result));
        self.waker.wake();
    }
}

/// Where the reply to one request goes.
#[derive(Debug)]
pub(crate) enum Waiter {
    /// To the request's own future ([`super::InFlight`]).
    Channel(oneshot::Sender<Result<IcmpReply>>),
    /// To a sweep's inbox, under the request's token.
    Inbox(Arc<Inbox>, Token),
}

impl Waiter {
    /// Hands over the reply (or the engine's error). Whoever calls this took the waiter
    /// out of the table first.
    pub(crate) fn deliver(self, result: Result<IcmpReply>) {
        match self {
            // The request's future may be gone: its reply is then dropped.
            Waiter::Channel(sender) => {
                let _ = sender.send(result);
            }
            Waiter::Inbox(inbox, token) => inbox.deliver(token, result),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use std::task::Wake;

    struct Counter(std::sync::atomic::AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn an_inbox_keeps_delivery_order_and_wakes_its_task() {
        let counter = Arc::new(Counter(0.into()));
        let waker = Waker::from(Arc::clone(&counter));
        let inbox = Arc::new(Inbox::default());
        inbox.register(&waker);
        Waiter::Inbox(Arc::clone(&inbox), 7).deliver(Err(Error::SocketUnavailable));
        Waiter::Inbox(Arc::clone(&inbox), 3).deliver(Err(Error::SocketBroadcast));
        // One wake-up until the task registers again.
        assert_eq!(counter.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        let mut replies = vec![(1, Err(Error::SocketUnavailable))];
        inbox.take(&mut replies);
        let tokens: Vec<Token> = replies.iter().map(|(token, _)| *token).collect();
        assert_eq!(tokens, [1, 7, 3]);
        let mut again = Vec::new();
        inbox.take(&mut again);
        assert!(again.is_empty());
    }

    #[test]
    fn a_channel_whose_receiver_is_gone_drops_the_reply() {
        let (sender, receiver) = oneshot::channel();
        drop(receiver);
        Waiter::Channel(sender).deliver(Err(Error::SocketUnavailable));
    }
}
