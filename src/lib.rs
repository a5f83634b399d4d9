//! Tokio-native ICMP: ping, multiping and traceroute, IPv4 and IPv6, with root (raw
//! sockets) or without (datagram "ping" sockets), and the low-level sockets to build your
//! own. A Rust re-creation of the Python library icmplib.
//!
//! # Quick start
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
//! # Layers
//!
//! - [`packet`]: the sans-IO codec (checksums, echo messages, ICMP errors with the request
//!   they quote). Knows nothing of sockets.
//! - Sockets: [`IcmpV4Socket`], [`IcmpV6Socket`] (blocking) and [`AsyncIcmpSocket`]
//!   (tokio). OS specifics live in one private module; it holds the only `unsafe` code.
//!
//! # Privileges
//!
//! `privileged = true` opens raw sockets (root or `CAP_NET_RAW`); `false` opens datagram
//! ICMP sockets, which Linux allows to the groups in `net.ipv4.ping_group_range`. Either
//! way a refusal is [`Error::SocketPermission`], whose message says what to change.
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![warn(rust_2018_idioms)]

mod error;
mod family;
pub mod packet;
mod socket;

pub use error::{Error, Result};
pub use family::Family;
pub use socket::{
    AsyncIcmpSocket, DEFAULT_PAYLOAD_SIZE, DEFAULT_TTL, IcmpReply, IcmpRequest, IcmpV4Socket,
    IcmpV6Socket,
};
