//! The reader task: the reader of an engine's transport whenever the tasks that send do not
//! read it themselves ([`Engine::read_inline`](super::Engine::read_inline)). It hands each
//! answer to its request, records how far it got (see
//! [`Engine::poll_drained`](super::Engine)), and reads at once when a request whose
//! deadline passed asks it to.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use super::{BATCH, Core};
use crate::clock;
use crate::error::Error;
use crate::socket::async_socket::Drained;
use crate::socket::received::Received;

/// Rounds without a datagram before the reader waits for the reactor again.
const IDLE_ROUNDS: usize = 16;

/// The pause between two reads behind tasks that read inline: short enough that an
/// answer they leave behind waits little (its round trip comes from its kernel timestamp
/// anyway), long enough that the reader costs next to nothing meanwhile.
const GATHER: std::time::Duration = std::time::Duration::from_micros(500);

/// The longest pause between two reads behind tasks that read inline, while they keep
/// finding the socket empty.
const GATHER_AT_MOST: std::time::Duration = std::time::Duration::from_millis(8);

/// Reads that stop at their maximum in a row (65,536 datagrams) after which what was
/// queued when they began counts as read (see [`Reader::record`]).
const FLOOD_ROUNDS: usize = 256;

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
    let mut reader = Reader {
        core: &core,
        full_since: None,
        full_rounds: 0,
    };
    loop {
        let result = reader.turn(&mut stop).await;
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

/// The reader's state: how far it got, for the deadlines that wait for it.
struct Reader<'a> {
    core: &'a Core,
    /// When the run of reads that all stopped at their maximum began.
    full_since: Option<Instant>,
    /// Reads in that run.
    full_rounds: usize,
}

impl Reader<'_> {
    /// Waits for something to read, or for a deadline asking for a read, and reads.
    async fn turn(&mut self, stop: &mut oneshot::Receiver<()>) -> io::Result<()> {
        let core = self.core;
        let began = clock::now();
        let received = {
            let mut dispatch = |received: &Received, buf: &[u8]| core.dispatch(received, buf);
            tokio::select! {
                _ = &mut *stop => return Ok(()),
                () = core.progress.wanted.notified() => None,
                received = core.transport.recv(BATCH, &mut dispatch) => Some(received?),
            }
        };
        match received {
            // Asked for by a request whose deadline passed.
            None => self.catch_up(stop).await,
            Some(drained) => {
                self.record(drained, began);
                self.keep_reading(stop, drained).await
            }
        }
    }

    /// Reads what is there now.
    fn read(&mut self) -> io::Result<Drained> {
        let core = self.core;
        let began = clock::now();
        let drained = core
            .transport
            .try_recv(BATCH, &mut |received, buf| core.dispatch(received, buf))?;
        self.record(drained, began);
        Ok(drained)
    }

    /// Records how far a read that began at `began` got: every answer that arrived before
    /// it found the transport empty was handed out. Under a flood faster than the reader
    /// the transport is never found empty; then, once a run of reads has taken 65,536
    /// datagrams, what was queued when the run began counts as read (unless the buffer
    /// held more: it is sized for the requests in flight), so that deadlines do not wait
    /// forever.
    fn record(&mut self, drained: Drained, began: Instant) {
        let progress = &self.core.progress;
        match drained {
            Drained::Empty { checked_at, .. } => {
                self.full_since = None;
                self.full_rounds = 0;
                progress.drained(checked_at);
            }
            Drained::Full => {
                let since = *self.full_since.get_or_insert(began);
                self.full_rounds += 1;
                if self.full_rounds >= FLOOD_ROUNDS {
                    self.full_since = None;
                    self.full_rounds = 0;
                    progress.drained(since);
                }
            }
        }
    }

    /// Reads until the transport is empty, or as much as a flood allows.
    async fn catch_up(&mut self, stop: &mut oneshot::Receiver<()>) -> io::Result<()> {
        for _ in 0..FLOOD_ROUNDS {
            let drained = self.read()?;
            if matches!(drained, Drained::Empty { .. }) || stopped(stop) {
                return Ok(());
            }
            tokio::task::yield_now().await;
        }
        Ok(())
    }

    /// While answers keep coming, reads them without going back to the reactor: a burst
    /// of replies (a sweep) then costs no wake-up per reply, which across threads is the
    /// most expensive part of a reply's way. The transport's readiness events are paused
    /// meanwhile and resumed by the next wait. `last` is what the read before found.
    ///
    /// While the tasks that send read their answers inline
    /// ([`Engine::read_inline`](super::Engine::read_inline)), this reads only every
    /// [`GATHER`], behind them; otherwise it reads again after each turn of the runtime.
    /// Gives up after a few rounds that found nothing and nobody reading inline, or when
    /// no request waits.
    async fn keep_reading(
        &mut self,
        stop: &mut oneshot::Receiver<()>,
        mut last: Drained,
    ) -> io::Result<()> {
        let core = self.core;
        if core.in_flight() == 0 && !core.progress.attended(clock::now()) {
            return Ok(());
        }
        // No readiness events while this loop reads on its own: on a multi-thread runtime
        // each would wake an idle worker, at a cost to the thread that sent the request.
        core.transport.pause_readiness();
        let mut idle = 0;
        let mut gather = GATHER;
        loop {
            let now = clock::now();
            let attended = core.progress.attended(now);
            // While tasks read inline, this stays behind them even with nothing in flight:
            // a watch's probes leave all the time and are answered within the round, and
            // going back to the reactor between them woke this thread for every reply,
            // on loopback before the task that sent it could read it (measured: the
            // reader's thread took 38 % of a watch's CPU).
            if idle >= IDLE_ROUNDS || (core.in_flight() == 0 && !attended) {
                break;
            }
            match last {
                Drained::Empty { .. } if attended => tokio::time::sleep(gather).await,
                _ => tokio::task::yield_now().await,
            }
            if stopped(stop) {
                return Ok(());
            }
            // They read meanwhile, down to an empty socket: nothing waits behind them.
            // Reading anyway, on this thread, would split a sweep's replies between two
            // threads (measured: 10 % more CPU on a multi-thread runtime). A read of
            // theirs that stopped at its maximum (a burst) is no reason to wait: that
            // read counts for no deadline, the reader's do. While they keep doing so,
            // the pause doubles up to [`GATHER_AT_MOST`]: a watch's probes leave all the
            // time, and a thread woken every 0.5 ms to find nothing cost more than the
            // probes themselves.
            if attended && core.progress.drained_since(now) {
                gather = (gather * 2).min(GATHER_AT_MOST);
                continue;
            }
            last = self.read()?;
            // Found nothing either: the pause doubles still. Found answers they left
            // behind (a reply slower than their read): back to the shortest.
            gather = match last {
                Drained::Empty { read: 0, .. } => (gather * 2).min(GATHER_AT_MOST),
                _ => GATHER,
            };
            idle = match last {
                Drained::Empty { read: 0, .. } if !attended => idle + 1,
                _ => 0,
            };
        }
        Ok(())
    }
}
