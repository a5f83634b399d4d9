//! Path MTU, the largest packet that reaches a host without being fragmented, found with
//! echo requests of chosen sizes and Don't Fragment set: [`path_mtu`] and
//! [`async_path_mtu`] on the process's default [`Pinger`], the same call as its method,
//! [`PathMtuOptions`] and what it finds ([`PathMtu`]), and the job and the pure search
//! behind it (`job.rs`, `search.rs`).

mod job;
mod options;
mod search;

use std::future::Future;

use crate::error::Result;
use crate::family::Family;
use crate::pinger::{Pinger, Plan, Probing, only};
use crate::runtime::block_on;
use crate::target::Target;
use job::PathMtuJob;
pub use options::{PathMtu, PathMtuOptions};

/// Finds the path MTU to `target` (an IP address or a name: see [`Target`]): the largest echo request
/// that reaches the host and is answered without being fragmented anywhere, as
/// `tracepath` reports it.
///
/// Requests leave with Don't Fragment set
/// ([`DontFragment::Probe`](crate::DontFragment::Probe)), one at a time. The first is the
/// largest the family allows, so that this host's own limit (its interface's MTU) comes
/// first; every Fragmentation Needed / Packet Too Big answer's MTU is tried next (a
/// router's below 552 bytes for IPv4, 1,280 for IPv6, is not); when a size gets no answer
/// at all ([`PathMtuOptions`]'s `count` times, two more for each probe seen lost), the
/// interval between what passed and what did not is halved, and the largest size that
/// passed is sent again as a control (lost too, that is a loss seen).
///
/// Nothing a message says is taken without a probe: the answer is a size that passed,
/// and the size above it was refused by this host, refused twice by routers, or stayed
/// silent `count` + 3 times (two more per loss seen), each time followed by a control.
/// A forged Fragmentation Needed or a lossy path can make a search longer, or leave it
/// [incomplete](PathMtu::is_complete), not wrong. It ends in a handful of probes where
/// routers say their MTU, in at most `max_probes` where they are silent.
///
/// Works unprivileged on Linux: the routers' messages are read from the socket's error
/// queue. Not on Windows yet, which cannot set Don't Fragment here
/// ([`Error::InvalidOption`](crate::Error::InvalidOption)).
///
/// ```no_run
/// use icmplib::{PathMtuOptions, path_mtu};
///
/// let found = path_mtu("127.0.0.1", &PathMtuOptions::default()).unwrap();
/// println!("{found}");
/// ```
///
/// # Errors
/// [`Error::InvalidOption`](crate::Error::InvalidOption) for invalid options (a zero
/// `max_probes`, count or timeout); [`Error::NameLookup`](crate::Error::NameLookup) for a
/// name without an address; [`Error::TimeoutExceeded`](crate::Error::TimeoutExceeded) when
/// no size is answered; the ICMP error that stopped the search (a host unreachable, a TTL
/// exceeded); [`Error::SocketPermission`](crate::Error::SocketPermission) when the socket
/// cannot be opened; [`Error::Runtime`](crate::Error::Runtime) when called within a tokio
/// runtime.
pub fn path_mtu(target: impl Into<Target>, options: &PathMtuOptions) -> Result<PathMtu> {
    block_on("path_mtu", async_path_mtu(target, options))
}

/// The async form of [`path_mtu`]. The future owns what it needs (`'static`): it can be
/// spawned.
///
/// # Errors
/// As [`path_mtu`], [`Error::Runtime`](crate::Error::Runtime) outside a tokio runtime.
///
/// # Cancel safety
/// Cancel safe: dropping the future abandons the search; its request in flight is
/// forgotten and its late answer dropped.
pub fn async_path_mtu(
    target: impl Into<Target>,
    options: &PathMtuOptions,
) -> impl Future<Output = Result<PathMtu>> + Send + 'static {
    Pinger::shared().path_mtu(target, options)
}

impl Pinger {
    /// Finds the path MTU to `target`, as [`async_path_mtu`](crate::async_path_mtu)
    /// does, on this pinger's sockets (one with Don't Fragment set, opened on first use).
    ///
    /// # Errors
    /// As [`async_path_mtu`](crate::async_path_mtu).
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the search; its request in flight is
    /// forgotten and its late answer dropped.
    pub fn path_mtu(
        &self,
        target: impl Into<Target>,
        options: &PathMtuOptions,
    ) -> impl Future<Output = Result<PathMtu>> + Send + 'static {
        let (pinger, target, options) = (self.clone(), target.into(), options.clone());
        async move {
            options.check()?;
            let probe = options.probe();
            let call = pinger.set_up(Plan::new(Probing::PathMtu, &probe))?;
            let mut scheduler = call.schedule(std::iter::once(target), |_, address| {
                PathMtuJob::new(
                    Family::of(&address),
                    probe.count,
                    options.max_probes,
                    probe.interval,
                    probe.ttl,
                )
            });
            only(&mut scheduler).await?
        }
    }
}
