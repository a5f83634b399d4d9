//! Shared helpers for the integration tests, compiled into each test binary as its
//! module `support`: network namespaces made by the test itself ([`Netns`]), two joined by
//! a link ([`Lab`]), a routed chain of them ([`Chain`]), a simulated host behind a TUN
//! device ([`SimulatedNet`]), a DNS responder ([`DnsResponder`]) and the root /
//! unprivileged-child plumbing. tests/README.md tells what is where.
//!
//! Real packets only ever go to loopback or to namespaces created here, and
//! only documentation prefixes are used inside them.
#![allow(dead_code)]

mod balancer;
mod chain;
mod dns;
pub mod forger;
pub mod harness;
mod lab;
mod netns;
pub mod process;
mod tun;

// Not every test binary uses every item.
#[allow(unused_imports)]
pub use balancer::Balancer;
#[allow(unused_imports)]
pub use chain::{Chain, Reject};
#[allow(unused_imports)]
pub use dns::{DnsResponder, arpa_name};
#[allow(unused_imports)]
pub use lab::{Lab, veth_pair};
#[allow(unused_imports)]
pub use netns::{Netns, TempDir};
#[allow(unused_imports)]
pub use tun::{Craft, Reply, Script, SimulatedNet, craft_replies};

/// Environment variable naming the role of a child started by
/// [`Netns::spawn_unprivileged`].
pub const ROLE_ENV: &str = "ICMPLIB_TEST_ROLE";

/// Environment variable that turns "ignored when not root" into a failure.
pub const REQUIRE_ROOT_ENV: &str = "ICMPLIB_REQUIRE_ROOT";

/// Environment variable that turns "ignored without `ICMPLIB_WINE_DIR`" into a failure.
pub const REQUIRE_WINE_ENV: &str = "ICMPLIB_REQUIRE_WINE";

/// True when this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// True when the process is root.
///
/// A test listed as needing root ([`harness::Needs::Root`]) is not run without root, so
/// this is a second guard: when not root, panics if `ICMPLIB_REQUIRE_ROOT=1`, else prints
/// "skipping <test>: needs root" to stderr and returns false, so callers write
/// `if !support::require_root() { return; }`.
pub fn require_root() -> bool {
    if is_root() {
        return true;
    }
    let test = harness::current_test()
        .or_else(|| std::thread::current().name().map(str::to_string))
        .unwrap_or_else(|| "test".to_string());
    if std::env::var(REQUIRE_ROOT_ENV).as_deref() == Ok("1") {
        panic!("{test} needs root (network namespaces) and {REQUIRE_ROOT_ENV}=1 is set");
    }
    eprintln!("skipping {test}: needs root");
    false
}

/// The role this process plays: `Some(role)` when it was started by
/// [`Netns::spawn_unprivileged`] (env `ICMPLIB_TEST_ROLE`).
pub fn child_role() -> Option<String> {
    std::env::var(ROLE_ENV).ok().filter(|role| !role.is_empty())
}

/// What a process wrote, standard output then standard error.
pub fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The example binary `name`. `cargo test` compiles the examples but keeps no binary
/// under a stable name, so they are built once per test binary here, into the same
/// target directory.
pub fn example(name: &str) -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        // target/debug/deps/TEST-HASH -> target/debug
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--quiet", "--examples", "--target-dir"])
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build --examples");
        assert!(status.success(), "cargo build --examples failed");
        profile_dir.join("examples")
    });
    let path = dir.join(name);
    assert!(path.exists(), "{} is not built", path.display());
    path
}

/// The full name of the test function `name` in this test binary, as `--exact` wants it:
/// `module::name` in a binary made of modules (tests/calls, ...), `name` in one of a single
/// file. Found in the binary's own `--list` (lines `name: test`, or `[needs root] name: test`
/// for a test that is ignored there); panics unless exactly one test has that name.
pub fn full_test_name(name: &str) -> String {
    let exe = std::env::current_exe().expect("current_exe");
    let output = std::process::Command::new(&exe)
        .arg("--list")
        .env_remove(ROLE_ENV)
        .output()
        .unwrap_or_else(|e| panic!("{} --list: {e}", exe.display()));
    let list = String::from_utf8_lossy(&output.stdout);
    let found: Vec<&str> = list
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(|test| match test.strip_prefix('[') {
            Some(kind_and_test) => kind_and_test
                .split_once("] ")
                .map_or(test, |(_, test)| test),
            None => test,
        })
        .filter(|test| *test == name || test.ends_with(&format!("::{name}")))
        .collect();
    match found.as_slice() {
        [test] => (*test).to_string(),
        _ => panic!("tests named {name} in {}: {found:?}", exe.display()),
    }
}

/// Panics unless the child started by [`Netns::spawn_unprivileged`] exited with success
/// after running exactly one test (so a mistyped test name cannot pass by running none).
pub fn assert_child_passed(output: &std::process::Output) {
    let text = output_text(output);
    assert!(
        output.status.success(),
        "child failed ({}):\n{text}",
        output.status
    );
    assert!(
        ran_one_test(&text),
        "child did not run exactly one test:\n{text}"
    );
}

/// True when `output` (a test binary's) ends in a summary of exactly one test run and
/// passed: none failed, none ignored.
pub fn ran_one_test(output: &str) -> bool {
    output
        .lines()
        .any(|line| line.starts_with("test result: ok. 1 passed; 0 failed; 0 ignored;"))
}

/// Splits a child role of the form `name:arg1,arg2` into its name and arguments.
pub fn role_parts(role: &str) -> (&str, Vec<&str>) {
    match role.split_once(':') {
        Some((name, args)) => (name, args.split(',').filter(|a| !a.is_empty()).collect()),
        None => (role, Vec::new()),
    }
}

/// The raw ICMP and ICMPv6 sockets this process holds, counted from its descriptors and
/// the namespace's socket tables (the calling thread must be in the namespace).
pub fn icmp_sockets() -> (usize, usize) {
    let inodes = |table: &str, protocol: &str| -> std::collections::HashSet<String> {
        std::fs::read_to_string(format!("/proc/thread-self/net/{table}"))
            .unwrap()
            .lines()
            .skip(1)
            .filter(|line| {
                // local_address is "ADDR:PROTOCOL" on raw sockets.
                let local = line.split_whitespace().nth(1).unwrap_or("");
                local.rsplit(':').next() == Some(protocol)
            })
            .filter_map(|line| line.split_whitespace().nth(9).map(str::to_string))
            .collect()
    };
    let (v4, v6) = (inodes("raw", "0001"), inodes("raw6", "003A"));
    let mut counts = (0, 0);
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy();
        let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'))
        else {
            continue;
        };
        counts.0 += usize::from(v4.contains(inode));
        counts.1 += usize::from(v6.contains(inode));
    }
    counts
}
