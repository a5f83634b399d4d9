//! Tokio-native ICMP for Rust.
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod family;

pub use family::Family;
