//! Tokio-native ICMP: ping, multiping and traceroute, IPv4 and IPv6, with root (raw
//! sockets) or without (datagram "ping" sockets), and the low-level sockets to build your
//! own. A Rust re-creation of the Python library icmplib.
//!
//! # Quick start
//!
//! ```no_run
//! use std::time::Duration;
//! use icmplib::{PingOptions, async_ping};
//!
//! # async fn run() -> icmplib::Result<()> {
//! let options = PingOptions::default().count(4).interval(Duration::from_millis(200));
//! let host = async_ping("127.0.0.1", &options).await?;
//! println!("{host}");
//! if host.is_alive() {
//!     println!("{} ms on average, {} ms of jitter", host.avg_rtt(), host.jitter());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! [`ping`] is the blocking form. All async pings of a runtime share one socket per family
//! with one reader task routing replies; [`Pinger`] is an explicit handle on such sockets
//! with its own configuration. [`async_multiping`] and [`multiping_stream`] ping many hosts
//! at once with a bound on the hosts in flight; [`async_traceroute`] finds the routers on
//! the way, with or without root; [`async_path_mtu`] finds the largest packet that reaches
//! a host unfragmented ([`DontFragment`] sets Don't Fragment on any call's requests);
//! [`Pinger::watch`] probes targets without end, for health-check daemons, as a stream of
//! [`WatchEvent`]s with live [`Stats`] per target.
//!
//! The low-level sockets send an [`IcmpRequest`] and receive the matching [`IcmpReply`]:
//!
//! ```no_run
//! use std::time::Duration;
//! use icmplib::{IcmpRequest, IcmpV4Socket};
//!
//! # fn main() -> icmplib::Result<()> {
//! let socket = IcmpV4Socket::new(None, false)?; // unprivileged datagram socket
//! let request = IcmpRequest::new("127.0.0.1".parse().unwrap(), 42, 1);
//! let sent = socket.send(&request)?;
//! let reply = socket.receive(Some(&request), Duration::from_secs(2))?;
//! reply.raise_for_status()?;
//! println!("{reply} in {:?}", reply.time() - sent);
//! # Ok(())
//! # }
//! ```
//!
//! The async functions need a tokio runtime with its I/O and time drivers enabled
//! (`enable_all()`, as `#[tokio::main]` and `#[tokio::test]` do). The blocking functions
//! make their own and refuse to run within one: from `spawn_blocking`, call
//! `Handle::current().block_on(async_ping(..))` instead.
//!
//! # Layers
//!
//! From the bottom; each layer uses only those below it.
//!
//! - [`packet`]: the sans-IO codec (checksums, IP headers, echo messages, ICMP errors with
//!   the datagram they quote). Knows nothing of sockets.
//! - Sockets: [`IcmpV4Socket`], [`IcmpV6Socket`] (blocking) and [`AsyncIcmpSocket`]
//!   (tokio). OS specifics live in one private module, a backend per system (Unix,
//!   Windows, others); it holds the only `unsafe` code.
//! - The engine (private): one transport (a shared socket), its one reader task and the
//!   table of requests in flight. It knows nothing of statistics.
//! - The scheduler (private): the one way a target is probed, whatever the kind of probe:
//!   deadlines, late answers, cancellation and turns, in one place. A job per target says
//!   what to send next and what the outcomes come to, told the time by the scheduler; a
//!   watch's jobs also tell events, which the scheduler hands out.
//! - [`Pinger`], the owner of the sockets, and the one set-up of every call: options in,
//!   checks (including what this system cannot do), engines and settings out.
//! - A room per kind of probe, each with its options, its job and its calls (methods of
//!   [`Pinger`], and free functions that are shorthands for the process's default pinger):
//!   echo requests ([`ping`], [`multiping`], [`multiping_stream`]; [`PingOptions`],
//!   [`MultipingOptions`]; [`Host`]), traceroute ([`traceroute`]; [`TracerouteOptions`];
//!   [`Hop`]), path MTU ([`path_mtu`]; [`PathMtuOptions`]; [`PathMtu`]) and watch
//!   ([`Pinger::watch`]; [`WatchOptions`]; [`WatchEvent`], [`WatchHandle`]). What every
//!   kind shares is [`ProbeOptions`]; each offers the setters of the fields that apply to
//!   it.
//!
//! Times are milliseconds as `f64` wherever a result reports them ([`Host`], [`Stats`],
//! [`WatchEvent`]), and `Duration` wherever an option takes one.
//!
//! # Privileges
//!
//! By default ([`SocketKind::Auto`]) a pinger opens raw sockets where the process may
//! (root or `CAP_NET_RAW`; Administrator on Windows), else datagram ICMP sockets, which
//! Linux allows to the groups in `net.ipv4.ping_group_range` (on Windows, the ICMP helper
//! API, which needs no privileges); [`Pinger::socket_kind`] tells which. Either kind can be
//! forced ([`SocketKind::Raw`], [`SocketKind::Datagram`], or `privileged(true / false)` as
//! in Python's icmplib). A refusal is [`Error::SocketPermission`], whose message says what
//! to change.
//!
//! # Platforms
//!
//! Linux is the tested platform. Windows works, tested under Wine (IPv4): without
//! privileges through `IcmpSendEcho2Ex` / `Icmp6SendEcho2`, with them through raw winsock
//! sockets; it cannot set a TOS / traffic class, nor a chosen identifier without
//! privileges ([`Error::InvalidOption`] says so), and its low-level sockets are raw only.
//! macOS and FreeBSD compile.
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![warn(rust_2018_idioms)]

mod clock;
mod echo;
mod engine;
mod error;
mod family;
mod hop;
mod host;
mod names;
mod options;
pub mod packet;
mod path_mtu;
mod pinger;
mod resolve;
mod route;
mod runtime;
mod scheduler;
mod socket;
mod stats;
mod target;
mod trace;
mod watch;

pub use echo::{
    MultipingOptions, PingOptions, async_multiping, async_ping, multiping, multiping_stream, ping,
};
pub use error::{Error, LookupFailure, Result};
pub use family::Family;
pub use hop::Hop;
pub use host::Host;
pub use options::ProbeOptions;
pub use path_mtu::{PathMtu, PathMtuOptions, async_path_mtu, path_mtu};
pub use pinger::{Pinger, PingerBuilder};
pub use resolve::{Resolver, ResolverBuilder, async_resolve, resolve};
pub use route::{HopStats, Responder, RouteEvent, RouteRound, RouteWatch, RouteWatchOptions};
pub use socket::async_socket::AsyncIcmpSocket;
pub use socket::blocking::{IcmpV4Socket, IcmpV6Socket};
pub use socket::dont_fragment::DontFragment;
pub use socket::kind::SocketKind;
pub use socket::reply::IcmpReply;
pub use socket::request::{DEFAULT_PAYLOAD_SIZE, DEFAULT_TTL, IcmpRequest};
pub use stats::{Stats, Window};
pub use target::Target;
pub use trace::{TracerouteOptions, async_traceroute, traceroute};
pub use watch::{Watch, WatchEvent, WatchHandle, WatchOptions};

/// The README's examples, compiled as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

/// The guide's examples (docs/guide.md), likewise.
#[cfg(doctest)]
#[doc = include_str!("../docs/guide.md")]
struct GuideExamples;
