//! Traceroute, the routers on the path to a host found with echo requests of growing
//! TTL, privileged or not, one hop at a time or all at once: [`traceroute`] and
//! [`async_traceroute`] on the process's default [`Pinger`], the same call as its method,
//! [`TracerouteOptions`], and the job that probes the distances (`job.rs`).

mod distance;
mod flows;
mod job;
pub(crate) use flows::Flows;
pub(crate) use job::TraceJob;

mod options;

use std::future::Future;

use crate::error::Result;
use crate::hop::Hop;
use crate::names::Names;
use crate::pinger::{Pinger, Plan, Probing, only};
use crate::resolve::Resolver;
use crate::runtime::block_on;
use crate::target::Target;

pub use options::TracerouteOptions;

/// Traces the route to `target` (an IP address or a name: see [`Target`]), as `icmplib.traceroute`
/// does: echo requests with TTL `first_hop`, `first_hop + 1`, ... up to `max_hops`, until
/// the host answers or a router reports it unreachable (that hop then carries the
/// [`Error::DestinationUnreachable`](crate::Error::DestinationUnreachable)). Hops that
/// never answered are left out; hops come sorted by distance.
///
/// Works unprivileged on Linux too (datagram sockets): the Time Exceeded messages of
/// datagram sockets are read from the socket's error queue.
///
/// ```no_run
/// use icmplib::{TracerouteOptions, traceroute};
///
/// for hop in traceroute("127.0.0.1", &TracerouteOptions::default()).unwrap() {
///     println!("{hop}");
/// }
/// ```
///
/// # Errors
/// [`Error::InvalidOption`](crate::Error::InvalidOption) for invalid options (`first_hop`
/// 0, `max_hops` below it, a zero count or timeout, a `ttl` or `try_next_address` set,
/// `flows` out of 1 to 64 or without `flow_stable`, flow-stable probes with a fixed
/// payload or one under 2 bytes, several flows on Windows without privileges);
/// [`Error::NameLookup`](crate::Error::NameLookup); socket errors
/// ([`Error::SocketPermission`](crate::Error::SocketPermission), a failed send);
/// [`Error::Runtime`](crate::Error::Runtime) within a tokio runtime.
pub fn traceroute(target: impl Into<Target>, options: &TracerouteOptions) -> Result<Vec<Hop>> {
    block_on("traceroute", async_traceroute(target, options))
}

/// The async form of [`traceroute`], on the runtime's shared sockets: any number of
/// traceroutes and pings run at once without taking each other's replies. The future
/// owns what it needs (`'static`): it can be spawned.
///
/// # Errors
/// As [`traceroute`], with [`Error::Runtime`](crate::Error::Runtime) outside a tokio
/// runtime.
///
/// # Cancel safety
/// Cancel safe: dropping the future abandons the trace; its probes in flight are
/// forgotten and their late answers dropped.
pub fn async_traceroute(
    target: impl Into<Target>,
    options: &TracerouteOptions,
) -> impl Future<Output = Result<Vec<Hop>>> + Send + 'static {
    Pinger::shared().traceroute(target, options)
}

impl Pinger {
    /// Traces the route to `target`, as [`async_traceroute`](crate::async_traceroute)
    /// does, on this pinger's sockets. The future owns what it needs (`'static`).
    ///
    /// # Errors
    /// As [`async_traceroute`](crate::async_traceroute).
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the trace; its probes in flight are
    /// forgotten and their late answers dropped.
    pub fn traceroute(
        &self,
        target: impl Into<Target>,
        options: &TracerouteOptions,
    ) -> impl Future<Output = Result<Vec<Hop>>> + Send + 'static {
        let (pinger, target, options) = (self.clone(), target.into(), options.clone());
        async move {
            options.check()?;
            let call = pinger.set_up(Plan::new(Probing::Trace, &options.probe))?;
            check_flows(options.flows, call.privileged)?;
            let resolver = call.resolver.clone();
            let mut scheduler =
                call.schedule(std::iter::once(target), |_, _| TraceJob::new(&options));
            let hops = only(&mut scheduler).await??;
            drop(scheduler);
            Ok(if options.names {
                name(hops, resolver).await
            } else {
                hops
            })
        }
    }
}

/// Several flows need probes whose sequence numbers the library chooses: Windows' ICMP
/// helper API (the unprivileged kind there) chooses its own, so that no flow keeps its
/// checksum.
///
/// # Errors
/// [`Error::InvalidOption`](crate::Error::InvalidOption) for several flows there.
pub(crate) fn check_flows(flows: u16, privileged: bool) -> Result<()> {
    if cfg!(windows) && !privileged && flows > 1 {
        return Err(crate::error::Error::invalid(
            "flows needs raw sockets on Windows: the ICMP helper API chooses each probe's \
             sequence number, so no flow keeps its checksum (run elevated, or trace one flow)",
        ));
    }
    Ok(())
}

/// `hops` with the names of their routers, those found within the names' timeout, through
/// `resolver` (the system's when none is given; without one, no names).
async fn name(hops: Vec<Hop>, resolver: Option<Resolver>) -> Vec<Hop> {
    let Some(resolver) = resolver.or_else(|| Resolver::system().ok()) else {
        return hops;
    };
    let mut names = Names::new(resolver);
    names.all(hops.iter().filter_map(|hop| hop.ip())).await;
    hops.into_iter()
        .map(|hop| {
            let name = hop
                .ip()
                .and_then(|ip| names.known(ip))
                .map(|name| name.to_string());
            hop.with_name(name)
        })
        .collect()
}
