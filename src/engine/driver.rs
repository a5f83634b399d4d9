//! The receive task: drains the engine's socket and completes waiting requests.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::{Core, DATAGRAM_BUFFER_LEN};
use crate::Error;
use crate::socket::RecvBatch;

/// Datagrams read per wake-up before giving the scheduler a turn.
const BATCH: usize = 256;

/// Closes the table when the task ends in any way: a fatal error, the last handle
/// dropped, or the runtime shutting down (which drops the task without finishing it).
pub(super) struct CloseOnExit(pub(super) Arc<Core>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        self.0.close(Error::SocketUnavailable);
        super::registry::forget_closed();
    }
}

/// Runs until `stop` fires (its sender is dropped) or the socket fails.
pub(super) async fn run(guard: CloseOnExit, mut stop: oneshot::Receiver<()>) {
    let core = Arc::clone(&guard.0);
    let mut batch = RecvBatch::new(DATAGRAM_BUFFER_LEN);
    loop {
        let received = core.socket.recv_batch(
            &mut batch,
            &core.reading,
            BATCH,
            |received, buf| core.dispatch(received, buf),
            |checked_at| core.mark_drained(checked_at),
        );
        tokio::select! {
            _ = &mut stop => break,
            result = received => {
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
