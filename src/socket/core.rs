//! The socket core the blocking and async sockets share: opening a socket of a given
//! kind, sending an encoded request, waiting for room in the send buffer, and the one
//! state machine that reads a datagram socket's two queues (the normal queue and the
//! error queue where Linux puts the ICMP errors about its requests).

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use socket2::Socket;

use super::request::IcmpRequest;
use super::sys::{self, Readiness, Senders};
use crate::error::{Error, Result};
use crate::family::Family;

/// How long a send waits for room in a full send buffer before giving up with the error
/// that said it was full.
pub(crate) const MAX_SEND_WAIT: Duration = Duration::from_secs(1);

/// How many times a send is tried again after failing with another request's ICMP error
/// (see [`SocketClass::send_encoded`]).
const SEND_RETRIES: usize = 8;

/// Requests larger than this may not fit the small send buffer sockets are opened with,
/// once split into IP fragments: the buffer is grown for them.
const LARGE_MESSAGE: usize = 1_400;

/// Checks that requests to `family` can be sent from `source`: an address of that family
/// that a machine can have as its own (not multicast or the broadcast address; the
/// unspecified address lets the system choose, as no source does). The one check of a source address, for the options, the engines and the
/// sockets.
///
/// # Errors
/// [`Error::InvalidOption`] saying what is wrong with `source`.
pub(crate) fn check_source(family: Family, source: IpAddr) -> Result<()> {
    if Family::of(&source) != family {
        return Err(Error::invalid(format!(
            "the source address {source} cannot reach an {family} address"
        )));
    }
    let kind = if source.is_multicast() {
        "a multicast address"
    } else if source == IpAddr::V4(std::net::Ipv4Addr::BROADCAST) {
        "the broadcast address"
    } else {
        return Ok(());
    };
    Err(Error::invalid(format!(
        "the source address {source} is {kind}: requests must leave from an address of \
         this machine"
    )))
}

/// Checks that `target` names one host that can answer an echo request: not the
/// unspecified address (which Linux takes for this machine, whose replies then come from
/// another address), a multicast group (whose members answer, not the group) or the
/// broadcast address.
///
/// # Errors
/// [`Error::InvalidOption`] saying what `target` is.
pub(crate) fn check_target(target: IpAddr) -> Result<()> {
    if target.is_unspecified() {
        return Err(Error::invalid(format!(
            "{target} is the unspecified address: it names no host to ping"
        )));
    }
    if target.is_multicast() {
        return Err(Error::invalid(format!(
            "{target} is a multicast address: its members answer, not the group; ping \
             them one by one"
        )));
    }
    if target == IpAddr::V4(std::net::Ipv4Addr::BROADCAST) {
        return Err(Error::invalid(format!(
            "{target} is the broadcast address: pings go to one host; to send to a \
             broadcast address, use an IcmpV4Socket with set_broadcast(true)"
        )));
    }
    Ok(())
}

/// Where a pinger's sockets are tied, per socket: a network interface (its probes leave
/// by it) and a routing mark (for policy routing and filters).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct Binding {
    pub interface: Option<String>,
    pub mark: Option<u32>,
}

impl Binding {
    /// True when the sockets are tied to nothing.
    #[cfg_attr(not(windows), allow(dead_code))]
    pub fn is_none(&self) -> bool {
        self.interface.is_none() && self.mark.is_none()
    }

    /// Ties `socket` (of `family`) as this says.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] saying why and what to do: no such interface, a mark
    /// without `CAP_NET_ADMIN`, a system without the option.
    pub fn apply(&self, socket: &Socket, family: Family) -> Result<()> {
        if let Some(interface) = &self.interface {
            sys::bind_interface(socket, family, interface).map_err(|error| {
                Error::invalid(match error.raw_os_error() {
                    Some(code) if code == libc_enodev() => {
                        format!("there is no network interface '{interface}'")
                    }
                    _ if error.kind() == io::ErrorKind::PermissionDenied => format!(
                        "binding to interface '{interface}' needs CAP_NET_RAW on this kernel \
                         (Linux before 5.7): run as root or give the program the capability"
                    ),
                    _ => format!("cannot bind to interface '{interface}': {error}"),
                })
            })?;
        }
        if let Some(mark) = self.mark {
            sys::set_mark(socket, mark).map_err(|error| {
                Error::invalid(if error.kind() == io::ErrorKind::PermissionDenied {
                    format!(
                        "a routing mark (SO_MARK {mark}) needs CAP_NET_ADMIN: run as root or \
                         give the program the capability (setcap cap_net_admin+ep PROGRAM)"
                    )
                } else {
                    format!("cannot set the routing mark {mark}: {error}")
                })
            })?;
        }
        Ok(())
    }
}

