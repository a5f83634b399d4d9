//! What each test binary calls `support`: the crate `icmplib-testnet` (this folder's
//! `Cargo.toml` and `lib.rs`), compiled once for all the binaries.
#![allow(unused_imports)]

pub use icmplib_testnet::*;
