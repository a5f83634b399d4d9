//! The sweeps of a [`Pinger`] over several sockets per family
//! ([`MultipingOptions::sockets`]): a scheduler per socket, each in a task of its own (see
//! [`crate::pinger::shards`]).

use std::net::IpAddr;

use super::{EchoJob, MultipingOptions, gather, host, in_order};
use crate::engine::raw_filters_work;
use crate::error::Result;
use crate::family::Family;
use crate::host::Host;
use crate::pinger::shards::{Indexed, Merged, Shared, Tasks, shares};
use crate::pinger::{Call, Pinger};
use crate::scheduler::{Scheduler, Settings};

/// What makes each shard's jobs (one call per target: boxed, so that the shards have a
/// type that can be named).
type EchoJobs<T> = Box<dyn FnMut(&Indexed<T>, IpAddr) -> EchoJob + Send>;

/// The scheduler of one shard of a sweep over several sockets.
type EchoShard<I> = Scheduler<Shared<I>, EchoJob, EchoJobs<<I as Iterator>::Item>>;

/// The sockets per family a sweep with `options` spreads over: its
/// [`MultipingOptions::sockets`]; for raw sockets, each of which receives a copy of every
/// reply, only where an in-kernel filter on the identifier drops the others' (Linux, and
/// the system took it) and the shards have identifiers of their own (none chosen); else
/// one. Unfiltered, each shard's socket would read every reply into a buffer sized for its
/// own.
pub(super) fn socket_count(call: &Call, options: &MultipingOptions) -> usize {
    if options.sockets > 1
        && call.privileged
        && (!cfg!(target_os = "linux")
            || options.probe.id.is_some()
            || !raw_filters_work_for(call, options))
    {
        1
    } else {
        options.sockets
    }
}

impl Pinger {
    /// The schedulers of a sweep over several sockets per family, sharing `targets` and
    /// the hosts in flight; nothing is sent before they are polled.
    fn shards<I>(&self, call: Call, targets: I, options: &MultipingOptions) -> Vec<EchoShard<I>>
    where
        I: Iterator,
        I::Item: AsRef<str>,
    {
        let shares = shares(call.settings.concurrency, socket_count(&call, options));
        // Raw shards on sockets of their own, not the pinger's shared one, whose filter
        // may have gone (identifiers chosen by other calls add to it).
        let first = usize::from(call.privileged && shares.len() > 1);
        let mut shards = Vec::with_capacity(shares.len());
        let targets = Shared::split(targets, &shares);
        for (shard, (targets, concurrency)) in targets.into_iter().zip(shares).enumerate() {
            let shard = u16::try_from(first + shard).unwrap_or(u16::MAX);
            let engines = self.engines_for(
                call.privileged,
                call.source,
                options.probe.dont_fragment,
                shard,
            );
            let probe = options.probe.clone();
            let jobs: EchoJobs<I::Item> = Box::new(move |_, _| EchoJob::new(&probe));
            let settings = Settings {
                concurrency,
                ..call.settings.clone()
            };
            let resolver = call.resolver.clone();
            shards.push(Scheduler::new(engines, resolver, settings, targets, jobs));
        }
        shards
    }

    /// [`Pinger::multiping`] over several sockets: each shard in a task of its own.
    pub(super) async fn multiping_sharded(
        &self,
        call: Call,
        addresses: Vec<String>,
        options: &MultipingOptions,
    ) -> Result<Vec<Host>> {
        let shards = self.shards(call, addresses.into_iter(), options);
        let tasks = Tasks::spawn(&tokio::runtime::Handle::current(), shards, |shard| {
            gather(shard, |finished| finished.target.index)
        });
        let hosts = tasks.try_join().await?.into_iter().flatten().collect();
        Ok(in_order(hosts))
    }

    /// [`Pinger::multiping_stream`] over several sockets: each shard in a task of its own
    /// (started on the first poll), the hosts merged as they finish.
    pub(super) fn multiping_stream_sharded<I>(
        &self,
        call: Call,
        targets: I,
        options: &MultipingOptions,
    ) -> Merged<EchoShard<I>, Host>
    where
        I: Iterator + Send + 'static,
        I::Item: AsRef<str> + Send + 'static,
    {
        let shards = self.shards(call, targets, options);
        Merged::new(
            tokio::runtime::Handle::current(),
            shards,
            host::<Indexed<I::Item>>,
        )
    }
}

/// Whether raw sockets take the identifier filter here: as the last one opened did, or,
/// before any, the one this call would use, opened now.
fn raw_filters_work_for(call: &Call, options: &MultipingOptions) -> bool {
    if let Some(known) = raw_filters_work() {
        return known;
    }
    let family = options.probe.family.unwrap_or(Family::V4);
    // The engine opened here stays in the pinger's cache for the call.
    let _engine = call.engines.engine(family, 0);
    raw_filters_work().unwrap_or(false)
}
