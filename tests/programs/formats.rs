//! The examples beside the tools they follow: `ping` and iputils ping, `multiping` and
//! fping, `traceroute` and traceroute(8), run on the same targets inside namespaces made
//! here. What depends on time (round trips, elapsed times) is compared by its shape:
//! every number becomes `N`, with its decimals kept as `N.ddd` where their count is part
//! of the format; addresses, counts, loss, TTLs and byte counts are compared as they are.

use crate::support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use icmplib::Family;
use support::{Chain, Netns, Reject, example};

support::harness::tests![
    Nothing shape_keeps_what_it_is_told,
    Root ping_lines_match_iputils_ping,
    Root multiping_lines_match_fping,
    Root traceroute_lines_match_traceroute,
];

const TIMEOUT: Duration = Duration::from_secs(60);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn both(output: &Output) -> String {
    support::output_text(output)
}

/// `text` with each number (`12`, `0.045`) made `N`, and its decimals `d` when `decimals`
/// is true (`N.ddd`); `keep` is left as it is (an address holds numbers too).
fn shape(text: &str, keep: &[&str], decimals: bool) -> String {
    let mut out = String::new();
    let mut rest = text;
    'outer: while let Some(c) = rest.chars().next() {
        for kept in keep {
            if !kept.is_empty() && rest.starts_with(kept) {
                out.push_str(kept);
                rest = &rest[kept.len()..];
                continue 'outer;
            }
        }
        if c.is_ascii_digit() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            rest = &rest[digits..];
            out.push('N');
            let fraction = rest.strip_prefix('.').map_or(0, |after| {
                after.bytes().take_while(u8::is_ascii_digit).count()
            });
            if fraction > 0 {
                out.push('.');
                if decimals {
                    out.push_str(&"d".repeat(fraction));
                }
                rest = &rest[1 + fraction..];
            }
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// A silent documentation address in `netns`: routed to loopback, owned by nobody.
fn with_silent_range(netns: &Netns) -> &'static str {
    netns.ip(&["route", "add", "198.51.100.0/24", "dev", "lo"]);
    "198.51.100.5"
}

fn shape_keeps_what_it_is_told() {
    assert_eq!(
        shape("64 bytes from ::1: time=0.040 ms, 12ms", &["::1"], true),
        "N bytes from ::1: time=N.ddd ms, Nms"
    );
    assert_eq!(shape("1/1/0%, 0.04/5", &[], false), "N/N/N%, N./N");
}

/// iputils ping and our ping print the same lines: header, replies with TTL and a time of
/// three decimals, nothing for a lost request, the statistics and `rtt min/avg/max/mdev`.
fn ping_lines_match_iputils_ping() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("fmtping");
    let silent = with_silent_range(&netns);
    let ours = example("ping");
    for address in ["127.0.0.1", "::1", silent] {
        let args = ["-c", "3", "-i", "0.2", "-W", "0.2", address];
        let theirs = netns.run_program(Path::new("ping"), &args, TIMEOUT);
        let mine = netns.run_program(&ours, &args, TIMEOUT);
        assert_eq!(mine.status.code(), theirs.status.code(), "{}", both(&mine));
        let (theirs, mine) = (text(&theirs.stdout), text(&mine.stdout));
        // A reply's `time=` has fewer decimals as it grows (`0.040`, `1.23`): what each
        // run's loopback took decides, so only the `rtt` line's three decimals are compared.
        let ping_shape = |text: &str| -> Vec<String> {
            text.lines()
                .map(|line| shape(line, &[address], line.starts_with("rtt ")))
                .collect()
        };
        assert_eq!(
            ping_shape(&mine),
            ping_shape(&theirs),
            "ours:\n{mine}\niputils:\n{theirs}"
        );
        // Exact where it does not depend on time.
        let counts = |text: &str| -> Vec<String> {
            text.lines()
                .map(|line| line.split(" time").next().unwrap_or("").to_string())
                .filter(|line| line.contains("packets transmitted") || line.contains("ttl="))
                .collect()
        };
        assert_eq!(counts(&mine), counts(&theirs), "{mine}\n{theirs}");
        if address != silent {
            assert!(mine.contains("ttl=64 time="), "{mine}");
        }
    }
}

