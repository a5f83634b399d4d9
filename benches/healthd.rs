//! The healthd benchmark: examples/healthd, its release build, on loopback targets
//! (127.3.0.1 onwards) inside a private network namespace, each program a process of its
//! own, measured from /proc: CPU time as utime + stime of /proc/PID/stat, peak resident
//! memory as VmHWM of /proc/PID/status.
//!
//! 1. 1,000 targets, one probe each per second (timeout 0.9 s), for 30 s, three programs
//!    side by side in one run: healthd (`--period 1`, the targets in its config file),
//!    `prometheus-smokeping-prober` (`--privileged -i 1s`), and the bare icmplib watch
//!    healthd runs on (a child process of this benchmark: a multi-thread runtime, the
//!    events polled in a spawned task, counted and dropped). For each: probes settled and
//!    replies (for the two daemons the sums of their per-target request and reply counters
//!    in a scrape of /metrics at the end), loss (1 − replies / probes), CPU time per 1,000
//!    probes settled, peak resident memory, and the median time of 5 scrapes of /metrics
//!    at the end. A daemon's CPU time is read just before those scrapes (a scrape's cost
//!    is not a probe's: it is shown apart, per scrape, from a second reading just before
//!    the daemon is killed); its peak is read last, scrapes included (a daemon is
//!    scraped). Then the ratios healthd / watch (CPU per probe: the goal is at most 1.3)
//!    and healthd / smokeping_prober.
//! 2. 50,000 targets at 1 s for 20 s, healthd alone: the mean rate of probes settled
//!    (`healthd_probes_settled_total`) between a scrape at 5 s and one at 20 s, against
//!    the 50,000 a second due (the goal is at least 99 %), and healthd's CPU share (CPU
//!    seconds over wall seconds) between the two scrapes and over its whole run. The rate
//!    is over those 15 s, not per second: a scrape of 50,000 targets is ~140 MB, and
//!    scraping every second would measure the scrapes rather than the probing.
//! 3. 20,000 targets at 1 s, healthd alone: 15 s without scrapes, then 15 s with 8 threads
//!    scraping /metrics in a loop (each scrape read to its end); the rate of probes settled
//!    in each window (from `healthd_probes_settled_total` in scrapes at their start and
//!    end), their ratio (the goal is at least 0.99), healthd's CPU share in each, and the
//!    scrapes done with their median time. The 8 scrapers run in this process, on the same
//!    2 cores as healthd.
//!
//! Every rate is taken between the moments the scrapes were sent (healthd reads its
//! counter as it starts to answer). No packet leaves the namespace; every child is killed
//! on every path.
//!
//! smokeping_prober, privileged, opens a raw socket per target, and each raw socket gets a
//! copy of every ICMP packet in the namespace, the other programs' included: at 1,000
//! targets it takes both cores and loses most replies. On a kernel without IRQ time
//! accounting, that copying (done in softirq, in the context of whichever process sent
//! over loopback) is charged to the senders, healthd and the watch too: measured, their
//! CPU per probe was about 3 times what it is without smokeping_prober next to them.
//! `HEALTHD_SMOKEPING=0` leaves it out of part 1, to compare healthd with the watch alone.
//!
//! `cargo bench --bench healthd` (as root: it makes a namespace; it skips otherwise).
//! `HEALTHD_SECONDS=N` changes the duration of part 1 (30 s); `HEALTHD_LARGE=N` the count
//! of part 2 (50,000); `HEALTHD_SCRAPED=N` the count of part 3 (20,000).

mod common;
#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use icmplib::{Pinger, WatchEvent, WatchOptions};
use support::{Netns, TempDir};

const FIRST: u32 = 0x7f03_0001; // 127.3.0.1
const PERIOD: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_millis(900);
/// The ports the daemons listen on, inside the namespace (nothing else listens there).
const HEALTHD_PORT: u16 = 9867;
const SMOKEPING_PORT: u16 = 9374;
const SMOKEPING: &str = "prometheus-smokeping-prober";
/// Set for the child that runs the bare watch: "TARGETS SECONDS".
const CHILD_ENV: &str = "HEALTHD_BENCH_WATCH";
/// How long a daemon may take to answer its first request.
const READY_WITHIN: Duration = Duration::from_secs(30);
/// The longest a scrape may take.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(60);
/// Part 3: the scraping threads, and the length of each window.
const SCRAPERS: usize = 8;
const WINDOW: Duration = Duration::from_secs(15);

