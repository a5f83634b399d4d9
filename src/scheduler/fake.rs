//! Engines on the fake transport, for the tests of the scheduler and of what runs on it.

use super::Engines;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::family::Family;

/// Engines on fake transports, one per family (or none: that family cannot be opened,
/// as without permission).
pub(crate) struct FakeEngines {
    pub v4: Option<Engine>,
    pub v6: Option<Engine>,
}

impl Engines for FakeEngines {
    fn engine(&self, family: Family, _scope_id: u32) -> Result<Engine> {
        let engine = match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        };
        engine
            .clone()
            .ok_or(Error::SocketPermission { privileged: true })
    }
}
