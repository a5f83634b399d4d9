//! The one way a call of a [`Pinger`] is set up, whatever it probes: options in; the
//! engines, the scheduler's settings and the resolver out, after every check a call needs
//! (a runtime, the options themselves, what this system cannot do, and for calls that run
//! on their own, a socket that opens).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};

use super::{CallEngines, Pinger};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::options::ProbeOptions;
use crate::resolve::Resolver;
use crate::runtime;
use crate::scheduler::{Engines, Finished, Job, Scheduler, Settings};
use crate::socket::dont_fragment::DontFragment;
use crate::socket::limits::{self, Capability};

/// What a call probes: it names the call in errors and says which options apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probing {
    /// Echo requests to one host.
    Ping,
    /// Echo requests to many hosts, the call returning them all.
    Sweep,
    /// Echo requests to many hosts, each handed out as it finishes.
    Stream,
    /// Probes of growing TTL.
    Trace,
    /// Probes of chosen sizes with Don't Fragment set.
    PathMtu,
    /// Probes without end.
    Watch,
}

impl Probing {
    /// The call, as the caller named it.
    fn name(self) -> &'static str {
        match self {
            Probing::Ping => "ping",
            Probing::Sweep => "multiping",
            Probing::Stream => "multiping_stream",
            Probing::Trace => "traceroute",
            Probing::PathMtu => "path_mtu",
            Probing::Watch => "watch",
        }
    }

    /// The call's result comes from a stream the caller polls at leisure: a socket that
    /// cannot open fails the call at once, rather than every target as it comes.
    fn opens_first(self) -> bool {
        matches!(self, Probing::Stream | Probing::Watch)
    }
}

/// What a call asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan<'a> {
    pub probing: Probing,
    pub probe: &'a ProbeOptions,
    /// Targets in flight at most.
    pub concurrency: usize,
    /// Requests per second at most, for the whole call.
    pub rate_limit: Option<u32>,
    /// How early a probe may leave to share a wake-up with those due just after it.
    pub slack: Duration,
}

impl<'a> Plan<'a> {
    /// A call of `probing` with `probe`, one target in flight, no rate limit.
    pub(crate) fn new(probing: Probing, probe: &'a ProbeOptions) -> Plan<'a> {
        Plan {
            probing,
            probe,
            concurrency: 1,
            rate_limit: None,
            slack: Duration::ZERO,
        }
    }
}

/// A call, set up: where its probes go and what they look like.
#[derive(Clone)]
pub(crate) struct Call {
    pub engines: Arc<dyn Engines>,
    pub resolver: Option<Resolver>,
    pub settings: Settings,
    /// Raw sockets (`true`) or the unprivileged kind.
    pub privileged: bool,
    /// The address the probes leave from, if one is set.
    pub source: Option<IpAddr>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("settings", &self.settings)
            .field("privileged", &self.privileged)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// A scheduler of `targets`, each probed by the job `jobs` makes for its address;
    /// nothing is sent before it is polled.
    pub(crate) fn schedule<I, J, F>(self, targets: I, jobs: F) -> Scheduler<I, J, F>
    where
        I: Iterator,
        I::Item: AsRef<str>,
        J: Job,
        F: FnMut(&I::Item, IpAddr) -> J,
    {
        Scheduler::new(self.engines, self.resolver, self.settings, targets, jobs)
    }
}

/// What the one target of a call made for one came to. Borrows the scheduler: a future
/// that held it would double the size of the caller's future.
///
/// # Errors
/// Why the target could not be probed.
pub(crate) async fn only<S, T, O>(scheduler: &mut S) -> Result<O>
where
    S: Stream<Item = Finished<T, O>> + Unpin,
{
    let finished = scheduler.next().await.ok_or(Error::SocketUnavailable)?;
    finished.result.map_err(|failed| failed.error)
}

impl Pinger {
    /// Sets up a call: checks that it runs within a tokio runtime, checks its options and
    /// what this system can do with them, and gives the engines (the pinger's for the
    /// socket kind, source address and Don't Fragment setting the options ask for), the
    /// resolver and the scheduler's settings. A call that runs on its own
    /// ([`Probing::Stream`], [`Probing::Watch`]) opens the socket of its likely family
    /// here, so that a permission problem is the call's error rather than every target's.
    ///
    /// # Errors
    /// [`Error::Runtime`], [`Error::InvalidOption`], and the socket's errors that fail a
    /// call ([`Error::fails_the_call`]).
    pub(crate) fn set_up(&self, plan: Plan<'_>) -> Result<Call> {
        // The call's own faults first: finding the socket kind opens sockets, and a
        // process that may open none would hear of that instead.
        check(&plan)?;
        let privileged = self.privileged(plan.probe.socket_kind)?;
        let source = plan.probe.source.or(self.inner.source);
        let engines = self.engines_for(privileged, source, plan.probe.dont_fragment, 0);
        let resolver = self.inner.resolver.clone();
        finish(plan, engines, resolver, privileged, source)
    }

