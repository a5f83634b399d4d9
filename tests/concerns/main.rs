//! Concerns that cut across the calls, a module each: addresses as people write them,
//! which answer counts, binding to an interface or mark, what a reply carries, resources
//! running out. One binary (tests/README.md says why and what goes where).

#[path = "../support/mod.rs"]
mod support;

mod addresses;
mod answers;
mod binding;
mod exhaustion;
mod extended_errors;
mod reply_metadata;

fn main() -> std::process::ExitCode {
    support::harness::run(
        [
            addresses::tests(),
            answers::tests(),
            binding::tests(),
            exhaustion::tests(),
            extended_errors::tests(),
            reply_metadata::tests(),
        ]
        .concat(),
    )
}
