//! The default engines behind the free functions: one per tokio runtime and socket
//! configuration, so that every ping of a runtime shares one socket per family.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::runtime::{Handle, Id};

use super::{Engine, EngineConfig};
use crate::{Error, Result};

/// Engines by runtime and configuration.
static ENGINES: Mutex<Option<HashMap<(Id, EngineConfig), Engine>>> = Mutex::new(None);

/// The current runtime's engine for `config`, opened on first use and opened again after
/// its socket failed. Engines of runtimes that have shut down are closed and dropped here.
///
/// # Errors
/// [`Error::Runtime`] outside a tokio runtime; the socket's error if it cannot be opened.
pub(crate) fn engine_for(config: EngineConfig) -> Result<Engine> {
    let runtime = Handle::try_current().map_err(|_| Error::Runtime {
        reason: "the async functions of icmplib must run within a tokio runtime".into(),
    })?;
    let mut engines = ENGINES.lock().unwrap_or_else(PoisonError::into_inner);
    let engines = engines.get_or_insert_with(HashMap::new);
    engines.retain(|_, engine| !engine.is_closed());
    let key = (runtime.id(), config);
    if let Some(engine) = engines.get(&key) {
        return Ok(engine.clone());
    }
    let engine = Engine::open(config)?;
    engines.insert(key, engine.clone());
    Ok(engine)
}

/// Drops the closed engines, closing their sockets: called when a receive task ends (its
/// runtime shutting down, say), so that a program that made a runtime for one blocking
/// call does not keep that call's socket open. Skipped if the registry is busy (the task
/// may end inside `engine_for` itself); the next `engine_for` drops them then.
pub(super) fn forget_closed() {
    let Ok(mut engines) = ENGINES.try_lock() else {
        return;
    };
    if let Some(engines) = engines.as_mut() {
        engines.retain(|_, engine| !engine.is_closed());
    }
}
