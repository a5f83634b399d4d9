//! Running async code from the blocking functions.

use std::future::Future;

use crate::{Error, Result};

/// How the blocking function's runtime runs its tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threads {
    /// One thread: enough for one host.
    One,
    /// A worker per core (at most 4): sweeps send on one while another receives.
    PerCore,
}

/// Runs `future` to completion on a new runtime, for the blocking function `name`.
/// Refuses to run inside a tokio runtime, where blocking would stall the runtime's
/// thread (and building a runtime there panics).
pub(crate) fn block_on<T>(
    name: &str,
    threads: Threads,
    future: impl Future<Output = Result<T>>,
) -> Result<T> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::Runtime {
            reason: format!(
                "icmplib::{name} blocks and cannot be called from within a tokio runtime: \
                 use icmplib::async_{name}(..).await instead"
            ),
        });
    }
    let runtime = match threads {
        Threads::One => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        Threads::PerCore => {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(cores.clamp(2, 4))
                .enable_all()
                .build()?
        }
    };
    runtime.block_on(future)
}
