//! The sweeps of a [`Pinger`] over several sockets per family
//! ([`MultipingOptions::sockets`]): a scheduler per socket, each in a task of its own (see
//! [`crate::pinger::shards`]).

use std::net::IpAddr;

use super::{EchoJob, MultipingOptions, gather, host, in_order};
use crate::error::Result;
use crate::host::Host;
use crate::pinger::shards::{Indexed, Merged, Shared, Tasks, shares, spread};
use crate::pinger::{Call, Pinger};
use crate::scheduler::{Scheduler, Settings};
use crate::target::Target;

/// What makes each shard's jobs (one call per target: boxed, so that the shards have a
/// type that can be named).
type EchoJobs<T> = Box<dyn FnMut(&Indexed<T>, IpAddr) -> EchoJob + Send>;

/// The scheduler of one shard of a sweep over several sockets.
type EchoShard<I> = Scheduler<Shared<I>, EchoJob, EchoJobs<<I as Iterator>::Item>>;

/// The sockets per family a sweep with `options` spreads over (see [`spread`]).
pub(super) fn socket_count(call: &Call, options: &MultipingOptions) -> usize {
    spread(
        call,
        options.sockets,
        options.probe.id.is_some(),
        options.probe.family,
    )
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
        targets: Vec<Target>,
        options: &MultipingOptions,
    ) -> Result<Vec<Host>> {
        let shards = self.shards(call, targets.into_iter(), options);
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
