//! Windows' ICMP helper API (`IcmpSendEcho2Ex`, `Icmp6SendEcho2`): echo requests without
//! privileges. [`reply`] reads what the API writes back and `slots` keeps the requests
//! in flight (both pure, tested everywhere); `session` (Windows only) issues the requests
//! and `completion` (Windows only) reads what comes back, on what `state` holds.

#[cfg(windows)]
mod completion;
pub(crate) mod reply;
#[cfg(windows)]
mod session;
mod slots;
#[cfg(windows)]
mod state;
#[cfg(windows)]
pub(crate) use session::Session;
#[cfg(windows)]
pub(crate) use state::{Completed, Echo};
