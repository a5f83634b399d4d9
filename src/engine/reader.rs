//! The reader task: the one reader of an engine's transport. It hands each answer to its
//! request, records how far it got (see [`Engine::poll_drained`](super::Engine)), and
//! reads at once when a request whose deadline passed asks it to.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::Core;
use crate::error::Error;
use crate::socket::async_socket::Drained;
use crate::socket::received::Received;

/// Datagrams read per round before giving the scheduler a turn.
const BATCH: usize = 256;

/// Rounds without a datagram before the reader waits for the reactor again.
const IDLE_ROUNDS: usize = 16;

/// Rounds of a read asked for by a request, before the reader looks at its other work
/// (a flood that never leaves the transport empty must not hold it forever).
const CATCH_UP_ROUNDS: usize = 256;

/// Closes the table when the task ends in any way: a fatal error, the last handle
/// dropped, or the runtime shutting down (which drops the task without finishing it).
pub(super) struct CloseOnExit(pub(super) Arc<Core>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        self.0.close(Error::SocketUnavailable);
    }
}

/// True once `stop` fired (its sender dropped with the last handle).
fn stopped(stop: &mut oneshot::Receiver<()>) -> bool {
    !matches!(stop.try_recv(), Err(oneshot::error::TryRecvError::Empty))
}

/// Runs until `stop` fires or the transport fails.
pub(super) async fn run(guard: CloseOnExit, mut stop: oneshot::Receiver<()>) {
    let core = Arc::clone(&guard.0);
    loop {
        let result = {
            let mut dispatch = |received: &Received, buf: &[u8]| core.dispatch(received, buf);
            tokio::select! {
                _ = &mut stop => break,
                () = core.progress.wanted.notified() => catch_up(&core, &mut stop).await,
                received = core.transport.recv(BATCH, &mut dispatch) => match received {
                    Ok(drained) => {
                        record(&core, drained);
                        keep_reading(&core, &mut stop).await
                    }
                    Err(error) => Err(error),
                },
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, "ICMP transport failed; failing every request in flight");
            core.close(Error::from(error));
            break;
        }
        if stopped(&mut stop) {
            break;
        }
    }
    drop(guard);
}

/// Records that the transport was found empty.
fn record(core: &Core, drained: Drained) {
    if let Drained::Empty { checked_at, .. } = drained {
        core.progress.drained(checked_at);
    }
}

/// Reads until the transport is empty: asked for by a request whose deadline passed.
async fn catch_up(core: &Core, stop: &mut oneshot::Receiver<()>) -> std::io::Result<()> {
    for _ in 0..CATCH_UP_ROUNDS {
        let drained = core
            .transport
            .try_recv(BATCH, &mut |received, buf| core.dispatch(received, buf))?;
        record(core, drained);
        if matches!(drained, Drained::Empty { .. }) || stopped(stop) {
            return Ok(());
        }
        tokio::task::yield_now().await;
    }
    // Still full: ask again, so that the next round of the loop reads on.
    core.progress.wanted.notify_one();
    Ok(())
}

/// While answers keep coming, reads them without going back to the reactor: a burst of
/// replies (a sweep) then costs no wake-up per reply, which across threads is the most
/// expensive part of a reply's way. The transport's readiness events are paused meanwhile
/// and resumed by the next wait. Gives up after a few rounds that found nothing, or when
/// no request waits.
async fn keep_reading(core: &Core, stop: &mut oneshot::Receiver<()>) -> std::io::Result<()> {
    if core.in_flight() == 0 {
        return Ok(());
    }
    // No readiness events while this loop reads on its own: on a multi-thread runtime
    // each would wake an idle worker, at a cost to the thread that sent the request.
    core.transport.pause_readiness();
    let mut idle = 0;
    while idle < IDLE_ROUNDS && core.in_flight() > 0 {
        tokio::task::yield_now().await;
        if stopped(stop) {
            return Ok(());
        }
        let drained = core
            .transport
            .try_recv(BATCH, &mut |received, buf| core.dispatch(received, buf))?;
        record(core, drained);
        match drained {
            Drained::Empty { read, .. } => idle = if read > 0 { 0 } else { idle + 1 },
            Drained::Full => idle = 0,
        }
    }
    Ok(())
}
