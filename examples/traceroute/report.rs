//! The continuous modes of the traceroute example: `--report`, mtr's `-r` table after its
//! rounds, and `--live`, the table redrawn in place on a terminal after each round (one
//! line per round when the output is not a terminal).

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};

use icmplib::{HopStats, Responder, RouteRound};

/// mtr's report header, over the columns of [`line`].
fn header() -> String {
    format!(
        "{:8}{:<30} {:>6} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "", "Host", "Loss%", "Snt", "Last", "Avg", "Best", "Wrst", "StDev"
    )
}

/// A figure in milliseconds as mtr prints it (one decimal), or 0.0 when absent.
fn ms(value: Option<f64>) -> String {
    format!("{:.1}", value.unwrap_or(0.0))
}

/// How a responder is shown: its name and address, or its address.
fn shown(responder: &Responder, numeric: bool) -> String {
    match (&responder.name, numeric) {
        (Some(name), false) => format!("{name} ({})", responder.address),
        _ => responder.address.to_string(),
    }
}

/// The table of `round`, as `mtr -r` prints it: a line per distance (`???` where nobody
/// answered), the other routers seen there on lines of their own, MPLS labels under their
/// router, the flows that met each router when there are several.
pub fn table(round: &RouteRound, numeric: bool, flows: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", header());
    for hop in round.hops() {
        line(&mut out, hop, numeric, flows);
    }
    out
}

fn line(out: &mut String, hop: &HopStats, numeric: bool, flows: bool) {
    let first = hop.responders().first();
    let host = first.map_or_else(|| "???".to_string(), |r| shown(r, numeric));
    let _ = writeln!(
        out,
        "{:3}.|-- {:<30} {:5.1}% {:5} {:>6} {:>6} {:>6} {:>6} {:>6}",
        hop.distance(),
        host,
        hop.loss() * 100.0,
        hop.sent(),
        ms(hop.last()),
        ms(hop.avg()),
        ms(hop.best()),
        ms(hop.worst()),
        ms(hop.stddev()),
    );
    for (index, responder) in hop.responders().iter().enumerate() {
        if index > 0 {
            let _ = writeln!(out, "    |  `-- {}", shown(responder, numeric));
        }
        if flows {
            let list: Vec<String> = responder.flows.iter().map(u16::to_string).collect();
            let _ = writeln!(out, "    |      flows {}", list.join(","));
        }
        for label in &responder.mpls {
            let _ = writeln!(out, "    |      [MPLS: {label}]");
        }
    }
}

/// One line for a round when the output is not a terminal: each distance's first router
/// (or `???`), its loss and its last round trip.
pub fn round_line(round: &RouteRound) -> String {
    let hops: Vec<String> = round
        .hops()
        .iter()
        .map(|hop| {
            let host = hop
                .responders()
                .first()
                .map_or_else(|| "???".to_string(), |r| r.address.to_string());
            format!(
                "{} {host} {:.1}% {} ms",
                hop.distance(),
                hop.loss() * 100.0,
                ms(hop.last())
            )
        })
        .collect();
    format!("round {}: {}", round.round() + 1, hops.join(" | "))
}

/// Shows `round` live: the whole table again, in place, on a terminal; a line otherwise.
pub fn live(round: &RouteRound, target: &str, numeric: bool, flows: bool) {
    let mut stdout = std::io::stdout().lock();
    if stdout.is_terminal() {
        // Home, clear the screen, then the table.
        let _ = write!(
            stdout,
            "\x1b[H\x1b[2J{target}: round {}\n{}",
            round.round() + 1,
            table(round, numeric, flows)
        );
    } else {
        let _ = writeln!(stdout, "{}", round_line(round));
    }
    let _ = stdout.flush();
}
