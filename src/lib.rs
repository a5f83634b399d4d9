//! Tokio-native ICMP for Rust.
#![deny(missing_docs)]
#![deny(unsafe_code)]

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
