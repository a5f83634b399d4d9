//! [`Pinger::watch_route`]: a continuous trace, as mtr and trippy run one — rounds of
//! probes over every distance to a host, without end or for a number of rounds, each
//! probe's fate and each round's per-hop figures on a stream ([`RouteWatch`]).
//!
//! The trace runs on the scheduler every call runs on, its job (`job.rs`) keeping the
//! figures of each distance (`stats.rs`) in constant memory; the events leave through the
//! scheduler as a watch's do.

mod event;
mod job;
mod options;
mod stats;

use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::Stream;

use crate::error::Result;
use crate::names::Names;
use crate::pinger::{Pinger, Plan, Probing};
use crate::resolve::Resolver;
use crate::scheduler::{Scheduler, Step};
use crate::target::Target;
pub use event::{RouteEvent, RouteRound};
use job::RouteJob;
pub use options::RouteWatchOptions;
pub use stats::{HopStats, Responder};

/// Makes the job of the trace's one target (boxed, so that the stream has a type that can
/// be named).
type Jobs = Box<dyn FnMut(&Target, IpAddr) -> RouteJob + Send>;

/// A continuous trace: a stream of [`RouteEvent`]s — each probe answered or lost, and
/// after each round the figures of every distance ([`RouteRound`]). Probes leave while
/// the stream is polled; dropping it stops the trace and forgets its probes in flight.
/// Memory stays constant: the figures are running ones, at most 16 routers kept per
/// distance.
pub struct RouteWatch {
    scheduler: Scheduler<std::iter::Once<Target>, RouteJob, Jobs>,
    /// The routers' names, when asked for.
    names: Option<Names>,
    done: bool,
}

impl std::fmt::Debug for RouteWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteWatch")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Stream for RouteWatch {
    type Item = RouteEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RouteEvent>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        // Each event spends a unit of the task's budget, as a watch's do.
        let budget = ready!(tokio::task::coop::poll_proceed(cx));
        if let Some(names) = &mut this.names {
            // Names that came are kept for the next rounds; this never waits for one.
            names.poll(cx);
        }
        let step = ready!(this.scheduler.poll_step(cx));
        budget.made_progress();
        Poll::Ready(match step {
            Some(Step::Event(RouteEvent::Round(mut round))) => {
                if let Some(names) = &mut this.names {
                    name(&mut round, names);
                }
                Some(RouteEvent::Round(round))
            }
            Some(Step::Event(event)) => Some(event),
            Some(Step::Finished(finished)) => {
                this.done = true;
                finished
                    .result
                    .err()
                    .map(|failed| RouteEvent::Error(failed.error))
            }
            None => {
                this.done = true;
                None
            }
        })
    }
}

impl Pinger {
    /// Traces the route to `target` (an address or a name) continuously, as mtr does:
    /// a round of probes over every distance (once per flow) each
    /// [`interval`](crate::ProbeOptions::interval), each probe's fate and each round's
    /// per-hop figures ([`HopStats`]: sent, received, loss, last, average, best, worst,
    /// standard deviation, jitter, the routers seen) on the returned stream. Once the path
    /// ends at a distance, rounds probe up to it; a round that finds no end makes a later
    /// one probe up to `max_hops` again, so that a path that changes is followed. A
    /// socket that fails is replaced before the next probe. Ends
    /// after [`rounds`](RouteWatchOptions::rounds), or never, until the stream is
    /// dropped.
    ///
    /// ```no_run
    /// # async fn run() -> icmplib::Result<()> {
    /// use futures::StreamExt;
    /// use icmplib::{Pinger, RouteEvent, RouteWatchOptions};
    ///
    /// let options = RouteWatchOptions::default().rounds(Some(10));
    /// let mut trace = Pinger::new().watch_route("127.0.0.1", &options)?;
    /// while let Some(event) = trace.next().await {
    ///     if let RouteEvent::Round(round) = event {
    ///         for hop in round.hops() {
    ///             println!("{:2} {:5.1}%", hop.distance(), hop.loss() * 100.0);
    ///         }
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidOption`](crate::Error::InvalidOption) for invalid options;
    /// [`Error::Runtime`](crate::Error::Runtime) outside a tokio runtime; the errors of a
    /// socket that cannot open ([`Error::SocketPermission`](crate::Error::SocketPermission),
    /// ...). A name that does not resolve is the stream's one event,
    /// [`RouteEvent::Error`].
    pub fn watch_route(
        &self,
        target: impl Into<Target>,
        options: &RouteWatchOptions,
    ) -> Result<RouteWatch> {
        options.check()?;
        let call = self.set_up(Plan::new(Probing::Trace, &options.probe))?;
        crate::trace::check_flows(options.flows, call.privileged)?;
        let names = match options.names {
            true => call
                .resolver
                .clone()
                .or_else(|| Resolver::system().ok())
                .map(Names::new),
            false => None,
        };
        let options = options.clone();
        let jobs: Jobs = Box::new(move |_: &Target, _| RouteJob::new(&options));
        Ok(RouteWatch {
            scheduler: call.schedule(std::iter::once(target.into()), jobs),
            names,
            done: false,
        })
    }
}

/// Gives the responders of `round` the names known, and asks for the others'.
fn name(round: &mut RouteRound, names: &mut Names) {
    for hop in &mut round.hops {
        for responder in hop.responders_mut() {
            if responder.name.is_none() {
                responder.name = names.get(responder.address).map(|name| name.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests;
