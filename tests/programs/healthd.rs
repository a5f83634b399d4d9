//! `examples/healthd`, run as a daemon inside the namespace lab and scraped over HTTP: the
//! figures of a live, a silent and a blocked host; a real Prometheus server scraping it in
//! both metric styles; its smokeping style against smokeping_prober itself; clients that
//! try to hold its HTTP server; a reload; a name that does not resolve; and clear
//! refusals of bad input.

use crate::support;

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use icmplib::Family;
use support::{DnsResponder, Lab, Netns, TempDir, example};

support::harness::tests![
    Root metrics_status_and_probe_of_live_silent_and_blocked_hosts,
    Root prometheus_scrapes_both_metric_styles,
    Root the_smokeping_style_has_smokeping_probers_names_and_labels,
    Root no_client_holds_the_server_nor_delays_the_stop,
    Root a_reload_keeps_counters_and_a_bad_one_keeps_the_config,
    Root a_name_that_does_not_resolve_is_said_once,
    Nothing bad_input_is_refused_at_start,
];

/// A daemon started in a namespace, killed if the test ends early.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Daemon {
    /// Sends `signal` (`TERM`, `HUP`).
    fn signal(&self, signal: &str) {
        let pid = self.0.id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for it to end (at most `limit`): its status, how long it took, what it said.
    fn wait(mut self, limit: Duration) -> (ExitStatus, Duration, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                break status;
            }
            assert!(started.elapsed() < limit, "healthd did not stop");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut said = String::new();
        if let Some(mut stderr) = self.0.stderr.take() {
            let _ = stderr.read_to_string(&mut said);
        }
        (status, started.elapsed(), said)
    }

    /// Stops it with SIGTERM: what it said.
    fn stop(self) -> String {
        self.signal("TERM");
        let (status, _, said) = self.wait(Duration::from_secs(10));
        assert!(status.success(), "{status}: {said}");
        said
    }
}

fn start(netns: &Netns, args: &[&str]) -> Daemon {
    start_with(netns, args, None)
}

