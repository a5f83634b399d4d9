//! `examples/healthd`, run as a daemon inside the namespace lab and scraped over HTTP:
//! the figures of a live and a silent host, the transition of a host that gets blocked,
//! a clean stop on SIGTERM, and clear refusals of bad input.

use crate::support;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use icmplib::Family;
use support::{Lab, Netns, example};

support::harness::tests![
    Root metrics_and_status_of_live_silent_and_blocked_hosts,
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

fn start(netns: &Netns, args: &[&str]) -> Daemon {
    let program = example("healthd");
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    Daemon(netns.run(move || {
        Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }))
}

/// GETs `path` from the daemon on the namespace's loopback, retrying while it starts.
fn get(netns: &Netns, path: &str) -> String {
    let url = format!("http://127.0.0.1:9177{path}");
    netns.run(move || {
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            match ureq::get(&url).call() {
                Ok(mut response) => return response.body_mut().read_to_string().unwrap(),
                Err(error) if Instant::now() > give_up => panic!("GET {url}: {error}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    })
}

/// The value of the metric line that starts with `prefix` (name and labels).
fn metric(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

fn block(netns: &Netns, host: std::net::IpAddr) {
    netns.nft(&format!(
        "table inet hd {{\n chain input {{\n type filter hook input priority -10;\n \
         ip daddr {host} icmp type echo-request drop\n }}\n}}\n"
    ));
}

fn metrics_and_status_of_live_silent_and_blocked_hosts() {
    if !support::require_root() {
        return;
    }
    let lab = Lab::new("healthd");
    let live = Lab::host(Family::V4, 1).to_string();
    let silent = Lab::host(Family::V4, 2);
    let flaky = Lab::host(Family::V4, 3).to_string();
    lab.target.nft(&format!(
        "table inet quiet {{\n chain input {{\n type filter hook input priority -10;\n \
         ip daddr {silent} icmp type echo-request drop\n }}\n}}\n"
    ));
    let silent = silent.to_string();
    let config = std::env::temp_dir().join(format!("healthd-{}.json", std::process::id()));
    std::fs::File::create(&config)
        .unwrap()
        .write_all(
            format!(
                r#"{{"period_ms": 200, "timeout_ms": 150, "down_after": 2,
                    "targets": [{{"name": "live", "target": "{live}"}},
                                {{"name": "silent", "target": "{silent}"}}]}}"#
            )
            .as_bytes(),
        )
        .unwrap();
    let mut daemon = start(
        &lab.client,
        &[
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:9177",
            &flaky,
            "127.0.0.1",
        ],
    );
    std::thread::sleep(Duration::from_millis(1_500));
    let text = get(&lab.client, "/metrics");
    let live_labels = format!("{{name=\"live\",target=\"{live}\"}}");
    let silent_labels = format!("{{name=\"silent\",target=\"{silent}\"}}");
    let flaky_labels = format!("{{name=\"{flaky}\",target=\"{flaky}\"}}");
    assert_eq!(
        metric(&text, &format!("icmp_up{live_labels}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, &format!("icmp_up{silent_labels}")),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, &format!("icmp_up{flaky_labels}")),
        Some(1.0),
        "{text}"
    );
    let loopback = "{name=\"127.0.0.1\",target=\"127.0.0.1\"}";
    assert_eq!(
        metric(&text, &format!("icmp_up{loopback}")),
        Some(1.0),
        "{text}"
    );
    let loopback_rtt = metric(&text, &format!("icmp_rtt_seconds_sum{loopback}")).unwrap();
    assert!(loopback_rtt > 0.0 && loopback_rtt < 0.1, "{text}");
    let sent = metric(&text, &format!("icmp_probes_sent_total{live_labels}")).unwrap();
    let replies = metric(&text, &format!("icmp_replies_total{live_labels}")).unwrap();
    assert!(sent >= 5.0 && replies == sent, "{text}");
    assert_eq!(
        metric(&text, &format!("icmp_replies_total{silent_labels}")),
        None,
        "{text}"
    );
    assert!(metric(&text, &format!("icmp_probes_sent_total{silent_labels}")).unwrap() >= 5.0);
    assert_eq!(
        metric(&text, &format!("icmp_reply_ttl{live_labels}")),
        Some(64.0)
    );
    let count = metric(&text, &format!("icmp_rtt_seconds_count{live_labels}")).unwrap();
    assert_eq!(count, replies);

    let status: serde_json::Value = serde_json::from_str(&get(&lab.client, "/status")).unwrap();
    let targets = status["targets"].as_array().unwrap();
    let by_name = |name: &str| {
        targets
            .iter()
            .find(|target| target["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("live")["up"], true);
    assert_eq!(by_name("live")["packet_loss"], 0.0);
    assert!(by_name("live")["p99"].as_f64().unwrap() > 0.0);
    assert_eq!(by_name("silent")["up"], false);
    assert_eq!(by_name("silent")["received"], 0);

    // The flaky host gets blocked: down within a few periods.
    block(&lab.target, flaky.parse().unwrap());
    std::thread::sleep(Duration::from_millis(1_000));
    let text = get(&lab.client, "/metrics");
    assert_eq!(
        metric(&text, &format!("icmp_up{flaky_labels}")),
        Some(0.0),
        "{text}"
    );

    // SIGTERM: a clean stop.
    let pid = daemon.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let give_up = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = daemon.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < give_up, "healthd did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_file(&config);
}

fn bad_input_is_refused_at_start() {
    let dir = std::env::temp_dir();
    let bad_json = dir.join(format!("healthd-bad-{}.json", std::process::id()));
    std::fs::write(
        &bad_json,
        r#"{"targets": [{"target": "127.0.0.1"}], "perid_ms": 5}"#,
    )
    .unwrap();
    for (args, says) in [
        (
            vec!["--config", bad_json.to_str().unwrap()],
            "unknown field",
        ),
        (vec!["--config", "/nonexistent/healthd.json"], "cannot read"),
        (vec!["bad_name!"], "neither an IP address nor a host name"),
        (vec![], "no targets"),
        (vec!["127.0.0.1", "127.0.0.1"], "given twice"),
        (vec!["--listen", "nowhere", "127.0.0.1"], "invalid value"),
    ] {
        let output = Command::new(example("healthd"))
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let _ = std::fs::remove_file(&bad_json);
}