/// `ENODEV`: no such device (the interface named does not exist).
fn libc_enodev() -> i32 {
    #[cfg(unix)]
    return libc::ENODEV;
    #[cfg(not(unix))]
    19
}

/// The class of an ICMP socket: its family, and raw (privileged) or datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SocketClass {
    pub family: Family,
    pub privileged: bool,
}

impl SocketClass {
    /// Opens a socket of this kind, bound to `source` when given (with its scope: the
    /// interface a link-local IPv6 address belongs to, 0 for none).
    pub fn open(self, source: Option<(IpAddr, u32)>) -> Result<Socket> {
        let socket = sys::open(self.family, self.privileged).map_err(|error| {
            if error.kind() == io::ErrorKind::PermissionDenied {
                Error::SocketPermission {
                    privileged: self.privileged,
                }
            } else if sys::is_out_of_files(&error) {
                Error::TooManyOpenFiles {
                    limit: sys::open_files_limit(),
                }
            } else {
                Error::from(error)
            }
        })?;
        if let Some((address, scope_id)) = source {
            check_source(self.family, address)?;
            socket
                .bind(&sys::socket_address_of(address, scope_id))
                .map_err(|error| match error.kind() {
                    io::ErrorKind::AddrNotAvailable => Error::SocketAddress { address },
                    _ => Error::from(error),
                })?;
        }
        Ok(socket)
    }

    /// Sends an already encoded request; a full send buffer is reported as is (see
    /// [`sys::is_send_buffer_full`]).
    ///
    /// An ICMP error that arrived for an earlier request is also reported by the next send
    /// as the socket's pending error (`IP_RECVERR`), whatever its destination: that send
    /// did not happen. It is tried again (after clearing any error that arrived
    /// meanwhile); a send that fails for its own reason fails the same way every time, and
    /// that error is returned once it came twice in a row. So an `EMSGSIZE` left by a router's Fragmentation Needed
    /// for another request does not pass for this one's refusal. A request larger than the socket's small send buffer grows
    /// it first ([`sys::fit_send_buffer`]).
    pub fn send_encoded(
        self,
        socket: &Socket,
        senders: &Senders,
        request: &IcmpRequest,
        message: &[u8],
    ) -> io::Result<()> {
        if message.len() > LARGE_MESSAGE {
            sys::fit_send_buffer(socket, message.len())?;
        }
        let send = || {
            sys::send_to(
                socket,
                senders,
                message,
                request.destination(),
                request.scope_id(),
                request.ttl(),
                request.traffic_class(),
            )
        };
        let mut result = send();
        let mut previous = None;
        for _ in 0..SEND_RETRIES {
            match &result {
                Err(error)
                    if !sys::is_send_buffer_full(error) && !sys::is_socket_failure(error) =>
                {
                    // The same error twice in a row is this send's own (a pending error is
                    // reported once): tried again, it fails the same way. A size this host
                    // refuses cost 9 sends before.
                    let code = error.raw_os_error();
                    if previous.is_some() && previous == code {
                        break;
                    }
                    previous = code;
                    let _ = socket.take_error();
                    result = send();
                }
                _ => break,
            }
        }
        result.map(drop)
    }

    /// Maps a send error: `EACCES` on an IPv4 socket without broadcast is a broadcast
    /// address refused by the kernel; `EMSGSIZE`, a request larger than the route's MTU
    /// that may not be fragmented ([`DontFragment`](super::dont_fragment::DontFragment)),
    /// is [`Error::PacketTooBig`] with that MTU.
    pub fn send_error(self, socket: &Socket, request: &IcmpRequest, error: io::Error) -> Error {
        if sys::is_too_big(&error) {
            Error::PacketTooBig {
                source: None,
                mtu: sys::route_mtu(socket, request.destination(), request.scope_id()),
                family: self.family,
            }
        } else if self.family == Family::V4
            && sys::is_broadcast_refusal(&error)
            && !socket.broadcast().unwrap_or(false)
        {
            Error::SocketBroadcast
        } else {
            Error::from(error)
        }
    }

    /// Reads one datagram without blocking, from whichever queue [`Queues`] says.
    /// `WouldBlock` when both are empty. A raw socket's error queue is read and dropped:
    /// the socket sees the ICMP messages themselves.
    pub fn read(
        self,
        socket: &Socket,
        buf: &mut [u8],
        readiness: Readiness,
    ) -> io::Result<sys::Datagram> {
        let mut queues = Queues::new(readiness);
        // Bounded: a flood of errors cannot hold a read forever.
        for _ in 0..64 {
            let datagram = queues.read(|error_queue| {
                if error_queue {
                    sys::recv_error_queue(socket, buf)
                } else {
                    sys::recv(socket, buf)
                }
            })?;
            if !(self.privileged && datagram.queued_error.is_some()) {
                return Ok(datagram);
            }
        }
        Err(io::ErrorKind::WouldBlock.into())
    }
}