fn setting(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
}

/// The first `count` targets, 127.3.0.1 onwards (all in 127.3.0.0/16).
fn addresses(count: u32) -> impl Iterator<Item = String> {
    assert!(count < 65_535, "{count} targets do not fit 127.3.0.0/16");
    (FIRST..FIRST + count).map(|address| Ipv4Addr::from(address).to_string())
}

/// CPU time (user + system, all threads) of process `pid` so far, in seconds.
fn cpu_of(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's name (in parentheses, perhaps with spaces): field 3 onwards;
    // utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / per_second)
}

/// The peak resident memory of process `pid` so far (`VmHWM`), in MiB.
fn peak_of(pid: u32) -> Option<f64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// A process started in the namespace, killed (SIGKILL) and waited for when dropped: on
/// every path, a panic of the benchmark's included.
struct Process {
    name: &'static str,
    child: Child,
    started: Instant,
    log: PathBuf,
}

impl Process {
    /// Starts `command` in `netns`, its standard error (and output, unless `piped`) to
    /// the file `log`.
    fn start(
        netns: &Netns,
        name: &'static str,
        mut command: Command,
        log: PathBuf,
        piped: bool,
    ) -> Process {
        let file = fs::File::create(&log).expect("create a log file");
        let stdout = if piped {
            Stdio::piped()
        } else {
            Stdio::from(file.try_clone().expect("clone the log file"))
        };
        command.stdin(Stdio::null()).stdout(stdout).stderr(file);
        // The forked child inherits the namespace of the thread that forks it.
        let child = netns
            .run(move || command.spawn())
            .unwrap_or_else(|error| panic!("cannot start {name}: {error}"));
        Process {
            name,
            child,
            started: Instant::now(),
            log,
        }
    }

    /// What it wrote to its log, the last 2,000 bytes.
    fn log_tail(&self) -> String {
        let text = fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(&text[text.len().saturating_sub(2_000)..]).into_owned()
    }

