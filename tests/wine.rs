//! The Windows build under Wine, inside a router chain of namespaces: the crate's unit
//! tests, then `tests/windows.rs` as root (raw sockets and the ICMP helper API) and as
//! `nobody` (the ICMP helper API, which Wine runs on Linux ping sockets).
//!
//! `.ci/wine-tests` cross-builds the tests for `x86_64-pc-windows-gnu` into a directory
//! and points `ICMPLIB_WINE_DIR` at it: `unit.exe`, `windows.exe` and the
//! `bcryptprimitives.dll` shim Wine 8 lacks. Without it this test says it skips, or fails
//! when `ICMPLIB_REQUIRE_WINE=1` (CI).

mod support;

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use icmplib::Family;
use support::{Chain, Netns, Reject, TempDir};

support::harness::tests![
    Wine the_windows_build_passes_its_tests_under_wine,
];

fn main() -> std::process::ExitCode {
    support::harness::run(tests())
}

/// Debian's 64-bit Wine loader (not on PATH) and its server.
const WINE: &str = "/usr/lib/wine/wine64";
const WINESERVER: &str = "/usr/lib/wine/wineserver";

/// Each Wine run ends within this (a prefix is made on first use, ~10 s).
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

const NOBODY: u32 = 65534;

fn wine_dir() -> Option<PathBuf> {
    match std::env::var_os("ICMPLIB_WINE_DIR") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            assert!(
                std::env::var("ICMPLIB_REQUIRE_WINE").as_deref() != Ok("1"),
                "ICMPLIB_REQUIRE_WINE=1 but ICMPLIB_WINE_DIR is not set (run .ci/wine-tests)"
            );
            eprintln!("skipping the Windows tests under Wine: ICMPLIB_WINE_DIR is not set");
            None
        }
    }
}

/// Runs `exe` (with `args`) under Wine in `netns` as `uid`, with a prefix of its own
/// in `home`; stops the prefix's wineserver afterwards.
fn run_wine(
    netns: &Netns,
    home: &Path,
    uid: u32,
    exe: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Output {
    let prefix = home.join("prefix");
    let wine = |program: &str| {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", home)
            .env("WINEPREFIX", &prefix)
            .env("WINEDEBUG", "-all")
            .current_dir(home)
            .uid(uid)
            .gid(uid);
        command
    };
    let mut command = wine(WINE);
    command.arg(exe).args(args).envs(envs.iter().copied());
    let output = netns.run_command(command, RUN_TIMEOUT);
    let mut stop = wine(WINESERVER);
    stop.arg("-k");
    let _ = netns.run_command(stop, Duration::from_secs(30));
    output
}

/// A home for a Wine run as `uid`: a prefix must belong to its user.
fn home_for(dir: &TempDir, name: &str, uid: u32) -> PathBuf {
    let home = dir.path().join(name);
    fs::create_dir(&home).unwrap();
    chown(&home, Some(uid), Some(uid)).unwrap();
    home
}

fn assert_passed(output: &Output, what: &str) {
    let text = support::output_text(output);
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{text}",
        output.status
    );
    assert!(
        text.contains("test result: ok."),
        "{what} ran no test:\n{text}"
    );
    assert!(!text.contains("skipping"), "{what} skipped a test:\n{text}");
    println!(
        "{what}: {}",
        text.lines()
            .filter(|line| line.starts_with("test result"))
            .collect::<Vec<_>>()
            .join("; ")
    );
}

fn the_windows_build_passes_its_tests_under_wine() {
    if !support::require_root() {
        return;
    }
    let Some(built) = wine_dir() else { return };
    // Copies that `nobody` can read and run, the shim DLL beside them.
    let dir = TempDir::new();
    for file in ["unit.exe", "windows.exe", "bcryptprimitives.dll"] {
        let copy = dir.path().join(file);
        fs::copy(built.join(file), &copy)
            .unwrap_or_else(|error| panic!("{}: {error}", built.join(file).display()));
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let chain = Chain::new(3);
    chain.client().allow_unprivileged_ping();
    let family = Family::V4;
    let routers: Vec<String> = (1..=chain.routers())
        .map(|distance| chain.hop_address(distance, family).to_string())
        .collect();
    let lab = format!(
        "routers={};target={};rejected={};silent={}",
        routers.join(","),
        chain.target(family),
        chain.rejected(Reject::HostUnreachable, family),
        chain.silent(family),
    );
    let client = chain.client();

    let root = home_for(&dir, "root", 0);
    let output = run_wine(client, &root, 0, &dir.path().join("unit.exe"), &[], &[]);
    assert_passed(&output, "unit tests under Wine");

    let windows = dir.path().join("windows.exe");
    let lab_root = format!("{lab};privileged=1");
    let envs = [
        ("ICMPLIB_WINE_LAB", lab_root.as_str()),
        ("ICMPLIB_REQUIRE_LAB", "1"),
    ];
    let output = run_wine(client, &root, 0, &windows, &["--test-threads=1"], &envs);
    assert_passed(&output, "Windows tests under Wine as root");

    let nobody = home_for(&dir, "nobody", NOBODY);
    let lab_nobody = format!("{lab};privileged=0");
    let envs = [
        ("ICMPLIB_WINE_LAB", lab_nobody.as_str()),
        ("ICMPLIB_REQUIRE_LAB", "1"),
    ];
    let output = run_wine(
        client,
        &nobody,
        NOBODY,
        &windows,
        &["--test-threads=1"],
        &envs,
    );
    assert_passed(&output, "Windows tests under Wine as nobody");
}
