//! The test binaries' own harness (they are `harness = false` in Cargo.toml): libtest
//! cannot decide at run time that a test is skipped, so a test that needed root and did
//! nothing said `ok`. Here each test says what it needs, and one whose need is not met is
//! listed as `ignored` with the reason, counted as ignored in the summary, never run.
//!
//! A module lists its tests with [`tests!`](crate::support::harness::tests); its binary's
//! `main` passes every module's list to [`run`]. A test function left out of its list is
//! dead code, which clippy (`-D warnings`) refuses: no test is forgotten silently.

use std::cell::RefCell;
use std::process::ExitCode;

use libtest_mimic::{Arguments, Completion, Trial};

/// What a test needs to do anything: without it, the test is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Runs anywhere (no socket, or only what any user may open).
    Nothing,
    /// Root, for network namespaces: run as root, or with `ICMPLIB_REQUIRE_ROOT=1` to fail
    /// instead; always run in a child started by the tests (`ICMPLIB_TEST_ROLE`), which
    /// plays its part as `nobody`.
    Root,
    /// ICMP sockets of either kind: root, or datagram ("ping") sockets allowed to this
    /// process's group by `net.ipv4.ping_group_range`. Forced and in children as `Root`.
    IcmpSockets,
    /// Root and the Windows build (`ICMPLIB_WINE_DIR`, or `ICMPLIB_REQUIRE_WINE=1` to fail
    /// without it).
    Wine,
}

/// One test: its full name as libtest named it (`module::name`, or `name` in a binary of a
/// single file), its function, and what it needs.
#[derive(Clone)]
pub struct Test {
    pub name: String,
    pub run: fn(),
    pub needs: Needs,
}

impl Test {
    /// The test `name` of the module `module_path` (as `module_path!()` gives it: the
    /// binary's crate first, which libtest leaves out of the name).
    pub fn new(module_path: &str, name: &str, run: fn(), needs: Needs) -> Test {
        let name = match module_path.split_once("::") {
            Some((_crate, module)) => format!("{module}::{name}"),
            None => name.to_string(),
        };
        Test { name, run, needs }
    }

    /// Why this test cannot run in this process, if it cannot.
    fn missing(&self) -> Option<&'static str> {
        let wine = std::env::var_os(WINE_DIR_ENV).is_some() || env_is_1(super::REQUIRE_WINE_ENV);
        let root =
            super::is_root() || env_is_1(super::REQUIRE_ROOT_ENV) || super::child_role().is_some();
        match self.needs {
            Needs::Nothing => None,
            Needs::IcmpSockets if !root && !ping_sockets_allowed() => Some(NEEDS_ICMP),
            Needs::IcmpSockets => None,
            Needs::Wine if !wine => Some(NEEDS_WINE),
            Needs::Root | Needs::Wine if !root => Some(NEEDS_ROOT),
            Needs::Root | Needs::Wine => None,
        }
    }
}

const NEEDS_ROOT: &str = "needs root";
const NEEDS_ICMP: &str = "needs ICMP sockets";
const NEEDS_WINE: &str = "needs ICMPLIB_WINE_DIR";
const WINE_DIR_ENV: &str = "ICMPLIB_WINE_DIR";

/// Lists the tests of a module: `tests![Root a_test, Nothing another_test];` (a
/// [`Needs`] and a function, per test) defines the module's `tests()`, for its binary's
/// `main`.
#[allow(unused_macros)] // the benches compile `support` too
macro_rules! tests {
    ($($needs:ident $name:ident),* $(,)?) => {
        /// This module's tests, for its binary's `main` (tests/support/harness.rs).
        pub(crate) fn tests() -> Vec<$crate::support::harness::Test> {
            vec![$(
                $crate::support::harness::Test::new(
                    module_path!(),
                    stringify!($name),
                    $name,
                    $crate::support::harness::Needs::$needs,
                )
            ),*]
        }
    };
}
#[allow(unused_imports)]
pub(crate) use tests;

thread_local! {
    static CURRENT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The name of the test running on this thread, if the harness started one on it.
pub fn current_test() -> Option<String> {
    CURRENT.with(|current| current.borrow().clone())
}

/// Runs `tests` as libtest would, with its command line (filters, `--exact`, `--list`,
/// `--test-threads`, `--ignored`, ...); a test whose need is not met is ignored, and a line
/// on standard error says how many and how to run them.
pub fn run(mut tests: Vec<Test>) -> ExitCode {
    let args = Arguments::from_args();
    // libtest runs and lists tests in the order of their names.
    tests.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(twice) = tests.windows(2).find(|pair| pair[0].name == pair[1].name) {
        panic!("{} is listed twice", twice[0].name);
    }
    let trials: Vec<Trial> = tests
        .into_iter()
        .map(|test| {
            let missing = test.missing();
            let (name, run) = (test.name.clone(), test.run);
            let trial = Trial::ignorable_test(test.name, move || {
                // Reached only when asked to run ignored tests (`--include-ignored`):
                // still not run, and still not `ok`.
                if let Some(reason) = missing {
                    return Ok(Completion::ignored_with(reason));
                }
                CURRENT.with(|current| *current.borrow_mut() = Some(name));
                let outcome = std::panic::catch_unwind(run);
                CURRENT.with(|current| *current.borrow_mut() = None);
                match outcome {
                    Ok(()) => Ok(Completion::Completed),
                    Err(payload) => match payload.downcast::<Skipped>() {
                        Ok(skipped) => Ok(Completion::ignored_with(skipped.0)),
                        // A panic fails the test: libtest-mimic catches it again.
                        Err(payload) => std::panic::resume_unwind(payload),
                    },
                }
            });
            match missing {
                Some(reason) => trial.with_ignored_flag(true).with_kind(reason),
                None => trial,
            }
        })
        .collect();
    if !args.list {
        let ignored = |reason: &str| {
            trials
                .iter()
                .filter(|trial| trial.kind() == reason && !args.is_filtered_out(trial))
                .count()
        };
        let (root, icmp, wine) = (
            ignored(NEEDS_ROOT),
            ignored(NEEDS_ICMP),
            ignored(NEEDS_WINE),
        );
        if root > 0 {
            eprintln!(
                "{root} test(s) ignored: they need root (network namespaces); run them as root, \
                 with {}=1 so that none is skipped (tests/README.md)",
                super::REQUIRE_ROOT_ENV
            );
        }
        if icmp > 0 {
            eprintln!(
                "{icmp} test(s) ignored: they need ICMP sockets; run them as root, or with this \
                 group in net.ipv4.ping_group_range (tests/README.md)"
            );
        }
        if wine > 0 {
            eprintln!(
                "{wine} test(s) ignored: they need the Windows build; run them as root with \
                 {WINE_DIR_ENV}=$(.ci/wine-tests) (tests/README.md)"
            );
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// What [`skip`] unwinds with.
struct Skipped(String);

/// Ends the running test as ignored, `reason` shown on its line (`... ignored (reason)`):
/// for what only the test can find out, such as a system tool that is not installed. Call
/// it from the test's own thread.
pub fn skip(reason: impl Into<String>) -> ! {
    // resume_unwind does not run the panic hook: nothing is printed as a panic.
    std::panic::resume_unwind(Box::new(Skipped(reason.into())))
}

/// True when this process may open a datagram ICMP ("ping") socket.
fn ping_sockets_allowed() -> bool {
    icmplib::IcmpV4Socket::new(None, false).is_ok()
}

fn env_is_1(name: &str) -> bool {
    std::env::var(name).as_deref() == Ok("1")
}
