//! The command-line examples, run as programs inside private namespaces: their output,
//! JSON and exit status.

use crate::support;

use std::process::Output;
use std::time::Duration;

use icmplib::Family;
use support::{Craft, Netns, Reply, SimulatedNet, example};

support::harness::tests![
    Root ping_prints_replies_and_a_summary,
    Root ping_exit_status_says_alive_down_or_error,
    Root ping_unprivileged_as_a_normal_user,
    Root multiping_summary_counts_a_sweep,
    Root multiping_json_keeps_input_order_and_exit_status,
    Root multiping_prints_each_target_as_given,
    Root examples_keep_the_zone_of_a_link_local_target,
    Root examples_say_what_is_wrong_with_their_input,
    Root traceroute_prints_the_path_like_traceroute,
    Root multiping_without_file_descriptors_fails_as_a_whole,
    Root multiping_loops_like_fping,
];

const TIMEOUT: Duration = Duration::from_secs(60);

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}\n{}", stdout(output), stderr(output)))
}

fn check_ping_json(host: &serde_json::Value, address: &str, count: u64) {
    assert_eq!(host["address"], address);
    assert_eq!(host["packets_sent"], count);
    assert_eq!(host["packets_received"], count);
    assert_eq!(host["is_alive"], true);
    assert!(host["error"].is_null());
    let (min, avg, max) = (
        host["min_rtt"].as_f64().unwrap(),
        host["avg_rtt"].as_f64().unwrap(),
        host["max_rtt"].as_f64().unwrap(),
    );
    assert!(min <= avg && avg <= max, "{host}");
    assert_eq!(host["rtts"].as_array().unwrap().len() as u64, count);
    let mut fields: Vec<&str> = host
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "address",
            "avg_rtt",
            "duplicates",
            "error",
            "is_alive",
            "jitter",
            "max_rtt",
            "min_rtt",
            "packet_loss",
            "packets_received",
            "packets_sent",
            "rtts",
            "stddev",
            "target"
        ]
    );
    assert_eq!(host["target"], address);
    check_no_float_noise(host);
}

/// Round-trip times in JSON are the decimals they are, at most to the
/// nanosecond (`0.005909`, not `0.005908999999999999`).
fn check_no_float_noise(host: &serde_json::Value) {
    for rtt in host["rtts"].as_array().unwrap() {
        let text = rtt.to_string();
        let decimals = text
            .split_once('.')
            .map_or(0, |(_, decimals)| decimals.len());
        assert!(decimals <= 6, "{text} in {host}");
    }
}

fn ping_prints_replies_and_a_summary() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("exping");
    let ping = example("ping");
    for address in ["127.0.0.1", "::1"] {
        let output = netns.run_program(&ping, &["-c", "5", "-i", "0.05", address], TIMEOUT);
        assert!(
            output.status.success(),
            "{}{}",
            stdout(&output),
            stderr(&output)
        );
        let text = stdout(&output);
        let replies = text
            .lines()
            .filter(|line| line.starts_with(&format!("64 bytes from {address}: icmp_seq=")))
            .count();
        assert_eq!(replies, 5, "{text}");
        assert!(
            text.contains(&format!(
                "--- {address} ping statistics ---\n5 packets transmitted, 5 received, 0% packet loss"
            )),
            "{text}"
        );

        let output = netns.run_program(
            &ping,
            &["-c", "5", "-i", "0.05", "--json", address],
            TIMEOUT,
        );
        assert!(output.status.success());
        check_ping_json(&json(&output), address, 5);
        assert!(
            stderr(&output).contains("icmp_seq=5"),
            "progress goes to stderr"
        );
    }
}

/// Host `n` of the simulated network, scripted to be reported unreachable (host
/// unreachable, code 1) by the router 198.51.100.254.
fn unreachable_host(net: &SimulatedNet, n: u8) -> std::net::IpAddr {
    let host = SimulatedNet::host(Family::V4, n);
    net.script(
        host,
        vec![Reply::after(
            0,
            Craft::Unreachable {
                from: SimulatedNet::host(Family::V4, 254),
                code: 1,
            },
        )],
    );
    host
}