    /// Panics, with its log, if it has exited.
    fn check_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}):\n{}", self.name, self.log_tail());
        }
    }

    fn cpu(&mut self) -> f64 {
        self.check_alive();
        cpu_of(self.child.id()).unwrap_or_else(|| panic!("no CPU time for {}", self.name))
    }

    fn peak(&mut self) -> f64 {
        self.check_alive();
        peak_of(self.child.id()).unwrap_or_else(|| panic!("no peak memory for {}", self.name))
    }

    /// Waits for it to exit, at most `timeout` (then kills it); its output and log.
    fn output(&mut self, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                break self.child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = Vec::new();
        if let Some(mut pipe) = self.child.stdout.take() {
            let _ = pipe.read_to_end(&mut stdout);
        }
        Output {
            status,
            stdout,
            stderr: self.log_tail().into_bytes(),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Does nothing once it has been waited for.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The series a scrape sums: each a per-target counter added over the targets, or a
/// process-wide one.
#[derive(Clone, Copy)]
struct Names {
    requests: &'static str,
    replies: &'static str,
    settled: Option<&'static str>,
}

const HEALTHD_NAMES: Names = Names {
    requests: "icmp_requests_total",
    replies: "icmp_response_duration_seconds_count",
    settled: Some("healthd_probes_settled_total"),
};

const SMOKEPING_NAMES: Names = Names {
    requests: "smokeping_requests_total",
    replies: "smokeping_response_duration_seconds_count",
    settled: None,
};

/// What a scrape of /metrics found, when it was sent and how long it took to read.
struct Scrape {
    sent: Instant,
    requests: f64,
    replies: f64,
    settled: f64,
    bytes: u64,
    ms: f64,
}

/// The value of `line` if it is a series named `name`.
fn value_of(line: &[u8], name: &str) -> Option<f64> {
    let rest = line.strip_prefix(name.as_bytes())?;
    if !matches!(rest.first(), Some(b'{' | b' ')) {
        return None;
    }
    let text = std::str::from_utf8(rest).ok()?;
    text.trim_end().rsplit(' ').next()?.parse().ok()
}

/// A plain HTTP client: no proxy (there is no way out of the namespace anyway), every
/// request bounded in time.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(SCRAPE_TIMEOUT))
        .proxy(None)
        .build()
        .new_agent()
}

/// A GET of `path` on 127.0.0.1:`port`, read to its end (its lines summed as `names` says,
/// else dropped); from a thread inside the namespace.
fn get(agent: &ureq::Agent, port: u16, path: &str, names: Option<Names>) -> Result<Scrape, String> {
    let sent = Instant::now();
    let mut response = agent
        .get(format!("http://127.0.0.1:{port}{path}"))
        .call()
        .map_err(|error| error.to_string())?;
    let body = response.body_mut().with_config().limit(u64::MAX).reader();
    let mut reader = BufReader::with_capacity(1 << 16, body);
    let mut scrape = Scrape {
        sent,
        requests: 0.0,
        replies: 0.0,
        settled: 0.0,
        bytes: 0,
        ms: 0.0,
    };
    match names {
        None => {
            scrape.bytes = std::io::copy(&mut reader, &mut std::io::sink())
                .map_err(|error| error.to_string())?
        }
        Some(names) => {
            let mut line = Vec::new();
            loop {
                line.clear();
                let read = reader
                    .read_until(b'\n', &mut line)
                    .map_err(|error| error.to_string())?;
                if read == 0 {
                    break;
                }
                scrape.bytes += read as u64;
                if let Some(value) = value_of(&line, names.requests) {
                    scrape.requests += value;
                } else if let Some(value) = value_of(&line, names.replies) {
                    scrape.replies += value;
                } else if let Some(value) = names.settled.and_then(|name| value_of(&line, name)) {
                    scrape.settled += value;
                }
            }
        }
    }
    scrape.ms = sent.elapsed().as_secs_f64() * 1e3;
    Ok(scrape)
}

/// A scrape of /metrics from a thread inside `netns`, summed as `names` says; panics on
/// failure.
fn scrape(netns: &Netns, port: u16, names: Names) -> Scrape {
    netns
        .run(move || get(&agent(), port, "/metrics", Some(names)))
        .unwrap_or_else(|error| panic!("scrape of port {port}: {error}"))
}

/// Waits until `process` answers `GET /` on `port` (a page of a few lines, whatever the
/// targets), at most [`READY_WITHIN`].
fn wait_ready(netns: &Netns, process: &mut Process, port: u16) {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        process.check_alive();
        let answered = netns.run(move || {
            let agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(2)))
                .proxy(None)
                .build()
                .new_agent();
            get(&agent, port, "/", None)
        });
        match answered {
            Ok(_) => return,
            Err(error) if Instant::now() >= deadline => panic!(
                "{} did not answer within {READY_WITHIN:?}: {error}\n{}",
                process.name,
                process.log_tail()
            ),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn sleep_until(at: Instant) {
    std::thread::sleep(at.saturating_duration_since(Instant::now()));
}

/// The release build of examples/healthd, built (as `support::example` builds the debug
/// one) into the target directory this benchmark runs from.
fn healthd_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/release/deps/healthd-HASH -> target
    let target_dir = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("the target directory");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--release",
            "--example",
            "healthd",
            "--target-dir",
        ])
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build --release --example healthd");
    assert!(
        status.success(),
        "cargo build --release --example healthd failed"
    );
    let path = target_dir.join("release").join("examples").join("healthd");
    assert!(path.exists(), "{} is not built", path.display());
    path
}

/// healthd on the first `targets` targets (one group in a config file), probing each every
/// second with a timeout of 0.9 s.
fn start_healthd(netns: &Netns, binary: &Path, dir: &Path, targets: u32) -> Process {
    let hosts: Vec<String> = addresses(targets).collect();
    let config = serde_json::json!({
        "groups": [{ "hosts": hosts, "timeout": TIMEOUT.as_secs_f64() }]
    });
    let path = dir.join(format!("healthd-{targets}.json"));
    fs::write(&path, config.to_string()).expect("write healthd's config");
    let mut command = Command::new(binary);
    command
        .arg("--listen")
        .arg(format!("127.0.0.1:{HEALTHD_PORT}"))
        .args(["--period", "1", "--config"])
        .arg(&path);
    let log = dir.join(format!("healthd-{targets}.log"));
    Process::start(netns, "healthd", command, log, false)
}

