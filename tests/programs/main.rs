//! The example programs run as programs: the command-line tools (`examples`) and the
//! health-check daemon (`healthd`). One binary (tests/README.md says why and what goes
//! where).

#[path = "../support/mod.rs"]
mod support;

mod examples;
mod formats;
mod healthd;
mod trace_modes;

fn main() -> std::process::ExitCode {
    support::harness::run(
        [
            examples::tests(),
            formats::tests(),
            healthd::tests(),
            trace_modes::tests(),
        ]
        .concat(),
    )
}