fn ping_exit_status_says_alive_down_or_error() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("exstat");
    let net = SimulatedNet::new(&netns);
    let unreachable = unreachable_host(&net, 7);
    let silent = SimulatedNet::host(Family::V4, 8).to_string();
    let ping = example("ping");
    let output = netns.run_program(
        &ping,
        &["-c", "2", "-i", "0", "-W", "0.2", &silent],
        TIMEOUT,
    );
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    // As iputils ping: nothing for a lost request, the loss in the statistics.
    assert!(!stdout(&output).contains("icmp_seq"), "{}", stdout(&output));
    assert!(stdout(&output).contains("2 packets transmitted, 0 received, 100% packet loss"));

    let output = netns.run_program(
        &ping,
        &["-c", "1", "--json", &unreachable.to_string()],
        TIMEOUT,
    );
    assert_eq!(output.status.code(), Some(1));
    let host = json(&output);
    assert_eq!(host["is_alive"], false);
    assert_eq!(
        host["error"],
        "Destination host unreachable (from 198.51.100.254)"
    );

    for bad in [
        &["-c", "0", "127.0.0.1"][..],
        &["-W", "0", "127.0.0.1"],
        &["-s", "70000", "127.0.0.1"],
    ] {
        let output = netns.run_program(&ping, bad, TIMEOUT);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{bad:?}: {}",
            stderr(&output)
        );
    }
}

fn ping_unprivileged_as_a_normal_user() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("exunpr");
    netns.allow_unprivileged_ping();
    let ping = example("ping");
    for address in ["127.0.0.1", "::1"] {
        let args = ["-c", "5", "-i", "0.05", "--unprivileged", "--json", address];
        let output = netns.run_unprivileged(&ping, &args, &[], TIMEOUT);
        assert!(output.status.success(), "{}", stderr(&output));
        check_ping_json(&json(&output), address, 5);
        // Without the flag, the automatic default finds datagram sockets too.
        let args = ["-c", "2", "-i", "0.05", "--json", address];
        let output = netns.run_unprivileged(&ping, &args, &[], TIMEOUT);
        assert!(output.status.success(), "{}", stderr(&output));
        check_ping_json(&json(&output), address, 2);
    }
    // Where the system admits neither kind, the error names both ways.
    let closed = Netns::new("exclosed");
    let output = closed.run_unprivileged(&ping, &["-c", "1", "127.0.0.1"], &[], TIMEOUT);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("CAP_NET_RAW") && message.contains("ping_group_range"),
        "{message}"
    );
}

fn multiping_summary_counts_a_sweep() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("exmp");
    let multiping = example("multiping");
    let args = [
        "--summary",
        "--concurrency",
        "1000",
        "-c",
        "1",
        "-W",
        "1",
        "127.1.0.0/20",
    ];
    let output = netns.run_program(&multiping, &args, TIMEOUT);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let text = stdout(&output);
    assert!(
        text.starts_with(
            "summary: hosts=4094 alive=4094 down=0 sent=4094 received=4094 elapsed_s="
        ),
        "{text}"
    );
    assert_eq!(
        text.lines().count(),
        1,
        "only the summary on stdout: {text}"
    );
}

