//! What the benchmarks that make a namespace share: the root check, the number of rounds,
//! and medians.
#![allow(dead_code)]

/// True when the process is root; else says why `name` is skipped.
pub fn root_or_skip(name: &str) -> bool {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    if !root {
        println!("{name} benchmark skipped: it needs root (it makes a network namespace)");
    }
    root
}

/// The rounds to run: the environment variable `variable`, else 5.
pub fn rounds(variable: &str) -> usize {
    std::env::var(variable)
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
}

/// The median of `values` (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The numbers a child process printed, `count` of them, or a panic with what it said.
pub fn child_figures(output: &std::process::Output, count: usize) -> Vec<f64> {
    let text = String::from_utf8_lossy(&output.stdout);
    let figures: Vec<f64> = text
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    assert!(
        output.status.success() && figures.len() == count,
        "child failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    figures
}
