//! The receive task: drains the engine's socket and completes waiting requests.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::Core;
use super::pending::Key;
use crate::Error;
use crate::packet::Kind;
use crate::socket::Received;

/// Datagrams read per wake-up before giving the scheduler a turn.
const BATCH: usize = 256;

/// Largest datagram read: an echo reply with the largest payload and an IPv4 header.
const BUFFER_LEN: usize = 65_536 + 60;

/// Closes the table when the task ends in any way: a fatal error, the last handle
/// dropped, or the runtime shutting down (which drops the task without finishing it).
struct CloseOnExit(Arc<Core>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        self.0.close(Error::SocketUnavailable);
    }
}

/// Runs until `stop` fires (its sender is dropped) or the socket fails.
pub(super) async fn run(core: Arc<Core>, mut stop: oneshot::Receiver<()>) {
    let guard = CloseOnExit(Arc::clone(&core));
    let mut buf = vec![0u8; BUFFER_LEN];
    let privileged = core.socket.is_privileged();
    loop {
        let batch = core.socket.recv_batch(&mut buf, BATCH, |received, buf| {
            dispatch(&core, privileged, received, buf);
        });
        tokio::select! {
            _ = &mut stop => break,
            result = batch => {
                if let Err(error) = result {
                    tracing::debug!(%error, "ICMP socket failed; failing every request in flight");
                    core.close(error);
                    break;
                }
            }
        }
    }
    drop(guard);
}

/// Hands `received` to the request it answers, if one waits for it.
fn dispatch(core: &Core, privileged: bool, received: &Received, buf: &[u8]) {
    let key = Key {
        peer: received.peer,
        id: if privileged { received.id } else { 0 },
        sequence: received.sequence,
    };
    let waiter = core
        .table()
        .complete(&key, |payload| received.payload_is(payload, buf));
    match waiter {
        Some(waiter) => {
            let _ = waiter.send(Ok(received.to_reply(core.socket.family())));
        }
        None if received.kind == Kind::EchoReply => {
            tracing::trace!(peer = %received.peer, id = received.id, sequence = received.sequence, "reply for no request in flight");
        }
        None => {}
    }
}