/// Starts healthd in `netns`, with at most `files` open files when given.
fn start_with(netns: &Netns, args: &[&str], files: Option<u32>) -> Daemon {
    let program = example("healthd");
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    Daemon(netns.run(move || {
        let mut command = match files {
            Some(files) => {
                let mut shell = Command::new("sh");
                shell
                    .arg("-c")
                    .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
                    .arg(program);
                shell
            }
            None => Command::new(program),
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }))
}

/// GETs `path` from `port` on the namespace's loopback, with `headers`, retrying while
/// the server starts: the response's content type and body.
fn get_with(netns: &Netns, port: u16, path: &str, headers: &[(&str, &str)]) -> (String, String) {
    let url = format!("http://127.0.0.1:{port}{path}");
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    netns.run(move || {
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            let mut request = ureq::get(&url);
            for (name, value) in &headers {
                request = request.header(name, value);
            }
            match request.call() {
                Ok(mut response) => {
                    let kind = response
                        .headers()
                        .get("content-type")
                        .and_then(|kind| kind.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    return (kind, response.body_mut().read_to_string().unwrap());
                }
                Err(error) if Instant::now() > give_up => panic!("GET {url}: {error}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    })
}

fn get(netns: &Netns, port: u16, path: &str) -> String {
    get_with(netns, port, path, &[]).1
}

/// The value of the metric line that starts with `prefix` (name and labels).
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

/// Drops echo requests to `host` in `netns`, under a table of its own named `table`.
fn block(netns: &Netns, table: &str, host: IpAddr) {
    netns.nft(&format!(
        "table inet {table} {{\n chain input {{\n type filter hook input priority -10;\n \
         ip daddr {host} icmp type echo-request drop\n }}\n}}\n"
    ));
}

fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn metrics_status_and_probe_of_live_silent_and_blocked_hosts() {
    let lab = Lab::new("healthd");
    let live = Lab::host(Family::V4, 1).to_string();
    let silent = Lab::host(Family::V4, 2);
    let flaky = Lab::host(Family::V4, 3).to_string();
    block(&lab.target, "quiet", silent);
    let silent = silent.to_string();
    let dir = TempDir::new();
    let config = write(
        &dir,
        "healthd.json",
        &format!(
            r#"{{"groups": [{{"hosts": ["{live}", "{silent}"], "period": 0.2, "timeout": 0.15,
                              "down_after": 2, "labels": {{"site": "lab"}}}}]}}"#
        ),
    );
    let daemon = start(
        &lab.client,
        &[
            "--config",
            path(&config),
            "--listen",
            "127.0.0.1:9177",
            "--period",
            "0.2",
            &flaky,
            "127.0.0.1",
            "::1",
            // The same address written otherwise: one target.
            "0:0:0:0:0:0:0:1",
        ],
    );
    std::thread::sleep(Duration::from_millis(1_500));
    let (kind, text) = get_with(&lab.client, 9177, "/metrics", &[]);
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let labels =
        |host: &str, extra: &str| format!("{{host=\"{host}\",ip=\"{host}\",source=\"\"{extra}}}");
    let live_labels = labels(&live, ",site=\"lab\"");
    let silent_labels = labels(&silent, ",site=\"lab\"");
    let flaky_labels = labels(&flaky, "");
    let loopback = labels("127.0.0.1", "");
    for (host, up) in [
        (&live_labels, 1.0),
        (&silent_labels, 0.0),
        (&flaky_labels, 1.0),
        (&loopback, 1.0),
    ] {
        assert_eq!(
            metric(&text, &format!("icmp_up{host}")),
            Some(up),
            "{host}\n{text}"
        );
    }
    let v6_loopback = labels("::1", "");
    assert_eq!(
        metric(&text, &format!("icmp_up{v6_loopback}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(text.matches("icmp_up{").count(), 5, "{text}");
    let value = |name: &str, labels: &str| {
        metric(&text, &format!("{name}{labels}"))
            .unwrap_or_else(|| panic!("{name}{labels}\n{text}"))
    };
    let loopback_rtt = value("icmp_response_duration_seconds_sum", &loopback);
    assert!(loopback_rtt > 0.0 && loopback_rtt < 0.1, "{text}");
    // Every request's outcome is counted once.
    for labels in [&live_labels, &silent_labels] {
        let requests = value("icmp_requests_total", labels);
        let replies = value("icmp_response_duration_seconds_count", labels);
        let lost = value("icmp_timeouts_total", labels)
            + value("icmp_send_errors_total", labels)
            + value("icmp_error_replies_total", labels);
        assert!(requests >= 5.0, "{text}");
        assert_eq!(requests, replies + lost, "{labels}\n{text}");
    }
    assert_eq!(
        value("icmp_requests_total", &live_labels),
        value("icmp_response_duration_seconds_count", &live_labels)
    );
    // The silent host's series are there, at 0.
    assert_eq!(
        value("icmp_response_duration_seconds_count", &silent_labels),
        0.0
    );
    assert_eq!(value("icmp_response_duplicates_total", &silent_labels), 0.0);
    assert_eq!(value("icmp_response_ttl", &silent_labels), 0.0);
    assert_eq!(value("icmp_response_ttl", &live_labels), 64.0);
    // promtool finds nothing to say about the classic format.
    let dir_text = write(&dir, "metrics.txt", &text);
    let lint = Command::new("sh")
        .arg("-c")
        .arg(format!("promtool check metrics < {}", path(&dir_text)))
        .output()
        .unwrap();
    assert!(lint.status.success(), "{}", support::output_text(&lint));
    assert_eq!(support::output_text(&lint).trim(), "", "promtool");

    // OpenMetrics when asked for, as Prometheus asks.
    let (kind, open) = get_with(
        &lab.client,
        9177,
        "/metrics",
        &[(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )],
    );
    assert!(
        kind.starts_with("application/openmetrics-text; version=1.0.0"),
        "{kind}"
    );
    assert!(open.ends_with("# EOF\n"), "{open}");
    assert!(open.contains("# TYPE icmp_requests counter\n"), "{open}");

    let status: serde_json::Value =
        serde_json::from_str(&get(&lab.client, 9177, "/status")).unwrap();
    let targets = status["targets"].as_array().unwrap();
    let by_host = |host: &str| {
        targets
            .iter()
            .find(|target| target["host"] == host)
            .unwrap_or_else(|| panic!("{host}: {status}"))
            .clone()
    };
    assert_eq!(by_host(&live)["up"], true);
    assert_eq!(by_host(&live)["labels"]["site"], "lab");
    assert_eq!(by_host(&live)["window"]["packet_loss"], 0.0);
    let p99 = by_host(&live)["window"]["rtt_p99_seconds"]
        .as_f64()
        .unwrap();
    assert!(p99 > 0.0 && p99 < 0.1, "{status}");
    assert_eq!(by_host(&silent)["up"], false);
    assert_eq!(by_host(&silent)["window"]["received"], 0);

    // A probe on scrape, as blackbox_exporter answers one.
    let probe = get(&lab.client, 9177, &format!("/probe?target={live}"));
    assert_eq!(metric(&probe, "probe_success "), Some(1.0), "{probe}");
    assert_eq!(
        metric(&probe, "probe_icmp_reply_hop_limit "),
        Some(64.0),
        "{probe}"
    );
    assert_eq!(metric(&probe, "probe_ip_protocol "), Some(4.0), "{probe}");
    let probe = get_with(
        &lab.client,
        9177,
        &format!("/probe?target={silent}"),
        &[("x-prometheus-scrape-timeout-seconds", "1")],
    )
    .1;
    assert_eq!(metric(&probe, "probe_success "), Some(0.0), "{probe}");
    let index = get(&lab.client, 9177, "/");
    for endpoint in ["/metrics", "/status", "/probe"] {
        assert!(index.contains(endpoint), "{index}");
    }

    // The flaky host gets blocked: down within a few periods.
    block(&lab.target, "hd", flaky.parse().unwrap());
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        let text = get(&lab.client, 9177, "/metrics");
        match metric(&text, &format!("icmp_up{flaky_labels}")) {
            Some(0.0) => break,
            up => assert!(Instant::now() < give_up, "{up:?}\n{text}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let said = daemon.stop();
    assert!(said.contains("given twice"), "{said}");
}

/// A Prometheus server in `netns` scraping `targets` (job name, port) every second,
/// killed on drop.
struct Prometheus {
    child: Child,
    _dir: TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PROMETHEUS_PORT: u16 = 9190;

impl Prometheus {
    fn start(netns: &Netns, jobs: &[(&str, u16)]) -> Prometheus {
        let dir = TempDir::new();
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n",
        );
        for (job, port) in jobs {
            config += &format!(
                "- job_name: {job}\n  static_configs:\n  - targets: ['127.0.0.1:{port}']\n"
            );
        }
        let file = write(&dir, "prometheus.yml", &config);
        let data = dir.path().join("data");
        let args = vec![
            format!("--config.file={}", path(&file)),
            format!("--storage.tsdb.path={}", path(&data)),
            format!("--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}"),
        ];
        let child = netns.run(move || {
            Command::new("prometheus")
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("run prometheus (apt install prometheus)")
        });
        Prometheus { child, _dir: dir }
    }

    /// The values of the instant query `expression`.
    fn query(netns: &Netns, expression: &str) -> Vec<f64> {
        let url = format!("http://127.0.0.1:{PROMETHEUS_PORT}/api/v1/query");
        let expression = expression.to_owned();
        let body = netns.run(move || {
            ureq::get(&url)
                .query("query", &expression)
                .call()
                .ok()
                .and_then(|mut response| response.body_mut().read_to_string().ok())
        });
        let Some(body) = body else { return Vec::new() };
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        json["data"]["result"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .filter_map(|result| result["value"][1].as_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits (at most 60 s) until `expression` gives exactly one value that `holds`.
    fn until(netns: &Netns, expression: &str, holds: impl Fn(f64) -> bool) -> f64 {
        let give_up = Instant::now() + Duration::from_secs(60);
        loop {
            let values = Prometheus::query(netns, expression);
            if let [value] = values[..]
                && holds(value)
            {
                return value;
            }
            assert!(Instant::now() < give_up, "{expression}: {values:?}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

fn prometheus_scrapes_both_metric_styles() {
    let lab = Lab::new("hdprom");
    let live = Lab::host(Family::V4, 1).to_string();
    let dead = Lab::host(Family::V4, 2);
    block(&lab.target, "dead", dead);
    let dead = dead.to_string();
    let targets = [live.as_str(), dead.as_str()];
    let common = ["--period", "0.2"];
    let native = start(
        &lab.client,
        &[&common[..], &["--listen", "127.0.0.1:9201"], &targets[..]].concat(),
    );
    let smokeping = start(
        &lab.client,
        &[
            &common[..],
            &["--listen", "127.0.0.1:9202", "--metrics", "smokeping"],
            &targets[..],
        ]
        .concat(),
    );
    let _prometheus = Prometheus::start(&lab.client, &[("native", 9201), ("smokeping", 9202)]);
    let netns = &lab.client;
    // Three scrapes of each.
    for job in ["native", "smokeping"] {
        Prometheus::until(
            netns,
            &format!("count_over_time(up{{job=\"{job}\"}}[1m])"),
            |n| n >= 3.0,
        );
        Prometheus::until(netns, &format!("up{{job=\"{job}\"}}"), |up| up == 1.0);
    }
    Prometheus::until(netns, &format!("icmp_up{{host=\"{live}\"}}"), |up| {
        up == 1.0
    });
    Prometheus::until(netns, &format!("icmp_up{{host=\"{dead}\"}}"), |up| {
        up == 0.0
    });
    let quantile = |name: &str| {
        format!(
            "histogram_quantile(0.9, sum by (le) (rate({name}_bucket{{host=\"{live}\"}}[10s])))"
        )
    };
    let rtt = |rtt: f64| rtt > 0.0 && rtt < 0.1;
    Prometheus::until(netns, &quantile("icmp_response_duration_seconds"), rtt);
    Prometheus::until(netns, &quantile("smokeping_response_duration_seconds"), rtt);
    // Loss as smokeping_prober's dashboards compute it: all of the dead host's requests.
    let loss = |host: &str| {
        format!(
            "1 - rate(smokeping_response_duration_seconds_count{{host=\"{host}\"}}[10s]) \
             / rate(smokeping_requests_total{{host=\"{host}\"}}[10s])"
        )
    };
    Prometheus::until(netns, &loss(&dead), |loss| loss == 1.0);
    Prometheus::until(netns, &loss(&live), |loss| loss == 0.0);
    native.stop();
    smokeping.stop();
}

/// The metric families of a scrape and the label names of each family's samples, leaving
/// out what the Go client shows of its process.
fn shape(text: &str) -> std::collections::BTreeSet<String> {
    let own = |name: &str| {
        ![
            "go_",
            "process_",
            "promhttp_",
            "smokeping_prober_build_info",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
    };
    let mut shape = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(kind) = line.strip_prefix("# TYPE ") {
            if own(kind) {
                shape.insert(format!("TYPE {kind}"));
            }
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = &line[..name_end];
        if !own(name) {
            continue;
        }
        let labels: Vec<&str> = line[name_end..]
            .strip_prefix('{')
            .and_then(|rest| rest.split_once('}'))
            .map(|(labels, _)| {
                labels
                    .split("\",")
                    .filter_map(|pair| pair.split_once('=').map(|(name, _)| name))
                    .collect()
            })
            .unwrap_or_default();
        shape.insert(format!("{name} {}", labels.join(",")));
    }
    shape
}

fn the_smokeping_style_has_smokeping_probers_names_and_labels() {
    let lab = Lab::new("hdsmoke");
    let live = Lab::host(Family::V4, 1).to_string();
    let dir = TempDir::new();
    let empty = write(&dir, "smokeping.yml", "targets: []\n");
    let theirs = {
        let args = vec![
            "--web.listen-address=127.0.0.1:9374".to_owned(),
            format!("--config.file={}", path(&empty)),
            "--privileged".to_owned(),
            "-i".to_owned(),
            "200ms".to_owned(),
            live.clone(),
        ];
        Daemon(lab.client.run(move || {
            Command::new("prometheus-smokeping-prober")
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run prometheus-smokeping-prober (apt install prometheus-smokeping-prober)")
        }))
    };
    let ours = start(
        &lab.client,
        &[
            "--listen",
            "127.0.0.1:9375",
            "--metrics",
            "smokeping",
            "--period",
            "0.2",
            &live,
        ],
    );
    std::thread::sleep(Duration::from_millis(1_500));
    let their_text = get(&lab.client, 9374, "/metrics");
    let our_text = get(&lab.client, 9375, "/metrics");
    assert_eq!(
        shape(&our_text),
        shape(&their_text),
        "ours:\n{our_text}\ntheirs:\n{their_text}"
    );
    // The same buckets, written the same way: `le` is a label, and `0.00005` is not
    // `5e-05` to Prometheus.
    let bounds = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| line.starts_with("smokeping_response_duration_seconds_bucket"))
            .filter_map(|line| Some(line.split("le=\"").nth(1)?.split('"').next()?.to_owned()))
            .collect()
    };
    assert_eq!(bounds(&our_text), bounds(&their_text));
    drop(theirs);
    ours.stop();
}

/// Opens a connection to `port` in `netns`.
fn connect(netns: &Netns, port: u16) -> TcpStream {
    netns.run(move || TcpStream::connect(("127.0.0.1", port)).unwrap())
}

/// Whether the server closed `stream` within `limit` (reads nothing more: end of file, or
/// a reset).
fn closed_within(mut stream: TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buffer = [0; 4_096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

fn no_client_holds_the_server_nor_delays_the_stop() {
    let lab = Lab::new("hdhttp");
    let live = Lab::host(Family::V4, 1).to_string();
    // At most 64 open files: without a connection limit, 100 idle clients would leave it
    // none to accept a scrape with.
    let daemon = start_with(
        &lab.client,
        &[
            "--listen",
            "127.0.0.1:9177",
            "--max-connections",
            "20",
            &live,
        ],
        Some(64),
    );
    get(&lab.client, 9177, "/");
    let idle: Vec<TcpStream> = (0..100).map(|_| connect(&lab.client, 9177)).collect();
    let text = get(&lab.client, 9177, "/metrics");
    assert!(text.contains("icmp_up{"), "{text}");

    // A silent client and one that sends half a request are cut after the header
    // timeout (5 s), not kept.
    let silent = connect(&lab.client, 9177);
    let mut slow = connect(&lab.client, 9177);
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    assert!(
        closed_within(silent, Duration::from_secs(20)),
        "a silent client is kept"
    );
    assert!(
        closed_within(slow, Duration::from_secs(20)),
        "a slow client is kept"
    );
    drop(idle);

    // SIGTERM with a request half sent: the daemon does not wait for the client.
    let mut half = connect(&lab.client, 9177);
    half.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    daemon.signal("TERM");
    let (status, took, said) = daemon.wait(Duration::from_secs(20));
    assert!(status.success(), "{status}: {said}");
    // The grace for requests in flight is 1 s; 10 s leaves room for a busy machine, and
    // half a client's request once kept it 20 s and more.
    assert!(took < Duration::from_secs(10), "stopped after {took:?}");
    println!("stopped {took:?} after SIGTERM with a request half sent");
    drop(half);
}

fn a_reload_keeps_counters_and_a_bad_one_keeps_the_config() {
    let lab = Lab::new("hdreload");
    let [kept, gone, new] = [1, 2, 3].map(|n| Lab::host(Family::V4, n).to_string());
    let dir = TempDir::new();
    let group = |hosts: &[&str], site: &str| {
        format!(
            r#"{{"groups": [{{"hosts": {hosts:?}, "period": 0.1, "labels": {{"site": "{site}"}}}}]}}"#
        )
    };
    let config = write(&dir, "healthd.json", &group(&[&kept, &gone], "a"));
    let daemon = start(
        &lab.client,
        &["--config", path(&config), "--listen", "127.0.0.1:9177"],
    );
    std::thread::sleep(Duration::from_millis(1_000));
    let requests = |text: &str, host: &str, site: &str| {
        metric(
            text,
            &format!(
                "icmp_requests_total{{host=\"{host}\",ip=\"{host}\",source=\"\",site=\"{site}\"}}"
            ),
        )
    };
    let before = get(&lab.client, 9177, "/metrics");
    let kept_before = requests(&before, &kept, "a").unwrap_or_else(|| panic!("{before}"));
    assert!(kept_before >= 5.0, "{before}");

    // A new config: one target kept (and relabelled), one gone, one new.
    write(&dir, "healthd.json", &group(&[&kept, &new], "b"));
    daemon.signal("HUP");
    std::thread::sleep(Duration::from_millis(1_000));
    let after = get(&lab.client, 9177, "/metrics");
    let kept_after = requests(&after, &kept, "b").unwrap_or_else(|| panic!("{after}"));
    assert!(
        kept_after >= kept_before + 5.0,
        "counters kept: {kept_before} then {kept_after}"
    );
    assert!(
        requests(&after, &new, "b").is_some_and(|n| n >= 5.0),
        "{after}"
    );
    assert!(!after.contains(&format!("host=\"{gone}\"")), "{after}");
    assert_eq!(
        metric(&after, "healthd_config_last_reload_successful "),
        Some(1.0)
    );

    // The kept target moves to a group of its own whose probes differ (another watch):
    // its counters go on under its new labels, and the new target stays in the old watch.
    write(
        &dir,
        "healthd.json",
        &format!(
            r#"{{"groups": [{{"hosts": ["{new}"], "period": 0.1, "labels": {{"site": "b"}}}},
                            {{"hosts": ["{kept}"], "period": 0.15, "timeout": 0.1,
                              "labels": {{"site": "c"}}}}]}}"#
        ),
    );
    daemon.signal("HUP");
    std::thread::sleep(Duration::from_millis(1_000));
    let moved = get(&lab.client, 9177, "/metrics");
    let kept_moved = requests(&moved, &kept, "c").unwrap_or_else(|| panic!("{moved}"));
    assert!(
        kept_moved >= kept_after + 4.0,
        "counters kept across watches: {kept_after} then {kept_moved}"
    );
    assert!(requests(&moved, &kept, "b").is_none(), "{moved}");
    let new_before = requests(&after, &new, "b").unwrap_or_default();
    assert!(
        requests(&moved, &new, "b").is_some_and(|n| n >= new_before + 5.0),
        "{moved}"
    );
    let kept_after = kept_moved;

    // A bad config: the one in use stays, and the gauge says so.
    write(
        &dir,
        "healthd.json",
        r#"{"groups": [{"hosts": ["300.1.1.1"]}]}"#,
    );
    daemon.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    let bad = get(&lab.client, 9177, "/metrics");
    assert_eq!(
        metric(&bad, "healthd_config_last_reload_successful "),
        Some(0.0),
        "{bad}"
    );
    assert!(
        requests(&bad, &kept, "c").is_some_and(|n| n > kept_after),
        "{bad}"
    );
    let said = daemon.stop();
    assert!(said.contains("reload failed"), "{said}");
    assert!(said.contains("300.1.1.1"), "{said}");
}

fn a_name_that_does_not_resolve_is_said_once() {
    let lab = Lab::new("hdname");
    let live = Lab::host(Family::V4, 1);
    let dns = DnsResponder::start(&lab.client, &[("live.example", &[live])]);
    let dir = TempDir::new();
    let config = write(
        &dir,
        "healthd.json",
        &format!(
            r#"{{"name_servers": ["{}"],
                 "groups": [{{"hosts": ["live.example", "gone.example"], "period": 0.1}}]}}"#,
            dns.address()
        ),
    );
    let daemon = start(
        &lab.client,
        &["--config", path(&config), "--listen", "127.0.0.1:9177"],
    );
    std::thread::sleep(Duration::from_millis(1_500));
    let text = get(&lab.client, 9177, "/metrics");
    let said = daemon.stop();
    let lines = said
        .lines()
        .filter(|line| line.contains("gone.example"))
        .count();
    assert_eq!(lines, 1, "{said}");
    let live_labels = format!("{{host=\"live.example\",ip=\"{live}\",source=\"\"}}");
    assert_eq!(
        metric(&text, &format!("icmp_up{live_labels}")),
        Some(1.0),
        "{text}"
    );
    let failed = metric(
        &text,
        "icmp_send_errors_total{host=\"gone.example\",ip=\"\",source=\"\"}",
    );
    assert!(failed.is_some_and(|n| n >= 5.0), "{text}");
}

fn bad_input_is_refused_at_start() {
    let dir = TempDir::new();
    let config = |name: &str, text: &str| path(&write(&dir, name, text)).to_owned();
    let unknown = config(
        "unknown.json",
        r#"{"groups": [{"hosts": ["127.0.0.1"], "perid": 5}]}"#,
    );
    let label = config(
        "label.json",
        r#"{"groups": [{"hosts": ["127.0.0.1"], "labels": {"ip": "x"}}]}"#,
    );
    let period = config(
        "period.json",
        r#"{"groups": [{"hosts": ["127.0.0.1"], "period": 0.001}]}"#,
    );
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--config", &unknown], "unknown field"),
        (vec!["--config", &label], "healthd's own"),
        (vec!["--config", &period], "below the floor"),
        (vec!["--config", "/nonexistent/healthd.json"], "cannot read"),
        (vec!["bad_name!"], "neither an IP address nor a host name"),
        (vec!["300.1.1.1"], "neither an IP address nor a host name"),
        (vec!["127.1"], "short form of the address 127.0.0.1"),
        (vec!["0x7f000001"], "short form of the address 127.0.0.1"),
        (vec![""], "neither an IP address nor a host name"),
        (vec![], "no targets"),
        (
            vec!["--period", "0.000000001", "127.0.0.1"],
            "below the floor",
        ),
        (vec!["--period", "0", "127.0.0.1"], "greater than zero"),
        (vec!["--max-connections", "0", "127.0.0.1"], "at least 1"),
        (vec!["--listen", "nowhere", "127.0.0.1"], "invalid value"),
        (vec!["--metrics", "graphite", "127.0.0.1"], "invalid value"),
    ];
    for (args, says) in cases {
        let output = Command::new(example("healthd"))
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