/// True when a read error only reports an ICMP error waiting on the socket's error queue.
pub(crate) fn is_pending_icmp_error(error: &io::Error) -> bool {
    !matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    ) && !sys::is_socket_failure(error)
}

/// Which queue of a socket to read next. With `IP_RECVERR` / `IPV6_RECVERR` (every socket
/// on Linux) a socket has an error queue (`MSG_ERRQUEUE`) beside its normal queue, holding
/// the ICMP errors about its requests; Linux signals one with `EPOLLERR` and reports it
/// once as the error of the next normal read. The error queue is read while it has
/// something (it signalled, or a normal read said so), then the normal queue.
///
/// The one reading discipline of both queues, for single reads and for batches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Queues {
    error_queue: bool,
}

impl Queues {
    /// Starts with the error queue when the socket signalled an error.
    pub(crate) fn new(readiness: Readiness) -> Queues {
        Queues {
            error_queue: readiness.error,
        }
    }

    /// Reads once with `recv` (given `true` for the error queue), following the queues:
    /// an empty error queue moves on to the normal queue; a normal read that reports an
    /// ICMP error moves to the error queue. `WouldBlock` when both are empty.
    pub(crate) fn read<T>(&mut self, mut recv: impl FnMut(bool) -> io::Result<T>) -> io::Result<T> {
        // A pending error is reported once by a normal read and then cleared: three
        // rounds see both queues after it.
        for _ in 0..3 {
            if self.error_queue {
                match recv(true) {
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        self.error_queue = false;
                    }
                    other => return other,
                }
            }
            match recv(false) {
                Err(error) if is_pending_icmp_error(&error) => {
                    self.error_queue = true;
                }
                other => return other,
            }
        }
        Err(io::ErrorKind::WouldBlock.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_and_targets_that_name_no_single_host_are_refused() {
        let ok = |address: &str| address.parse::<IpAddr>().unwrap();
        for target in ["192.0.2.1", "2001:db8::1", "127.0.0.1", "::1"] {
            assert!(check_target(ok(target)).is_ok(), "{target}");
            let family = Family::of(&ok(target));
            assert!(check_source(family, ok(target)).is_ok(), "{target}");
        }
        for target in ["0.0.0.0", "::", "224.0.0.1", "ff02::1", "255.255.255.255"] {
            assert!(
                matches!(check_target(ok(target)), Err(Error::InvalidOption { .. })),
                "{target}"
            );
        }
        assert!(check_source(Family::V4, ok("0.0.0.0")).is_ok());
        for source in ["239.1.2.3", "ff05::2", "255.255.255.255"] {
            let family = Family::of(&ok(source));
            assert!(
                matches!(
                    check_source(family, ok(source)),
                    Err(Error::InvalidOption { .. })
                ),
                "{source}"
            );
        }
        assert!(check_source(Family::V6, ok("192.0.2.1")).is_err());
    }

    fn would_block<T>() -> io::Result<T> {
        Err(io::ErrorKind::WouldBlock.into())
    }

    #[test]
    fn the_error_queue_is_read_first_when_signalled_then_the_normal_queue() {
        let signalled = Readiness {
            readable: true,
            error: true,
        };
        let mut queues = Queues::new(signalled);
        let mut errors = vec![Ok("error 2"), Ok("error 1")];
        let mut read = |error_queue: bool| {
            if error_queue {
                errors.pop().unwrap_or_else(would_block)
            } else {
                Ok("reply")
            }
        };
        assert_eq!(queues.read(&mut read).unwrap(), "error 1");
        assert_eq!(queues.read(&mut read).unwrap(), "error 2");
        assert_eq!(queues.read(&mut read).unwrap(), "reply");
    }

    #[test]
    fn a_normal_read_that_reports_an_icmp_error_moves_to_the_error_queue() {
        let mut queues = Queues::new(Readiness::default());
        let mut reported = false;
        let mut read = |error_queue: bool| {
            if error_queue {
                return Ok("the error");
            }
            if !reported {
                reported = true;
                return Err(io::ErrorKind::HostUnreachable.into());
            }
            would_block()
        };
        assert_eq!(queues.read(&mut read).unwrap(), "the error");
    }

    #[test]
    fn both_queues_empty_is_would_block() {
        let signalled = Readiness {
            readable: false,
            error: true,
        };
        let mut queues = Queues::new(signalled);
        let mut asked = Vec::new();
        let result: io::Result<()> = queues.read(|error_queue| {
            asked.push(error_queue);
            would_block()
        });
        assert_eq!(result.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert_eq!(asked, [true, false]);
    }
}
