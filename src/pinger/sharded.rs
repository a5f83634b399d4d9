//! The sweeps of a [`Pinger`] over several sockets per family
//! ([`MultipingOptions::sockets`]): a scheduler per socket, each in a task of its own (see
//! [`crate::shards`]).

use std::net::IpAddr;

use futures::StreamExt;

use super::{Pinger, host};
use crate::engine::raw_filters_work;
use crate::error::Result;
use crate::family::Family;
use crate::host::Host;
use crate::jobs::EchoJob;
use crate::options::MultipingOptions;
use crate::runtime;
use crate::scheduler::{Scheduler, Settings};
use crate::shards::{Indexed, Merged, Shared, Tasks, shares};

/// What makes each shard's jobs (one call per target: boxed, so that the shards have a
/// type that can be named).
type EchoJobs = Box<dyn FnMut(usize, IpAddr) -> EchoJob + Send>;

/// The scheduler of one shard of a sweep over several sockets.
type EchoShard<I> = Scheduler<Shared<I>, EchoJob, EchoJobs>;

impl Pinger {
    /// The sockets per family a sweep with `options` spreads over: its
    /// [`MultipingOptions::sockets`]; for raw sockets, each of which receives a copy of
    /// every reply, only where an in-kernel filter on the identifier drops the others'
    /// (Linux, and the system took it) and the shards have identifiers of their own
    /// (none chosen); else one. Unfiltered, each shard's socket would read every reply
    /// into a buffer sized for its own.
    pub(super) fn socket_count(&self, options: &MultipingOptions) -> usize {
        if options.sockets > 1
            && self.is_raw(options)
            && (!cfg!(target_os = "linux")
                || options.probe.id.is_some()
                || !self.raw_filters_work(options))
        {
            1
        } else {
            options.sockets
        }
    }

    fn is_raw(&self, options: &MultipingOptions) -> bool {
        self.inner.privileged && options.probe.privileged
    }

    /// Whether raw sockets take the identifier filter here: as the last one opened did,
    /// or, before any, the one this call would use, opened now.
    fn raw_filters_work(&self, options: &MultipingOptions) -> bool {
        if let Some(known) = raw_filters_work() {
            return known;
        }
        let family = options.probe.family.unwrap_or(Family::V4);
        let (engines, _) = self.engines(&options.probe);
        // The engine opened here stays in the pinger's cache for the call.
        let _engine = engines.engine(family, 0);
        raw_filters_work().unwrap_or(false)
    }

    /// The schedulers of a sweep over several sockets per family, sharing `targets` and
    /// the hosts in flight; nothing is sent before they are polled.
    fn shards<I>(&self, targets: I, options: &MultipingOptions) -> Result<Vec<EchoShard<I>>>
    where
        I: Iterator,
        I::Item: AsRef<str>,
    {
        runtime::current("icmplib's async functions")?;
        let (_, source) = self.engines(&options.probe);
        let settings = options.settings(source)?;
        self.check_id(&settings, &options.probe)?;
        let shares = shares(settings.concurrency, self.socket_count(options));
        // Raw shards on sockets of their own, not the pinger's shared one, whose filter
        // may have gone (identifiers chosen by other calls add to it).
        let first = usize::from(self.is_raw(options) && shares.len() > 1);
        let mut shards = Vec::with_capacity(shares.len());
        let targets = Shared::split(targets, &shares);
        for (shard, (targets, concurrency)) in targets.into_iter().zip(shares).enumerate() {
            let shard = u16::try_from(first + shard).unwrap_or(u16::MAX);
            let (engines, _) = self.shard_engines(&options.probe, shard);
            let probe = options.probe.clone();
            let jobs: EchoJobs = Box::new(move |_, _| EchoJob::new(&probe));
            let settings = Settings {
                concurrency,
                ..settings.clone()
            };
            let resolver = self.inner.resolver.clone();
            shards.push(Scheduler::new(engines, resolver, settings, targets, jobs));
        }
        Ok(shards)
    }

    /// [`Pinger::multiping`] over several sockets: each shard in a task of its own.
    pub(super) async fn multiping_sharded(
        &self,
        addresses: Vec<String>,
        options: &MultipingOptions,
    ) -> Result<Vec<Host>> {
        let count = addresses.len();
        let shards = self.shards(addresses.into_iter(), options)?;
        let tasks = Tasks::spawn(
            &tokio::runtime::Handle::current(),
            shards,
            |mut shard| async move {
                let mut hosts = Vec::new();
                while let Some(finished) = shard.next().await {
                    if let Err(failed) = &finished.result
                        && failed.error.fails_the_call()
                    {
                        return Err(failed.error.clone());
                    }
                    hosts.push((finished.target.index, host(finished)));
                }
                Ok(hosts)
            },
        );
        let mut hosts = Vec::with_capacity(count);
        for shard in tasks.try_join().await? {
            hosts.extend(shard);
        }
        hosts.sort_unstable_by_key(|(index, _)| *index);
        Ok(hosts.into_iter().map(|(_, host)| host).collect())
    }

    /// [`Pinger::multiping_stream`] over several sockets: each shard in a task of its own
    /// (started on the first poll), the hosts merged as they finish.
    pub(super) fn multiping_stream_sharded<I>(
        &self,
        targets: I,
        options: &MultipingOptions,
    ) -> Result<Merged<EchoShard<I>, Host>>
    where
        I: Iterator + Send + 'static,
        I::Item: AsRef<str> + Send + 'static,
    {
        let shards = self.shards(targets, options)?;
        Ok(Merged::new(
            tokio::runtime::Handle::current(),
            shards,
            host::<Indexed<I::Item>>,
        ))
    }
}
