//! Running async code from the blocking functions.

use std::future::Future;

use tokio::runtime::Builder;

use crate::error::{Error, Result};

/// Runs `future` to completion on a new single-threaded runtime, for the blocking
/// function `name`. Refuses to run inside a tokio runtime, where blocking would stall
/// the runtime's thread (and building a runtime there panics).
pub(crate) fn block_on<T>(name: &str, future: impl Future<Output = Result<T>>) -> Result<T> {
    refuse_inside_a_runtime(name)?;
    Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

/// As [`block_on`], on a runtime with two worker threads when the machine has more than
/// one CPU: a sweep's reader task then reads and hands out replies on one core while the
/// calling thread sends (measured with `cargo bench --bench sweep`: 65,534 hosts in flight
/// take about 1.2 times as long as the raw-socket loop this way, 1.4 times on one thread).
pub(crate) fn block_on_sweep<T>(name: &str, future: impl Future<Output = Result<T>>) -> Result<T> {
    refuse_inside_a_runtime(name)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        return block_on(name, future);
    }
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(future)
}

fn refuse_inside_a_runtime(name: &str) -> Result<()> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::Runtime {
            reason: format!(
                "icmplib::{name} blocks and cannot be called from within a tokio runtime: \
                 use icmplib::async_{name}(..).await instead"
            ),
        });
    }
    Ok(())
}