fn multiping_json_keeps_input_order_and_exit_status() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("exmpj");
    let net = SimulatedNet::new(&netns);
    let unreachable = unreachable_host(&net, 9);
    net.script(
        SimulatedNet::host(Family::V6, 5),
        vec![Reply::after(30, Craft::Good)],
    );
    let silent = SimulatedNet::host(Family::V4, 10).to_string();
    let slow6 = SimulatedNet::host(Family::V6, 5).to_string();
    let unreachable = unreachable.to_string();
    let multiping = example("multiping");
    // A /30 is its two host addresses, as fping -g; the slow IPv6 host finishes last
    // but is printed in its place.
    let args = [
        "--json",
        "-c",
        "1",
        "-W",
        "0.3",
        "--concurrency",
        "10",
        &slow6,
        "127.0.0.0/30",
        &silent,
        &unreachable,
        "::1",
    ];
    let output = netns.run_program(&multiping, &args, TIMEOUT);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let hosts = json(&output);
    let hosts = hosts.as_array().unwrap();
    let addresses: Vec<&str> = hosts
        .iter()
        .map(|h| h["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        addresses,
        [
            slow6.as_str(),
            "127.0.0.1",
            "127.0.0.2",
            &silent,
            &unreachable,
            "::1"
        ]
    );
    let alive: Vec<bool> = hosts
        .iter()
        .map(|h| h["is_alive"].as_bool().unwrap())
        .collect();
    assert_eq!(alive, [true, true, true, false, false, true]);
    assert!(hosts[3]["error"].is_null());
    assert_eq!(
        hosts[4]["error"],
        "Destination host unreachable (from 198.51.100.254)"
    );

    // Targets from a file, with a comment; all alive: exit status 0.
    let list = std::env::temp_dir().join(format!("icmplib-targets-{}", std::process::id()));
    std::fs::write(
        &list,
        "# loopback\n127.0.0.1\n\n::1  # IPv6\n127.0.0.8/31\n",
    )
    .unwrap();
    let output = netns.run_program(
        &multiping,
        &["-c", "1", "-f", list.to_str().unwrap()],
        TIMEOUT,
    );
    let _ = std::fs::remove_file(&list);
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    // fping -c: a line per reply, then each host's statistics on stderr in input order.
    assert_eq!(stdout(&output).lines().count(), 4, "{}", stdout(&output));
    let lines: Vec<String> = stderr(&output).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    for (line, address) in lines[1..]
        .iter()
        .zip(["127.0.0.1", "::1", "127.0.0.8", "127.0.0.9"])
    {
        assert!(
            line.starts_with(&format!(
                "{address:9} : xmt/rcv/%loss = 1/1/0%, min/avg/max = "
            )),
            "{line}"
        );
    }

    // Bad input: exit status 2.
    for bad in [
        &["--concurrency", "0", "127.0.0.1"][..],
        &["127.0.0.0/33"],
        &["-f", "/nonexistent/list"],
    ] {
        let output = netns.run_program(&multiping, bad, TIMEOUT);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{bad:?}: {}",
            stderr(&output)
        );
    }
}

/// A host pinged by name is printed by its name, as fping does,
/// not as a second line with the same address; its JSON keeps the target as given; no
/// progress is written when standard error is not a terminal.
fn multiping_prints_each_target_as_given() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("exmpt");
    let multiping = example("multiping");
    // Two requests 1.2 s apart: the hosts finish after more than a second, when
    // progress used to be written whatever standard error was.
    let args = ["-i", "1.2", "127.0.0.1", "localhost", "127.0.0.0/30"];
    let output = netns.run_program(&multiping, &args, TIMEOUT);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    for (line, shown) in lines
        .iter()
        .zip(["127.0.0.1", "localhost", "127.0.0.1", "127.0.0.2"])
    {
        assert_eq!(*line, format!("{shown} is alive"), "{text}");
    }
    assert_eq!(
        stderr(&output),
        "",
        "nothing but results when not on a terminal"
    );

    let output = netns.run_program(
        &multiping,
        &["--json", "-c", "3", "-i", "0", "127.0.0.1", "localhost"],
        TIMEOUT,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let hosts = json(&output);
    let hosts = hosts.as_array().unwrap();
    let targets: Vec<(&str, &str)> = hosts
        .iter()
        .map(|host| {
            (
                host["target"].as_str().unwrap(),
                host["address"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        targets,
        [("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1")]
    );
    hosts.iter().for_each(check_no_float_noise);
}

/// A link-local target keeps its zone through the examples: it says which link to use.
fn examples_keep_the_zone_of_a_link_local_target() {
    if !support::require_root() {
        return;
    }
    let (client, target) = support::veth_pair("exll");
    client.ip_batch("addr add fe80::1/64 dev out nodad");
    target.ip_batch("addr add fe80::2/64 dev in nodad");
    let output = client.run_program(
        &example("ping"),
        &["-c", "2", "-i", "0", "fe80::2%out"],
        TIMEOUT,
    );
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("2 packets transmitted, 2 received"),
        "{}",
        stdout(&output)
    );
    let output = client.run_program(
        &example("traceroute"),
        &["-n", "-q", "1", "-m", "3", "fe80::2%out"],
        TIMEOUT,
    );
    assert!(
        output.status.success(),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let text = stdout(&output);
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|line| line.starts_with(" 1  fe80::2%out  ")),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");
}

/// Input the examples cannot use is refused with a message that says
/// what is wrong, and exit status 2; a TOS in hex is taken.
fn examples_say_what_is_wrong_with_their_input() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("exbad");
    let (ping, multiping) = (example("ping"), example("multiping"));
    let output = netns.run_program(&ping, &["-c", "1", "-Q", "0x10", "127.0.0.1"], TIMEOUT);
    assert!(output.status.success(), "{}", stderr(&output));
    let empty = std::env::temp_dir().join(format!("icmplib-empty-{}", std::process::id()));
    let bad_block = std::env::temp_dir().join(format!("icmplib-block-{}", std::process::id()));
    std::fs::write(&empty, "# nothing but a comment\n\n").unwrap();
    std::fs::write(&bad_block, "127.0.0.1\n10.0.0.0/33\n").unwrap();
    let (empty_path, bad_block_path) = (
        empty.to_str().unwrap().to_string(),
        bad_block.to_str().unwrap().to_string(),
    );
    let cases: [(&std::path::Path, Vec<&str>, &str); 7] = [
        (
            &ping,
            vec!["-c", "1", "-Q", "0x1ff", "127.0.0.1"],
            "is not a byte",
        ),
        (
            &ping,
            vec!["-c", "1", "-I", "::1", "127.0.0.1"],
            "::1 cannot reach an IPv4 address",
        ),
        (
            &ping,
            vec!["-c", "1", "-6", "127.0.0.1"],
            "127.0.0.1 is an IPv4 address",
        ),
        (
            &multiping,
            vec!["-c", "1", "10.0.0.0/33"],
            "'10.0.0.0/33' is not a CIDR block",
        ),
        (
            &multiping,
            vec!["-f", "/dev/null"],
            "no targets in /dev/null",
        ),
        (&multiping, vec!["-f", &empty_path], "no targets in"),
        (
            &multiping,
            vec!["-c", "1", "-f", &bad_block_path],
            "'10.0.0.0/33' is not a CIDR block",
        ),
    ];
    let outputs: Vec<_> = cases
        .iter()
        .map(|(program, args, _)| netns.run_program(program, args, TIMEOUT))
        .collect();
    let _ = std::fs::remove_file(&empty);
    let _ = std::fs::remove_file(&bad_block);
    for ((_, args, message), output) in cases.iter().zip(outputs) {
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(message),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            !stderr(&output).contains("Socket error"),
            "{}",
            stderr(&output)
        );
    }
}

