//! The traceroute example's continuous modes and what it shows beyond traceroute's
//! columns: `--report` against `mtr -r` on the same chain, `--live` piped, `--json` of a
//! report, MPLS labels from a router that sends them, and `--flows` through a per-flow
//! load balancer.

use crate::support;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use icmplib::Family;
use icmplib::packet::QuoteLayout;
use support::forger::Forger;
use support::{Balancer, Chain, example};

support::harness::tests![
    Root the_report_is_mtrs_and_live_mode_prints_a_line_per_round,
    Root labels_and_flows_are_shown,
];

const TIMEOUT: Duration = Duration::from_secs(60);

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The host column of a report's hop lines: `  1.|-- 192.0.2.2   0.0% ...` gives
/// `192.0.2.2`.
fn hosts(report: &str) -> Vec<String> {
    report
        .lines()
        .filter(|line| line.contains(".|-- "))
        .map(|line| line.split_whitespace().nth(1).unwrap_or("").to_string())
        .collect()
}

fn the_report_is_mtrs_and_live_mode_prints_a_line_per_round() {
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(3);
    chain.warm_up();
    chain.silence(2);
    let traceroute = example("traceroute");
    let target = chain.target(Family::V4).to_string();
    let common = ["-n", "-c", "5", "-i", "0.2", "-m", "8"];
    let ours = chain.client().run_program(
        &traceroute,
        &[
            &["--report", "-W", "0.5"][..],
            &common[..],
            &[target.as_str()],
        ]
        .concat(),
        TIMEOUT,
    );
    assert!(ours.status.success(), "{}", text(&ours));
    let mtr = chain.client().run_program(
        Path::new("mtr"),
        &[
            &["-r", "--timeout", "1"][..],
            &common[..],
            &[target.as_str()],
        ]
        .concat(),
        TIMEOUT,
    );
    let (ours, theirs) = (text(&ours), text(&mtr));
    // The same hops in the same places: routers 1 and 3, `???` for the silent one, the
    // host; 5 probes sent to each, the silent one 100 % lost.
    assert_eq!(
        hosts(&ours),
        hosts(&theirs),
        "ours:\n{ours}\nmtr:\n{theirs}"
    );
    let silent = ours.lines().find(|line| line.contains("???")).unwrap_or("");
    assert!(silent.contains("100.0%"), "{ours}");
    assert!(
        ours.lines()
            .filter(|line| line.contains(".|-- "))
            .all(|line| line.split_whitespace().nth(3) == Some("5")),
        "{ours}"
    );

    // Live, piped: a line per round.
    let live = chain.client().run_program(
        &traceroute,
        &[
            "-n", "--live", "-c", "3", "-i", "0.2", "-W", "0.5", "-m", "8", &target,
        ],
        TIMEOUT,
    );
    let lines: Vec<String> = String::from_utf8_lossy(&live.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 3, "{}", text(&live));
    for (round, line) in (1..).zip(&lines) {
        assert!(line.starts_with(&format!("round {round}: 1 ")), "{line}");
        assert!(line.contains(&format!("4 {target} 0.0%")), "{line}");
    }

    // JSON of a report: the last round's figures.
    let json = chain.client().run_program(
        &traceroute,
        &[
            "-n", "--report", "--json", "-c", "3", "-i", "0.2", "-W", "0.5", "-m", "8", &target,
        ],
        TIMEOUT,
    );
    let round: serde_json::Value = serde_json::from_slice(&json.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", text(&json)));
    assert_eq!(round["reached"], 4);
    let hops = round["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 4);
    assert_eq!(hops[1]["loss"], 1.0);
    assert_eq!(hops[3]["sent"], 3);
    assert_eq!(hops[3]["responders"][0]["address"], target.as_str());
}

fn labels_and_flows_are_shown() {
    if !support::require_root() {
        return;
    }
    let chain = Chain::new(2);
    chain.warm_up();
    let traceroute = example("traceroute");
    let target = chain.target(Family::V4).to_string();
    let _forger = Forger::start(&chain, 1, QuoteLayout::Rfc4884);
    let label = "[MPLS: Lbl 100 TC 0 S 1 TTL 1]";
    let trace = chain.client().run_program(
        &traceroute,
        &["-n", "-q", "1", "-W", "0.5", "-m", "5", &target],
        TIMEOUT,
    );
    let shown = text(&trace);
    let first = shown.lines().nth(1).unwrap_or("");
    assert!(
        first.starts_with(" 1  192.0.2.2 ") && first.contains(label),
        "{shown}"
    );
    assert_eq!(shown.matches("MPLS").count(), 1, "{shown}");
    let report = chain.client().run_program(
        &traceroute,
        &[
            "-n", "--report", "-c", "2", "-i", "0.2", "-W", "0.5", "-m", "5", &target,
        ],
        TIMEOUT,
    );
    assert!(
        text(&report).contains(&format!("    |      {label}")),
        "{}",
        text(&report)
    );
    drop(chain);

    // Eight flows through the balancer: both legs at distance 2, each with its flows.
    let lab = Balancer::new();
    let (_, legs, _) = lab.routers();
    let target = lab.target().to_string();
    let mut both = false;
    for _ in 0..3 {
        let trace = lab.client().run_program(
            &example("traceroute"),
            &[
                "-n", "--flows", "8", "-q", "1", "-W", "0.5", "-m", "6", &target,
            ],
            TIMEOUT,
        );
        let shown = text(&trace);
        let second: Vec<&str> = shown
            .lines()
            .filter(|line| line.starts_with(" 2  "))
            .collect();
        assert!(
            second.iter().all(|line| line.contains("  flows ")),
            "{shown}"
        );
        if second.len() == 2 {
            for leg in legs {
                assert!(
                    second
                        .iter()
                        .any(|line| line.starts_with(&format!(" 2  {leg} "))),
                    "{shown}"
                );
            }
            both = true;
            break;
        }
    }
    assert!(both, "eight flows over three traces all took one leg");
}