/// The child: the bare watch of `targets` for `seconds`, as healthd runs it; prints
/// "settled replies cpu_s peak_mib".
fn child(spec: &str) {
    let mut numbers = spec.split_whitespace().map(|number| {
        number
            .parse::<u64>()
            .expect("HEALTHD_BENCH_WATCH: TARGETS SECONDS")
    });
    let (targets, seconds) = (
        numbers.next().expect("targets"),
        numbers.next().expect("seconds"),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (settled, replies) = runtime.block_on(async move {
        let options = WatchOptions::default().period(PERIOD).timeout(TIMEOUT);
        let (handle, mut events) = Pinger::new()
            .watch(addresses(targets as u32), &options)
            .expect("watch");
        let counting = tokio::spawn(async move {
            // One timer for the whole run, not one per event.
            let deadline = tokio::time::sleep(Duration::from_secs(seconds));
            tokio::pin!(deadline);
            let (mut settled, mut replies) = (0u64, 0u64);
            loop {
                tokio::select! {
                    biased;
                    () = &mut deadline => break,
                    event = events.next() => match event {
                        Some(WatchEvent::Reply { .. }) => {
                            settled += 1;
                            replies += 1;
                        }
                        Some(WatchEvent::Timeout { .. } | WatchEvent::Error { .. }) => settled += 1,
                        Some(_) => {}
                        None => break,
                    },
                }
            }
            (settled, replies)
        });
        let counts = counting.await.expect("the counting task");
        handle.stop();
        counts
    });
    let pid = std::process::id();
    println!(
        "{settled} {replies} {} {}",
        cpu_of(pid).unwrap_or(0.0),
        peak_of(pid).unwrap_or(0.0)
    );
}

/// A program's figures in part 1.
struct Row {
    name: &'static str,
    probes: f64,
    replies: f64,
    cpu: f64,
    peak: f64,
    /// Median scrape time and CPU time per scrape, in ms (daemons only).
    scrapes: Option<(f64, f64)>,
}

impl Row {
    /// CPU time per 1,000 probes settled, in ms.
    fn per_thousand(&self) -> f64 {
        self.cpu * 1e3 / (self.probes / 1e3)
    }

    fn print(&self) {
        let scrapes = match self.scrapes {
            Some((ms, cpu)) => format!("{ms:>9.1} {cpu:>10.1}"),
            None => format!("{:>9} {:>10}", "-", "-"),
        };
        println!(
            "  {:<17} {:>8.0} {:>8.0} {:>7.2} % {:>11.1} {:>9.1} {scrapes}",
            self.name,
            self.probes,
            self.replies,
            (1.0 - self.replies / self.probes) * 100.0,
            self.per_thousand(),
            self.peak,
        );
    }
}

/// A daemon's row at the end of part 1, from its CPU time before the scrapes: the
/// counters of the first of 6 scrapes, the median time of the 5 others, the CPU time they
/// took, the peak. Kills it.
fn finish(netns: &Netns, mut process: Process, cpu: f64, port: u16, names: Names) -> Row {
    let last = scrape(netns, port, names);
    let times: Vec<f64> = (0..5).map(|_| scrape(netns, port, names).ms).collect();
    let scrapes_cpu = (process.cpu() - cpu) / 6.0;
    let peak = process.peak();
    let name = process.name;
    drop(process);
    if port == HEALTHD_PORT && last.settled != last.requests {
        println!(
            "  (healthd_probes_settled_total {:.0}, the sum of icmp_requests_total {:.0})",
            last.settled, last.requests
        );
    }
    Row {
        name,
        probes: last.requests,
        replies: last.replies,
        cpu,
        peak,
        scrapes: Some((common::median(times), scrapes_cpu * 1e3)),
    }
}

/// Part 1: healthd, smokeping_prober and the bare watch side by side.
fn side_by_side(netns: &Netns, binary: &Path, dir: &Path, seconds: u64) {
    let targets = 1_000;
    println!(
        "1. {targets} loopback targets, one probe each per second, for {seconds} s, three \
         programs side by side"
    );
    // All three started before any is waited for: the run is the same for each.
    let mut healthd = start_healthd(netns, binary, dir, targets);
    let wanted = setting("HEALTHD_SMOKEPING") != Some(0);
    let installed = Command::new(SMOKEPING)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    let smokeping = (wanted && installed).then(|| {
        let config = dir.join("smokeping.yml");
        fs::write(&config, "targets: []\n").expect("write smokeping_prober's config");
        let mut command = Command::new(SMOKEPING);
        command
            .arg(format!("--web.listen-address=127.0.0.1:{SMOKEPING_PORT}"))
            .arg(format!("--config.file={}", config.display()))
            .args(["--privileged", "-i", "1s"])
            .args(addresses(targets));
        Process::start(
            netns,
            "smokeping_prober",
            command,
            dir.join("smokeping.log"),
            false,
        )
    });
    let mut watch = {
        let mut command = Command::new(std::env::current_exe().expect("current_exe"));
        command.env(CHILD_ENV, format!("{targets} {seconds}"));
        Process::start(netns, "watch", command, dir.join("watch.log"), true)
    };
    wait_ready(netns, &mut healthd, HEALTHD_PORT);
    let mut smokeping = smokeping.map(|mut process| {
        wait_ready(netns, &mut process, SMOKEPING_PORT);
        process
    });
    sleep_until(healthd.started + Duration::from_secs(seconds));
    // Both read before either is scraped.
    let healthd_cpu = healthd.cpu();
    let smokeping_cpu = smokeping.as_mut().map(Process::cpu);
    let mut rows = vec![finish(
        netns,
        healthd,
        healthd_cpu,
        HEALTHD_PORT,
        HEALTHD_NAMES,
    )];
    if let (Some(process), Some(cpu)) = (smokeping, smokeping_cpu) {
        rows.push(finish(netns, process, cpu, SMOKEPING_PORT, SMOKEPING_NAMES));
    }
    let output = watch.output(Duration::from_secs(seconds + 60));
    let figures = common::child_figures(&output, 4);
    rows.push(Row {
        name: "icmplib watch",
        probes: figures[0],
        replies: figures[1],
        cpu: figures[2],
        peak: figures[3],
        scrapes: None,
    });
    println!(
        "  {:<17} {:>8} {:>8} {:>9} {:>11} {:>9} {:>9} {:>10}",
        "program", "probes", "replies", "loss", "CPU ms/1k", "peak MiB", "scrape ms", "scrape CPU"
    );
    for row in &rows {
        row.print();
    }
    let (healthd, watch) = (&rows[0], &rows[rows.len() - 1]);
    println!(
        "  healthd / watch: CPU per probe {:.2}x (goal <= 1.3), peak memory {:.2}x",
        healthd.per_thousand() / watch.per_thousand(),
        healthd.peak / watch.peak
    );
    if rows.len() == 3 {
        let smokeping = &rows[1];
        println!(
            "  healthd / smokeping_prober: CPU per probe {:.2}x, peak memory {:.2}x",
            healthd.per_thousand() / smokeping.per_thousand(),
            healthd.peak / smokeping.peak
        );
    } else if wanted {
        println!("  {SMOKEPING}: not installed, skipped");
    } else {
        println!("  {SMOKEPING}: left out (HEALTHD_SMOKEPING=0)");
    }
}

/// Part 2: healthd alone on `targets` for 20 s, its settled rate between 5 s and 20 s.
fn large(netns: &Netns, binary: &Path, dir: &Path, targets: u32) {
    println!(
        "2. healthd alone, {targets} targets, one probe each per second, for 20 s: the rate \
         between scrapes at 5 s and at 20 s"
    );
    let mut healthd = start_healthd(netns, binary, dir, targets);
    wait_ready(netns, &mut healthd, HEALTHD_PORT);
    sleep_until(healthd.started + Duration::from_secs(5));
    let first = scrape(netns, HEALTHD_PORT, HEALTHD_NAMES);
    let (cpu_first, at_first) = (healthd.cpu(), Instant::now());
    sleep_until(healthd.started + Duration::from_secs(20));
    let (cpu_last, at_last) = (healthd.cpu(), Instant::now());
    let last = scrape(netns, HEALTHD_PORT, HEALTHD_NAMES);
    let peak = healthd.peak();
    let whole = at_last - healthd.started;
    drop(healthd);
    let seconds = (last.sent - first.sent).as_secs_f64();
    let rate = (last.settled - first.settled) / seconds;
    println!(
        "  {:.0} probes settled in {seconds:.1} s: {rate:.0} a second, {:.2} % of the {targets} \
         due (goal >= 99 %)",
        last.settled - first.settled,
        rate * 100.0 / f64::from(targets)
    );
    println!(
        "  CPU share {:.1} % between the scrapes (without them), {:.1} % over the whole run \
         ({:.1} s, start and first scrape included); peak {peak:.1} MiB",
        (cpu_last - cpu_first) * 100.0 / (at_last - at_first).as_secs_f64(),
        cpu_last * 100.0 / whole.as_secs_f64(),
        whole.as_secs_f64()
    );
    println!(
        "  scrapes: {:.1} MB in {:.0} ms, {:.1} MB in {:.0} ms",
        first.bytes as f64 / 1e6,
        first.ms,
        last.bytes as f64 / 1e6,
        last.ms
    );
}

/// Part 3: healthd alone on `targets`, a window without scrapes, then one with 8 scrapers.
fn scraped(netns: &Netns, binary: &Path, dir: &Path, targets: u32) {
    println!(
        "3. healthd alone, {targets} targets, one probe each per second: {} s without \
         scrapes, then {} s with {SCRAPERS} threads scraping /metrics in a loop",
        WINDOW.as_secs(),
        WINDOW.as_secs()
    );
    let mut healthd = start_healthd(netns, binary, dir, targets);
    wait_ready(netns, &mut healthd, HEALTHD_PORT);
    sleep_until(healthd.started + Duration::from_secs(3));
    let cpu_start = healthd.cpu();
    let start = scrape(netns, HEALTHD_PORT, HEALTHD_NAMES);
    sleep_until(start.sent + WINDOW);
    let cpu_middle = healthd.cpu();
    let middle = scrape(netns, HEALTHD_PORT, HEALTHD_NAMES);
    let stop_at = middle.sent + WINDOW;
    let (times, failures) = netns.run(move || {
        // Threads spawned by a thread inside the namespace are inside it too.
        let scrapers: Vec<_> = (0..SCRAPERS)
            .map(|_| {
                std::thread::spawn(move || {
                    let agent = agent();
                    let (mut times, mut failures) = (Vec::new(), 0u64);
                    while Instant::now() < stop_at {
                        match get(&agent, HEALTHD_PORT, "/metrics", None) {
                            Ok(scrape) => times.push(scrape.ms),
                            Err(_) => {
                                failures += 1;
                                std::thread::sleep(Duration::from_millis(10));
                            }
                        }
                    }
                    (times, failures)
                })
            })
            .collect();
        let mut all = (Vec::new(), 0);
        for scraper in scrapers {
            let (times, failures) = scraper.join().expect("a scraper");
            all.0.extend(times);
            all.1 += failures;
        }
        all
    });
    let cpu_end = healthd.cpu();
    let end = scrape(netns, HEALTHD_PORT, HEALTHD_NAMES);
    drop(healthd);
    let window = |from: &Scrape, to: &Scrape, cpu: f64| {
        let seconds = (to.sent - from.sent).as_secs_f64();
        (
            (to.settled - from.settled) / seconds,
            cpu * 100.0 / seconds,
            seconds,
        )
    };
    let (quiet, quiet_cpu, quiet_seconds) = window(&start, &middle, cpu_middle - cpu_start);
    let (busy, busy_cpu, busy_seconds) = window(&middle, &end, cpu_end - cpu_middle);
    let due = f64::from(targets);
    println!(
        "  without scrapes: {quiet:.0} settled a second ({:.2} % of the due), CPU share \
         {quiet_cpu:.1} % ({quiet_seconds:.1} s)",
        quiet * 100.0 / due
    );
    println!(
        "  with scrapes:    {busy:.0} settled a second ({:.2} % of the due), CPU share \
         {busy_cpu:.1} % ({busy_seconds:.1} s)",
        busy * 100.0 / due
    );
    let count = times.len();
    let median = if times.is_empty() {
        f64::NAN
    } else {
        common::median(times)
    };
    println!(
        "  ratio {:.4} (goal >= 0.99); {count} scrapes of {:.1} MB, median {median:.0} ms, \
         {failures} failed",
        busy / quiet,
        end.bytes as f64 / 1e6
    );
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child(&spec);
        return;
    }
    if !common::root_or_skip("healthd") {
        return;
    }
    let seconds = setting("HEALTHD_SECONDS").unwrap_or(30);
    let large_count = setting("HEALTHD_LARGE").unwrap_or(50_000) as u32;
    let scraped_count = setting("HEALTHD_SCRAPED").unwrap_or(20_000) as u32;
    let binary = healthd_binary();
    let netns = Netns::new("bench-healthd");
    let dir = TempDir::new();
    side_by_side(&netns, &binary, dir.path(), seconds);
    large(&netns, &binary, dir.path(), large_count);
    scraped(&netns, &binary, dir.path(), scraped_count);
}