fn traceroute_prints_the_path_like_traceroute() {
    if !support::require_root() {
        return;
    }
    let chain = support::Chain::new(3);
    chain.warm_up();
    chain.client().allow_unprivileged_ping();
    // Router 2 never answers: its line is stars.
    chain.silence(2);
    let traceroute = example("traceroute");
    for family in [Family::V4, Family::V6] {
        let target = chain.target(family).to_string();
        let args = [
            "-n",
            "-q",
            "2",
            "-W",
            "0.5",
            "-i",
            "0",
            "-m",
            "8",
            target.as_str(),
        ];
        let output = chain.client().run_program(&traceroute, &args, TIMEOUT);
        assert!(
            output.status.success(),
            "{}{}",
            stdout(&output),
            stderr(&output)
        );
        let text = stdout(&output);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with(&format!("traceroute to {target} ({target}), 8 hops max")),
            "{text}"
        );
        assert!(
            lines[1].starts_with(&format!(" 1  {}  ", chain.hop_address(1, family))),
            "{text}"
        );
        assert_eq!(lines[2], " 2  * *", "{text}");
        assert!(
            lines[3].starts_with(&format!(" 3  {}  ", chain.hop_address(3, family))),
            "{text}"
        );
        assert!(lines[4].starts_with(&format!(" 4  {target}  ")), "{text}");
        assert_eq!(lines.len(), 5, "{text}");

        // JSON, unprivileged, all hops at once.
        let args = [
            "-n",
            "--json",
            "--unprivileged",
            "--parallel",
            "-W",
            "0.5",
            "-m",
            "8",
            target.as_str(),
        ];
        let output = chain
            .client()
            .run_unprivileged(&traceroute, &args, &[], TIMEOUT);
        assert!(output.status.success(), "{}", stderr(&output));
        let hops = json(&output);
        let hops: Vec<(u64, String)> = hops
            .as_array()
            .unwrap()
            .iter()
            .map(|hop| {
                (
                    hop["distance"].as_u64().unwrap(),
                    hop["address"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let expected: Vec<(u64, String)> = [1, 3, 4]
            .into_iter()
            .map(|d| (d as u64, chain.hop_address(d, family).to_string()))
            .collect();
        assert_eq!(hops, expected);
    }
    // A trace that does not reach its host shows every distance up to
    // the hop limit, as traceroute does, `* *` where nobody answered (the last router
    // drops this address's packets without a word, and router 2 is silent).
    for family in [Family::V4, Family::V6] {
        let silent = chain.silent(family).to_string();
        let args = ["-n", "--parallel", "-W", "0.5", "-m", "5", silent.as_str()];
        let output = chain.client().run_program(&traceroute, &args, TIMEOUT);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let text = stdout(&output);
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(
            lines[0].starts_with(&format!(" 1  {}  ", chain.hop_address(1, family))),
            "{text}"
        );
        assert_eq!(lines[1], " 2  * *", "{text}");
        assert!(
            lines[2].starts_with(&format!(" 3  {}  ", chain.hop_address(3, family))),
            "{text}"
        );
        assert_eq!(&lines[3..], [" 4  * *", " 5  * *"], "{text}");
    }
    // Not reached within the hop limit: exit status 1; a bad option: 2.
    let target = chain.target(Family::V4).to_string();
    let output = chain.client().run_program(
        &traceroute,
        &["-n", "-m", "2", "-W", "0.5", &target],
        TIMEOUT,
    );
    assert_eq!(output.status.code(), Some(1));
    let output = chain
        .client()
        .run_program(&traceroute, &["-f", "0", &target], TIMEOUT);
    assert_eq!(output.status.code(), Some(2));
}

/// With no file descriptor left for its socket, multiping marked every
/// host down and exited 1. It must fail as a whole: exit 2, with a message naming the
/// limit. Tried at each limit from a few descriptors up to enough: every run exits 0 (it
/// had enough) or 2, never 1, and some run names its limit.
fn multiping_without_file_descriptors_fails_as_a_whole() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("exfds");
    let multiping = example("multiping");
    let shell = std::path::Path::new("/bin/sh");
    let mut named = Vec::new();
    for limit in 5..=16 {
        let script = format!("ulimit -n {limit} && exec \"$0\" -c 1 -W 1 127.0.0.1 ::1");
        let output = netns.run_program(
            shell,
            &["-c", &script, &multiping.to_string_lossy()],
            TIMEOUT,
        );
        let code = output.status.code();
        assert!(
            matches!(code, Some(0 | 2)),
            "ulimit -n {limit}: exit {code:?}\n{}{}",
            stdout(&output),
            stderr(&output)
        );
        if code == Some(0) {
            break;
        }
        if stderr(&output).contains(&format!("may have {limit}, RLIMIT_NOFILE")) {
            named.push(limit);
        }
    }
    assert!(
        !named.is_empty(),
        "no run said it ran out of file descriptors"
    );
}

/// fping's loop mode, a line per reply or timeout, `-c` rounds.
fn multiping_loops_like_fping() {
    if !support::require_root() {
        return;
    }
    let netns = Netns::new("exloop");
    // A silent address: routed to loopback, owned by nobody.
    netns.ip(&["route", "add", "198.51.100.0/24", "dev", "lo"]);
    let multiping = example("multiping");
    let args = ["--loop", "--period", "0.2", "-c", "3", "-W", "0.15"];
    let output = netns.run_program(
        &multiping,
        &[&args[..], &["127.0.0.1", "::1", "198.51.100.5"]].concat(),
        TIMEOUT,
    );
    // One target never answered.
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 9, "{text}");
    // fping's ICMP size, 64 bytes in both families; names padded to the longest.
    for target in ["127.0.0.1", "::1"] {
        for seq in 0..3 {
            let prefix = format!("{target:12} : [{seq}], 64 bytes, ");
            assert!(
                lines.iter().any(|line| line.starts_with(&prefix)),
                "{prefix}\n{text}"
            );
        }
        assert!(text.contains(&format!("{target:12} : [2]")) && text.contains("0% loss)"));
    }
    for seq in 0..3 {
        let line = format!("198.51.100.5 : [{seq}], timed out (NaN avg, 100% loss)");
        assert!(lines.contains(&line.as_str()), "{line}\n{text}");
    }

    let json_args = [
        "--loop",
        "--period",
        "0.2",
        "-c",
        "2",
        "--json",
        "127.0.0.1",
    ];
    let output = netns.run_program(&multiping, &json_args, TIMEOUT);
    assert!(output.status.success(), "{}", stderr(&output));
    let events: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(events.len(), 2);
    for (seq, event) in events.iter().enumerate() {
        assert_eq!(event["seq"], seq);
        assert_eq!(event["event"], "reply");
        assert_eq!(event["ttl"], 64);
        assert!(event["rtt_ms"].as_f64().unwrap() > 0.0);
    }
}
