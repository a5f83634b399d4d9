//! The public calls on real packets, a module per call: `ping`, `Pinger`, `multiping`,
//! `traceroute`, path MTU, `watch`, name resolution and the low-level sockets. One binary
//! (tests/README.md says why and what goes where); `cargo test --test calls -- watch::`
//! runs one module.

#[path = "../support/mod.rs"]
mod support;

mod flows;
mod mtu;
mod multiping;
mod next_address;
mod ping;
mod pinger;
mod resolve;
mod route;
mod sockets;
mod traceroute;
mod watch;

fn main() -> std::process::ExitCode {
    support::harness::run(
        [
            next_address::tests(),
            flows::tests(),
            mtu::tests(),
            multiping::tests(),
            ping::tests(),
            pinger::tests(),
            resolve::tests(),
            route::tests(),
            sockets::tests(),
            traceroute::tests(),
            watch::tests(),
        ]
        .concat(),
    )
}