    /// The engines of a call on sockets of `privileged` kind from `source`, with
    /// `dont_fragment`: the pinger's own when the call asks nothing else of them; `shard`
    /// numbers the sockets of a sweep over several (0: the call's only one).
    pub(crate) fn engines_for(
        &self,
        privileged: bool,
        source: Option<IpAddr>,
        dont_fragment: DontFragment,
        shard: u16,
    ) -> Arc<dyn Engines> {
        let inner = &self.inner;
        if source == inner.source && dont_fragment == DontFragment::System && shard == 0 {
            return Arc::clone(&inner.own_engines[usize::from(privileged)]) as Arc<dyn Engines>;
        }
        Arc::new(CallEngines {
            cache: Arc::clone(&inner.engines),
            privileged,
            source,
            dont_fragment,
            shard,
        })
    }
}

/// Sets up a call on `engines` (of `privileged` sockets, sending from `source`): the
/// checks and settings of [`Pinger::set_up`], whatever the engines (the tests give engines
/// on the fake transport).
///
/// # Errors
/// As [`Pinger::set_up`].
#[cfg(test)]
pub(crate) fn prepare(
    plan: Plan<'_>,
    engines: Arc<dyn Engines>,
    resolver: Option<Resolver>,
    privileged: bool,
    source: Option<IpAddr>,
) -> Result<Call> {
    check(&plan)?;
    finish(plan, engines, resolver, privileged, source)
}

/// What a call may be refused for before anything about sockets is known: outside a
/// runtime, or its options.
fn check(plan: &Plan<'_>) -> Result<()> {
    runtime::current(plan.probing.name())?;
    let probe = plan.probe;
    match plan.probing {
        // Watches send one probe at a time, whatever the count.
        Probing::Watch => ProbeOptions {
            count: 1,
            ..probe.clone()
        }
        .check()?,
        // The search chooses the payload sizes: a payload option does not apply.
        Probing::PathMtu => ProbeOptions {
            payload: None,
            payload_size: 0,
            ..probe.clone()
        }
        .check()?,
        _ => probe.check()?,
    }
    if plan.rate_limit == Some(0) {
        return Err(Error::invalid(
            "rate_limit must be at least 1 request per second",
        ));
    }
    Ok(())
}

/// The rest of a call's set-up, once [`check`]ed: what this system refuses for the socket
/// kind, the settings, and the socket of a call that opens it first.
fn finish(
    plan: Plan<'_>,
    engines: Arc<dyn Engines>,
    resolver: Option<Resolver>,
    privileged: bool,
    source: Option<IpAddr>,
) -> Result<Call> {
    let probe = plan.probe;
    if probe.traffic_class != 0 {
        limits::check(Capability::TrafficClass, privileged)?;
    }
    if probe.dont_fragment != DontFragment::System {
        limits::check(Capability::DontFragment, privileged)?;
    }
    if probe.id.is_some() {
        limits::check(Capability::ChosenId, privileged)?;
    }
    let settings = Settings {
        slack: plan.slack,
        ..Settings::new(probe, source, plan.concurrency, plan.rate_limit)
    };
    if plan.probing.opens_first()
        && let Err(error) = engines.engine(settings.lookup_family().unwrap_or(Family::V4), 0)
        && error.fails_the_call()
    {
        return Err(error);
    }
    Ok(Call {
        engines,
        resolver,
        settings,
        privileged,
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn set_up(probing: Probing, probe: &ProbeOptions) -> Result<Call> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _entered = runtime.enter();
        // Datagram sockets: opening the stream's socket must not need privileges here.
        Pinger::builder()
            .privileged(false)
            .build()
            .set_up(Plan::new(probing, probe))
    }

    #[test]
    fn invalid_probe_options_are_refused_by_every_call() {
        for probing in [
            Probing::Ping,
            Probing::Sweep,
            Probing::Trace,
            Probing::PathMtu,
        ] {
            let timeout = ProbeOptions::default().timeout(Duration::ZERO);
            assert!(Error::is_invalid(&set_up(probing, &timeout)), "{probing:?}");
            let source_of_the_other_family = ProbeOptions::default()
                .source("192.0.2.1".parse::<IpAddr>().unwrap())
                .family(Family::V6);
            assert!(Error::is_invalid(&set_up(
                probing,
                &source_of_the_other_family
            )));
        }
    }

    #[test]
    fn options_that_do_not_apply_are_not_checked() {
        let no_count = ProbeOptions {
            count: 0,
            ..ProbeOptions::default()
        };
        assert!(Error::is_invalid(&set_up(Probing::Ping, &no_count)));
        let oversized = ProbeOptions::default().payload_size(70_000);
        assert!(Error::is_invalid(&set_up(Probing::Ping, &oversized)));
        assert!(set_up(Probing::PathMtu, &oversized).is_ok());
    }

    #[test]
    fn the_settings_follow_the_options() {
        let source: IpAddr = "2001:db8::1".parse().unwrap();
        let call = set_up(Probing::Ping, &ProbeOptions::default().source(source)).unwrap();
        assert_eq!(call.settings.lookup_family(), Some(Family::V6));
        assert_eq!(
            call.settings.family, None,
            "an address of the other family is not refused"
        );
        assert!(!call.privileged);
        let forced = set_up(Probing::Ping, &ProbeOptions::default().family(Family::V4)).unwrap();
        assert_eq!(forced.settings.lookup_family(), Some(Family::V4));
    }

    #[test]
    fn a_zero_rate_limit_is_refused() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _entered = runtime.enter();
        let probe = ProbeOptions::default();
        let plan = Plan {
            rate_limit: Some(0),
            ..Plan::new(Probing::Sweep, &probe)
        };
        assert!(Error::is_invalid(&Pinger::new().set_up(plan)));
    }

    #[test]
    fn outside_a_runtime_every_call_names_itself() {
        let Err(Error::Runtime { reason }) =
            Pinger::new().set_up(Plan::new(Probing::Watch, &ProbeOptions::default()))
        else {
            panic!("a call outside a runtime is refused");
        };
        assert!(reason.starts_with("watch "), "{reason}");
    }
}
