//! The test network itself (`tests/support`), checked with the system's tools: the
//! namespaces, chains and unprivileged children (`network_support`) and the simulated hosts
//! behind a TUN device (`tun_support`).

#[path = "../support/mod.rs"]
mod support;

mod network_support;
mod tun_support;

fn main() -> std::process::ExitCode {
    support::harness::run([network_support::tests(), tun_support::tests()].concat())
}
