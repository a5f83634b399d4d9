//! The receive task: drains the engine's socket and completes waiting requests.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::{Core, DATAGRAM_BUFFER_LEN};
use crate::Error;
use crate::socket::{Drained, RecvBatch};

/// Datagrams read per wake-up before giving the scheduler a turn.
const BATCH: usize = 256;

/// Rounds without a datagram before the receive task waits for the reactor again.
const IDLE_ROUNDS: usize = 16;

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
        let result = tokio::select! {
            _ = &mut stop => break,
            result = received => result,
        };
        let result = match result {
            Ok(()) => keep_reading(&core, &mut batch, &mut stop).await,
            Err(error) => Err(error),
        };
        if let Err(error) = result {
            tracing::debug!(%error, "ICMP socket failed; failing every request in flight");
            core.close(error);
            break;
        }
        if !matches!(stop.try_recv(), Err(oneshot::error::TryRecvError::Empty)) {
            break;
        }
    }
    drop(guard);
}

/// While replies keep coming, reads them without going back to the reactor: a burst of
/// replies (a sweep) then costs no wake-up per reply, which across threads is the most
/// expensive part of a reply's way. The socket is taken out of the reactor meanwhile and
/// registered again by the next wait. Gives up after a few rounds that found nothing, or
/// when no request waits.
async fn keep_reading(
    core: &Core,
    batch: &mut RecvBatch,
    stop: &mut oneshot::Receiver<()>,
) -> crate::Result<()> {
    if core.in_flight() == 0 {
        return Ok(());
    }
    // No readiness events while this loop reads on its own: on a multi-thread runtime
    // each would wake an idle worker, at a cost to the thread that sent the request.
    core.socket.pause_readiness();
    let mut idle = 0;
    while idle < IDLE_ROUNDS && core.in_flight() > 0 {
        tokio::task::yield_now().await;
        if !matches!(stop.try_recv(), Err(oneshot::error::TryRecvError::Empty)) {
            return Ok(());
        }
        let drained = core
            .socket
            .try_drain(batch, &core.reading, BATCH, |received, buf| {
                core.dispatch(received, buf)
            })
            .map_err(crate::Error::from)?;
        match drained {
            Drained::Empty { read, checked_at } => {
                core.mark_drained(checked_at);
                idle = if read > 0 { 0 } else { idle + 1 };
            }
            Drained::Full => idle = 0,
        }
    }
    Ok(())
}
