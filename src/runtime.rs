//! The tokio runtime: the one the async functions run in, checked for what they need, and
//! the ones the blocking functions make.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use tokio::runtime::{Builder, Handle};

use crate::error::{Error, Result};

/// The runtime the calling task runs in, once checked for a time driver: `what` (a
/// function or type) names the caller in the error.
///
/// Tokio cannot be asked whether a runtime has its time driver; making a timer without one
/// panics. So a timer is made under `catch_unwind`: without the driver the caller gets
/// [`Error::Runtime`] saying what to enable (tokio's panic message is still printed by the
/// panic hook, and with `panic = "abort"` the process aborts as before). The I/O driver is
/// checked where a socket is registered (see `Error::missing_io_driver`).
///
/// # Errors
/// [`Error::Runtime`] outside a runtime, or in one without a time driver.
pub(crate) fn current(what: &str) -> Result<Handle> {
    let handle = Handle::try_current().map_err(|_| Error::Runtime {
        reason: format!(
            "{what} must run within a tokio runtime (with its I/O and time drivers: \
             enable_all(), as #[tokio::main] does)"
        ),
    })?;
    catch_unwind(AssertUnwindSafe(|| {
        drop(tokio::time::sleep(Duration::ZERO))
    }))
    .map_err(|_| Error::Runtime {
        reason: format!(
            "{what} needs the tokio runtime's time driver: build the runtime with \
                 enable_time() or enable_all() (as #[tokio::main] does)"
        ),
    })?;
    Ok(handle)
}

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