/// fping and our multiping print the same lines: `-c` (per probe on stdout, statistics
/// on stderr), `-C -q`, the default `is alive`, `-a`, `-u` and `-s`.
fn multiping_lines_match_fping() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("fmtfping");
    let silent = with_silent_range(&netns);
    let ours = example("multiping");
    let targets = ["127.0.0.1", silent, "::1"];
    let keep = [&targets[..], &["%loss", "ICMP"]].concat();
    let cases: [(&[&str], &[&str]); 6] = [
        (
            &["-c", "2", "-p", "200", "-t", "100"],
            &["-c", "2", "-i", "0.2", "-W", "0.1"],
        ),
        (
            &["-C", "3", "-q", "-p", "200", "-t", "100"],
            &["-C", "3", "-q", "-i", "0.2", "-W", "0.1"],
        ),
        (&["-t", "100", "-r", "0"], &["-W", "0.1"]),
        (&["-a", "-t", "100", "-r", "0"], &["-a", "-W", "0.1"]),
        (&["-u", "-t", "100", "-r", "0"], &["-u", "-W", "0.1"]),
        (
            &["-s", "-q", "-c", "2", "-p", "200", "-t", "100"],
            &["-s", "-q", "-c", "2", "-i", "0.2", "-W", "0.1"],
        ),
    ];
    for (fping_args, our_args) in cases {
        let theirs = netns.run_program(
            Path::new("fping"),
            &[fping_args, &targets[..]].concat(),
            TIMEOUT,
        );
        let mine = netns.run_program(&ours, &[our_args, &targets[..]].concat(), TIMEOUT);
        assert_eq!(
            mine.status.code(),
            theirs.status.code(),
            "{our_args:?}: {}",
            both(&mine)
        );
        // Per-probe lines: the hosts of a round may come in any order.
        let lines = |output: &Output| {
            let mut lines: Vec<String> = text(&output.stdout)
                .lines()
                .map(|line| shape(line, &keep, false))
                .collect();
            lines.sort();
            lines
        };
        assert_eq!(
            lines(&mine),
            lines(&theirs),
            "{our_args:?} stdout\nours:\n{}\nfping:\n{}",
            text(&mine.stdout),
            text(&theirs.stdout)
        );
        assert_eq!(
            shape(&text(&mine.stderr), &keep, false),
            shape(&text(&theirs.stderr), &keep, false),
            "{our_args:?} stderr\nours:\n{}\nfping:\n{}",
            text(&mine.stderr),
            text(&theirs.stderr)
        );
    }
    // Exact where it does not depend on time: the counts and the lost probes.
    let args = ["-C", "2", "-q", "-i", "0.2", "-W", "0.1"];
    let mine = netns.run_program(&ours, &[&args[..], &targets[..]].concat(), TIMEOUT);
    let stderr = text(&mine.stderr);
    assert!(stderr.contains("198.51.100.5 : - -\n"), "{stderr}");
    let mine = netns.run_program(
        &ours,
        &[
            &["-q", "-c", "2", "-i", "0.2", "-W", "0.1"][..],
            &targets[..],
        ]
        .concat(),
        TIMEOUT,
    );
    let stderr = text(&mine.stderr);
    for line in [
        "127.0.0.1    : xmt/rcv/%loss = 2/2/0%, min/avg/max = ",
        "198.51.100.5 : xmt/rcv/%loss = 2/0/100%\n",
        "::1          : xmt/rcv/%loss = 2/2/0%, min/avg/max = ",
    ] {
        assert!(stderr.contains(line), "{line}\n{stderr}");
    }
}

/// traceroute -I -n and our traceroute print the same lines through a chain: times with
/// three decimals, `*` for a silent router, `!H` for a host unreachable.
fn traceroute_lines_match_traceroute() {
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(3);
    chain.warm_up();
    chain.silence(2);
    let ours = example("traceroute");
    let rejected = chain
        .rejected(Reject::HostUnreachable, Family::V4)
        .to_string();
    let targets = [
        chain.target(Family::V4).to_string(),
        chain.target(Family::V6).to_string(),
        rejected,
    ];
    for target in &targets {
        let common = ["-n", "-q", "2", "-w", "0.5", "-m", "6"];
        let theirs = chain.client().run_program(
            Path::new("traceroute"),
            &[&["-I"][..], &common[..], &[target.as_str()]].concat(),
            TIMEOUT,
        );
        let mine = chain.client().run_program(
            &ours,
            &[&["-i", "0"][..], &common[..], &[target.as_str()]].concat(),
            TIMEOUT,
        );
        let (theirs, mine) = (text(&theirs.stdout), text(&mine.stdout));
        // The header's packet size is the probe's: ours carries 56 bytes of data as ping.
        let body = |text: &str| text.lines().skip(1).map(str::to_string).collect::<Vec<_>>();
        let shapes = |text: &str| {
            body(text)
                .iter()
                .map(|line| shape(line, &[], true))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            shapes(&mine),
            shapes(&theirs),
            "ours:\n{mine}\ntraceroute:\n{theirs}"
        );
        let addresses = |text: &str| {
            body(text)
                .iter()
                .map(|line| line.split_whitespace().nth(1).unwrap_or("").to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(addresses(&mine), addresses(&theirs), "{mine}\n{theirs}");
        assert_eq!(
            shape(mine.lines().next().unwrap_or(""), &[target], false),
            shape(theirs.lines().next().unwrap_or(""), &[target], false)
        );
    }
}
