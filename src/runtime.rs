//! Running async code from the blocking functions.

use std::future::Future;

use crate::{Error, Result};

/// Runs `future` to completion on a new single-threaded runtime, for the blocking
/// function `name`. Refuses to run inside a tokio runtime, where blocking would stall
/// the runtime's thread (and building a runtime there panics).
///
/// One thread is also the fastest way to sweep: the sends, the receive task and the
/// replies' wake-ups then never cross threads (measured with `cargo bench --bench sweep`).
pub(crate) fn block_on<T>(name: &str, future: impl Future<Output = Result<T>>) -> Result<T> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::Runtime {
            reason: format!(
                "icmplib::{name} blocks and cannot be called from within a tokio runtime: \
                 use icmplib::async_{name}(..).await instead"
            ),
        });
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future)
}
