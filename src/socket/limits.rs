//! What this system's ICMP cannot do, in one table: every refusal of a capability (a TOS,
//! Don't Fragment, a chosen identifier, an interface) is written here once, and checked
//! where a call is set up, where an engine opens its transport and where a low-level
//! request is sent.
//!
//! Only Windows refuses anything today: its ICMP helper API (the unprivileged path)
//! chooses the identifier itself and cannot bind to an interface, and neither it nor
//! raw winsock sockets set a TOS or Don't Fragment here.

use crate::error::{Error, Result};

/// Something a request or a socket may ask of the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Capability {
    /// A TOS / traffic class other than 0.
    TrafficClass,
    /// A Don't Fragment setting other than the system's.
    DontFragment,
    /// An ICMP identifier chosen by the caller.
    ChosenId,
    /// Binding the probes to an interface, or marking them.
    Binding,
}

/// One refusal: the capability, whether only the unprivileged path refuses it, and what
/// to do instead.
#[derive(Debug)]
struct Refusal {
    capability: Capability,
    unprivileged_only: bool,
    reason: &'static str,
}

/// What Windows cannot do.
const WINDOWS: &[Refusal] = &[
    Refusal {
        capability: Capability::TrafficClass,
        unprivileged_only: false,
        reason: "Windows cannot set the TOS / traffic class of ICMP requests: leave \
                 traffic_class at 0",
    },
    Refusal {
        capability: Capability::DontFragment,
        unprivileged_only: false,
        reason: "Windows cannot set Don't Fragment on ICMP requests here yet: leave \
                 dont_fragment at DontFragment::System",
    },
    Refusal {
        capability: Capability::ChosenId,
        unprivileged_only: true,
        reason: "on Windows, unprivileged requests get their identifier from the system: \
                 leave id unset, or use SocketKind::Raw (Administrator)",
    },
    Refusal {
        capability: Capability::Binding,
        unprivileged_only: true,
        reason: "Windows' ICMP API cannot bind probes to an interface or mark them: give \
                 a source address",
    },
];

/// The refusals of the system this was built for.
fn this_system() -> &'static [Refusal] {
    if cfg!(windows) { WINDOWS } else { &[] }
}

/// Checks that this system can do `capability` on raw sockets (`privileged`) or on its
/// unprivileged path.
///
/// # Errors
/// [`Error::InvalidOption`] saying what to do instead.
pub(crate) fn check(capability: Capability, privileged: bool) -> Result<()> {
    check_in(this_system(), capability, privileged)
}

fn check_in(table: &[Refusal], capability: Capability, privileged: bool) -> Result<()> {
    match table.iter().find(|refusal| {
        refusal.capability == capability && !(privileged && refusal.unprivileged_only)
    }) {
        Some(refusal) => Err(Error::invalid(refusal.reason)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(capability: Capability, privileged: bool) -> bool {
        check_in(WINDOWS, capability, privileged).is_err()
    }

    #[test]
    fn windows_refuses_per_path() {
        assert!(refused(Capability::TrafficClass, true));
        assert!(refused(Capability::TrafficClass, false));
        assert!(refused(Capability::DontFragment, true));
        assert!(refused(Capability::ChosenId, false));
        assert!(!refused(Capability::ChosenId, true));
        assert!(refused(Capability::Binding, false));
        assert!(!refused(Capability::Binding, true));
    }

    #[test]
    fn the_reason_says_what_to_do() {
        let Err(Error::InvalidOption { reason }) = check_in(WINDOWS, Capability::ChosenId, false)
        else {
            panic!("a chosen id is refused without privileges");
        };
        assert!(reason.contains("leave id unset"), "{reason}");
    }

    #[test]
    fn other_systems_refuse_nothing() {
        if !cfg!(windows) {
            for capability in [
                Capability::TrafficClass,
                Capability::DontFragment,
                Capability::ChosenId,
                Capability::Binding,
            ] {
                assert!(check(capability, false).is_ok());
            }
        }
    }
}
