//! [`Netns`]: a network namespace made by a test, deleted on drop.

use std::fs::{self, File};
use std::future::Future;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use std::{panic, thread};

/// Per-process counter making namespace and temp dir names unique.
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// uid and gid of "nobody" / "nogroup", used for unprivileged children.
const NOBODY: u32 = 65534;

/// How long [`Netns::spawn_unprivileged`] waits for its child.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// Runs `program args...` with `stdin` fed in; panics only if it cannot start.
fn command_output(program: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program} {args:?}: {e}"));
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("cannot feed {program} {args:?}: {e}"));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("cannot wait for {program} {args:?}: {e}"))
}

/// Panics with the command line, status and stderr unless `output` succeeded; returns stdout.
fn check(what: &str, output: Output) -> String {
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\nstdout: {}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A network namespace made by the test, deleted (`ip netns del`) on drop,
/// also when the test panics.
///
/// Named `icmplib-<tag>-<pid>-<counter>`; on creation only `lo` exists and is
/// up, so there is no route out.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace and brings `lo` up; panics with the command's
    /// stderr on failure. `tag` is cut to 6 characters to keep names short.
    pub fn new(tag: &str) -> Netns {
        let tag: String = tag
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(6)
            .collect();
        let name = unique(&format!("icmplib-{tag}"));
        check(
            &format!("ip netns add {name}"),
            command_output("ip", &["netns", "add", &name], None),
        );
        // From here on, a panic deletes the namespace through Drop.
        let netns = Netns { name };
        netns.ip(&["link", "set", "dev", "lo", "up"]);
        netns
    }

    /// The namespace's name, as `ip netns list` shows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bind mount that pins the namespace: `/var/run/netns/NAME`.
    pub fn path(&self) -> PathBuf {
        Path::new("/var/run/netns").join(&self.name)
    }

    /// Runs `ip netns exec NAME args...` and returns its output, whatever the exit status.
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut full = vec!["netns", "exec", &self.name];
        full.extend_from_slice(args);
        command_output("ip", &full, None)
    }

    /// Like [`Netns::exec`] but panics (showing stderr) on failure; returns stdout.
    pub fn exec_ok(&self, args: &[&str]) -> String {
        check(&format!("[{}] {args:?}", self.name), self.exec(args))
    }

    /// Runs `ip -n NAME args...`, panicking on failure; returns stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        check(&format!("ip {full:?}"), command_output("ip", &full, None))
    }

    /// Runs the `ip` commands in `batch` (one per line, without the leading
    /// `ip`) inside the namespace with `ip -n NAME -batch -`; panics on failure.
    pub fn ip_batch(&self, batch: &str) {
        let output = command_output("ip", &["-n", &self.name, "-batch", "-"], Some(batch));
        check(&format!("[{}] ip -batch:\n{batch}", self.name), output);
    }

    /// Sets the sysctl `key` (dotted, e.g. `net.ipv4.ip_forward`) to `value`
    /// in this namespace; panics on failure.
    pub fn sysctl(&self, key: &str, value: &str) {
        if let Err(e) = self.try_sysctl(key, value) {
            panic!("[{}] sysctl {key}={value}: {e}", self.name);
        }
    }

    /// Like [`Netns::sysctl`] but returns the error (e.g. `NotFound` when the
    /// key is not per-namespace on this kernel).
    pub fn try_sysctl(&self, key: &str, value: &str) -> io::Result<()> {
        // /proc/sys/net resolves against the netns of the thread that opens it.
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        let value = value.to_string();
        self.run(move || fs::write(path, value))
    }

    /// Reads the sysctl `key` in this namespace (trimmed).
    pub fn read_sysctl(&self, key: &str) -> String {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        let name = self.name.clone();
        self.run(move || match fs::read_to_string(&path) {
            Ok(text) => text.trim().to_string(),
            Err(e) => panic!("[{name}] read {}: {e}", path.display()),
        })
    }

    /// Loads `ruleset` with `nft -f -` inside the namespace; panics on error.
    pub fn nft(&self, ruleset: &str) {
        let args = ["netns", "exec", &self.name, "nft", "-f", "-"];
        let output = command_output("ip", &args, Some(ruleset));
        check(&format!("[{}] nft -f - <<\n{ruleset}", self.name), output);
    }

    /// Lets every group open ICMP datagram ("ping") sockets here:
    /// `net.ipv4.ping_group_range = 0 2147483647` (it covers IPv6 too).
    pub fn allow_unprivileged_ping(&self) {
        self.sysctl("net.ipv4.ping_group_range", "0 2147483647");
    }

    /// Drops `percent` % of incoming ICMP and ICMPv6 echo requests in this
    /// namespace (nftables table `inet icmplib_loss`, input chain). Calling it
    /// again replaces the previous rate.
    pub fn add_loss(&self, percent: u8) {
        assert!(percent <= 100, "loss is a percentage, got {percent}");
        // nft only takes 0..=99 on the right of `numgen random mod 100 <`.
        let rule = match percent {
            100 => "drop".to_string(),
            n => format!("numgen random mod 100 < {n} drop"),
        };
        self.nft(&format!(
            "table inet icmplib_loss\n\
             delete table inet icmplib_loss\n\
             table inet icmplib_loss {{\n\
             \tchain input {{\n\
             \t\ttype filter hook input priority -10; policy accept;\n\
             \t\ticmp type echo-request {rule}\n\
             \t\ticmpv6 type echo-request {rule}\n\
             \t}}\n\
             }}\n"
        ));
    }

    /// Runs `f` on a new thread that first enters this namespace
    /// (setns(CLONE_NEWNET) on `/var/run/netns/NAME`), joins it and returns
    /// its result; a panic in `f` is propagated.
    pub fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let path = self.path();
        let thread = thread::Builder::new()
            .name(format!("in-{}", self.name))
            .spawn(move || {
                enter(&path);
                f()
            })
            .expect("cannot spawn a thread");
        match thread.join() {
            Ok(result) => result,
            Err(payload) => panic::resume_unwind(payload),
        }
    }

    /// Like [`Netns::run`], building a current-thread tokio runtime
    /// (`enable_all`) on that thread and blocking on the future `make` returns.
    pub fn block_on<Fut>(&self, make: impl FnOnce() -> Fut + Send + 'static) -> Fut::Output
    where
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        self.run(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cannot build a tokio runtime");
            runtime.block_on(make())
        })
    }

    /// Like [`Netns::block_on`] with a multi-thread runtime (2 workers,
    /// `enable_all`). Its worker threads are spawned from the thread that
    /// entered the namespace, so they are inside it too.
    pub fn block_on_multi<Fut>(&self, make: impl FnOnce() -> Fut + Send + 'static) -> Fut::Output
    where
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        self.run(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("cannot build a tokio runtime");
            runtime.block_on(make())
        })
    }

    /// Re-runs the current test binary as uid/gid 65534 inside this
    /// namespace with args `[test_name, --exact, --nocapture,
    /// --test-threads=1]`, env `ICMPLIB_TEST_ROLE=role` and without
    /// `ICMPLIB_REQUIRE_ROOT`. Waits at most [`CHILD_TIMEOUT`] (then kills it).
    /// `test_name` is the test function's name; its module, in a binary of several,
    /// is found by [`full_test_name`](super::full_test_name).
    pub fn spawn_unprivileged(&self, test_name: &str, role: &str) -> Output {
        self.spawn_unprivileged_timeout(test_name, role, CHILD_TIMEOUT)
    }

    /// [`Netns::spawn_unprivileged`] with an explicit timeout.
    pub fn spawn_unprivileged_timeout(
        &self,
        test_name: &str,
        role: &str,
        timeout: Duration,
    ) -> Output {
        let exe = std::env::current_exe().expect("current_exe");
        let test_name = super::full_test_name(test_name);
        self.run_unprivileged(
            &exe,
            &[&test_name, "--exact", "--nocapture", "--test-threads=1"],
            &[(super::ROLE_ENV, role)],
            timeout,
        )
    }

    /// Runs `program` with `args` and `envs` as uid/gid 65534 inside this namespace,
    /// without `ICMPLIB_REQUIRE_ROOT`, from a copy in a world-readable temporary
    /// directory (so "nobody" can execute it whatever the checkout's permissions). Waits
    /// at most `timeout`, then kills it.
    pub fn run_unprivileged(
        &self,
        program: &Path,
        args: &[&str],
        envs: &[(&str, &str)],
        timeout: Duration,
    ) -> Output {
        let dir = TempDir::new();
        let copy = dir
            .path
            .join(program.file_name().expect("program has a file name"));
        fs::copy(program, &copy)
            .unwrap_or_else(|e| panic!("copy {} to {}: {e}", program.display(), copy.display()));
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o755))
            .expect("chmod 0755 the program");

        let mut command = Command::new(&copy);
        command
            .args(args)
            .envs(envs.iter().copied())
            .env_remove(super::REQUIRE_ROOT_ENV)
            .current_dir(&dir.path)
            .uid(NOBODY)
            .gid(NOBODY) // std also drops supplementary groups (setgroups(0)) when uid is set as root
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The forked child inherits the namespace of the thread that forks it.
        let child = self.run(move || spawn_retrying(&mut command));
        wait_timeout(child, timeout)
    }

    /// Runs `command` inside this namespace (from a thread that entered it), its output
    /// captured, waiting at most `timeout` (then kills it).
    pub fn run_command(&self, mut command: Command, timeout: Duration) -> Output {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = self.run(move || spawn_retrying(&mut command));
        wait_timeout(child, timeout)
    }

    /// Runs `program` with `args` as root inside this namespace (from a thread that
    /// entered it), waiting at most `timeout`.
    pub fn run_program(&self, program: &Path, args: &[&str], timeout: Duration) -> Output {
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = self.run(move || spawn_retrying(&mut command));
        wait_timeout(child, timeout)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let output = command_output("ip", &["netns", "del", &self.name], None);
        if !output.status.success() {
            eprintln!(
                "warning: ip netns del {} failed: {}",
                self.name,
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// Moves the calling thread into the namespace pinned at `path`.
fn enter(path: &Path) {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    // SAFETY: `file` is an open namespace file descriptor for the duration of
    // the call; setns only changes the calling thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        panic!("setns({}): {}", path.display(), io::Error::last_os_error());
    }
}

/// Spawns `command`, retrying on ETXTBSY: another test thread's fork may
/// briefly hold the copy's write descriptor open.
fn spawn_retrying(command: &mut Command) -> std::process::Child {
    for _ in 0..20 {
        match command.spawn() {
            Ok(child) => return child,
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("cannot spawn {command:?}: {e}"),
        }
    }
    panic!("cannot spawn {command:?}: text file stayed busy");
}

/// Collects the child's output, killing it if it outlives `timeout`.
fn wait_timeout(mut child: std::process::Child, timeout: Duration) -> Output {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
        thread::spawn(move || {
            let mut buffer = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buffer);
            }
            buffer
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status: ExitStatus = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap_or_else(|_| ExitStatus::from_raw(9));
        }
        thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = stderr.join().unwrap_or_default();
    if timed_out {
        stderr.extend_from_slice(format!("\n[killed after {timeout:?}]\n").as_bytes());
    }
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr,
    }
}

/// A world-readable (0755) temporary directory, removed on drop.
/// A world-readable temporary directory, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Makes one (mode 0755) under the system's temporary directory.
    pub fn new() -> TempDir {
        let path = std::env::temp_dir().join(unique("icmplib-child"));
        fs::DirBuilder::new()
            .mode(0o755)
            .create(&path)
            .unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        let dir = TempDir { path };
        // The umask may have narrowed the mode given to mkdir.
        fs::set_permissions(&dir.path, fs::Permissions::from_mode(0o755))
            .expect("chmod 0755 the temp dir");
        dir
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
