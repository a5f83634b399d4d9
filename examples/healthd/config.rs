//! What healthd runs: the command line and the config file, checked before anything runs
//! (a bad file, target or option is an error at start, never a half-running daemon), and
//! read again on SIGHUP.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use icmplib::{SocketKind, WatchOptions};

/// Where it listens unless told otherwise: loopback only, on a port no common exporter
/// uses (node_exporter has 9100, blackbox_exporter 9115, smokeping_prober 9374,
/// ping_exporter 9427).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9867";

/// The shortest period a target may have: a health check, not a flood (fping's floor for
/// `-p` without root is the same 10 ms).
pub const MIN_PERIOD: Duration = Duration::from_millis(10);

/// Connections served at once unless told otherwise (below the usual 1,024 open files).
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

#[derive(Parser)]
#[command(
    version,
    about = "A health-check daemon: ICMP probes, Prometheus metrics, JSON status",
    after_help = "The config file is JSON, every key optional:\n  \
        {\"listen\": \"127.0.0.1:9867\", \"metrics\": \"native\" | \"smokeping\", \"privileged\": true,\n   \
        \"max_connections\": 256, \"name_servers\": [\"192.0.2.53:53\"],\n   \
        \"groups\": [{\"hosts\": [\"192.0.2.1\", \"db.example\"], \"period\": 1, \"timeout\": 1,\n     \
        \"size\": 56, \"tos\": 0, \"ttl\": 64, \"source\": \"192.0.2.10\", \"up_after\": 1,\n     \
        \"down_after\": 3, \"window\": 100, \"labels\": {\"site\": \"par1\"}}]}\n\
        Periods and timeouts are in seconds (a period at least 0.01), size in payload bytes.\n\n\
        Endpoints: /metrics, /status, /probe?target=HOST, /.\n\
        SIGHUP reads the config file again; SIGTERM or Ctrl-C stops (within 2 s)."
)]
pub struct Args {
    /// A JSON config file (see the example's docs).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address and port to serve on [default: 127.0.0.1:9867].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Seconds between two probes of a target, at least 0.01 (overrides the config).
    #[arg(long, value_parser = period)]
    period: Option<Duration>,
    /// Metric names: `native` (icmp_*) or `smokeping` (smokeping_prober's names and labels).
    #[arg(long, value_parser = ["native", "smokeping"])]
    metrics: Option<String>,
    /// Connections served at once; beyond it the oldest is closed [default: 256].
    #[arg(long)]
    max_connections: Option<usize>,
    /// Use unprivileged sockets (overrides the config).
    #[arg(long)]
    unprivileged: bool,
    /// Targets: addresses or host names, probed with the default options.
    targets: Vec<String>,
}

/// A period given in seconds, at least [`MIN_PERIOD`].
fn period(text: &str) -> Result<Duration, String> {
    let period = crate::common::positive_seconds(text)?;
    if period < MIN_PERIOD {
        return Err(format!(
            "{text} s is below the floor of {} s",
            MIN_PERIOD.as_secs_f64()
        ));
    }
    Ok(period)
}

/// The config file; every field is optional and an unknown one is an error.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<SocketAddr>,
    metrics: Option<Style>,
    privileged: Option<bool>,
    max_connections: Option<usize>,
    /// Name servers to ask instead of the system's (`"192.0.2.53:53"`).
    name_servers: Option<Vec<SocketAddr>>,
    #[serde(default)]
    groups: Vec<GroupFile>,
}

/// A group of targets sharing probe options and labels.
#[derive(serde::Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    hosts: Vec<String>,
    /// Seconds.
    period: Option<f64>,
    /// Seconds.
    timeout: Option<f64>,
    /// ICMP payload bytes (smokeping_prober's `size`).
    size: Option<usize>,
    tos: Option<u8>,
    ttl: Option<u8>,
    source: Option<IpAddr>,
    up_after: Option<u32>,
    down_after: Option<u32>,
    window: Option<usize>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Which metric names `/metrics` shows.
#[derive(serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// `icmp_*`, with the labels `host`, `ip`, `source` and the group's.
    Native,
    /// Exactly smokeping_prober's (0.6): `smokeping_*`, labels `host` and `ip`.
    Smokeping,
}

/// What the daemon runs.
pub struct Setup {
    pub listen: SocketAddr,
    pub style: Style,
    pub kind: SocketKind,
    pub max_connections: usize,
    /// The name servers to ask; the system's when empty.
    pub name_servers: Vec<SocketAddr>,
    pub groups: Vec<Group>,
}

/// Targets probed with the same options, and the labels their series carry.
#[derive(Clone)]
pub struct Group {
    pub options: WatchOptions,
    /// The source address asked for, as the `source` label shows it ("" when none).
    pub source: Arc<str>,
    /// Label names and values added to each series (checked: valid and not ours).
    pub labels: Arc<[(String, String)]>,
    /// The targets, each given once, as written (addresses in their canonical form).
    pub hosts: Vec<Arc<str>>,
}

impl Group {
    /// Whether `self` and `other` probe alike (labels aside): a reload keeps the watch.
    pub fn probes_like(&self, other: &Group) -> bool {
        self.options == other.options
    }
}

/// Reads the command line's config and applies the flags over it.
pub fn setup(args: &Args) -> Result<Setup, String> {
    let file = match &args.config {
        Some(path) => read(path)?,
        None => File::default(),
    };
    let kind = match (args.unprivileged, file.privileged) {
        (true, _) => SocketKind::Datagram,
        (false, Some(privileged)) => SocketKind::from_privileged(privileged),
        // Raw sockets where allowed, else datagram ones.
        (false, None) => SocketKind::Auto,
    };
    let style = match args.metrics.as_deref() {
        Some("smokeping") => Style::Smokeping,
        Some(_) => Style::Native,
        None => file.metrics.unwrap_or(Style::Native),
    };
    let max_connections = args
        .max_connections
        .or(file.max_connections)
        .unwrap_or(DEFAULT_MAX_CONNECTIONS);
    if max_connections == 0 {
        return Err("max_connections must be at least 1".into());
    }
    let mut groups = file.groups;
    if !args.targets.is_empty() {
        groups.push(GroupFile {
            hosts: args.targets.clone(),
            ..GroupFile::default()
        });
    }
    let groups = self::groups(groups, args.period, kind)?;
    if groups.iter().all(|group| group.hosts.is_empty()) {
        return Err("no targets: give some on the command line or in --config".into());
    }
    let listen = match args.listen.or(file.listen) {
        Some(listen) => listen,
        None => DEFAULT_LISTEN
            .parse()
            .map_err(|error| format!("{DEFAULT_LISTEN}: {error}"))?,
    };
    Ok(Setup {
        listen,
        style,
        kind,
        max_connections,
        name_servers: file.name_servers.unwrap_or_default(),
        groups,
    })
}

fn read(path: &std::path::Path) -> Result<File, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    serde_json::from_str::<File>(&text)
        .map_err(|error| format!("{} is not a valid config: {error}", path.display()))
}

/// The groups of the file, checked; a target given twice (by the same address written
/// differently too) is probed once, in the first group that names it.
fn groups(
    files: Vec<GroupFile>,
    period: Option<Duration>,
    kind: SocketKind,
) -> Result<Vec<Group>, String> {
    let mut seen = HashSet::new();
    let mut groups = Vec::new();
    for (index, file) in files.into_iter().enumerate() {
        let mut group =
            group(&file, period, kind).map_err(|error| format!("group {}: {error}", index + 1))?;
        for host in &file.hosts {
            let host = canonical(host)?;
            if seen.insert(Arc::clone(&host)) {
                group.hosts.push(host);
            } else {
                eprintln!("healthd: '{host}' is given twice: probed once, in its first group");
            }
        }
        groups.push(group);
    }
    Ok(groups)
}

/// The options and labels of a group; its hosts are added by the caller.
fn group(file: &GroupFile, period: Option<Duration>, kind: SocketKind) -> Result<Group, String> {
    let mut options = WatchOptions::default().socket_kind(kind);
    if let Some(period) = period.map(Ok).or(file.period.map(seconds)) {
        let period = period?;
        if period < MIN_PERIOD {
            return Err(format!(
                "a period of {} s is below the floor of {} s",
                period.as_secs_f64(),
                MIN_PERIOD.as_secs_f64()
            ));
        }
        options = options.period(period);
    }
    if let Some(timeout) = file.timeout {
        options = options.timeout(seconds(timeout)?);
    }
    if let Some(size) = file.size {
        options = options.payload_size(size);
    }
    if let Some(tos) = file.tos {
        options = options.traffic_class(tos);
    }
    if let Some(ttl) = file.ttl {
        options = options.ttl(ttl);
    }
    if let Some(source) = file.source {
        options = options.source(source);
    }
    if let Some(answers) = file.up_after {
        options = options.up_after(answers);
    }
    if let Some(losses) = file.down_after {
        options = options.down_after(losses);
    }
    if let Some(window) = file.window {
        options = options.window(window);
    }
    let mut labels = Vec::new();
    for (name, value) in &file.labels {
        check_label(name)?;
        labels.push((name.clone(), value.clone()));
    }
    Ok(Group {
        options,
        source: file
            .source
            .map_or_else(|| Arc::from(""), |source| Arc::from(source.to_string())),
        labels: labels.into(),
        hosts: Vec::new(),
    })
}

/// A positive, finite number of seconds.
fn seconds(value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| format!("{value} is not a positive number of seconds"))
}

/// A label name Prometheus accepts and that is not one of ours.
fn check_label(name: &str) -> Result<(), String> {
    let valid = name
        .chars()
        .enumerate()
        .all(|(at, c)| c == '_' || c.is_ascii_alphabetic() || (at > 0 && c.is_ascii_digit()));
    if name.is_empty() || !valid || name.starts_with("__") {
        return Err(format!("'{name}' is not a valid label name"));
    }
    if ["host", "ip", "source", "le", "phase"].contains(&name) {
        return Err(format!("the label '{name}' is healthd's own"));
    }
    Ok(())
}

/// `text` as one target: an address in its canonical form (`0:0::1` is `::1`), or a
/// host name in lower case without its final dot; an error for anything else.
pub fn canonical(text: &str) -> Result<Arc<str>, String> {
    if let Ok(address) = text.parse::<IpAddr>() {
        return Ok(Arc::from(address.to_string()));
    }
    if !is_host_name(text) {
        return Err(format!("'{text}' is neither an IP address nor a host name"));
    }
    // The library's own refusals too (`300.1.1.1`, `127.1`): at start, not every period.
    icmplib::Target::from(text)
        .check()
        .map_err(|error| match error {
            icmplib::Error::InvalidOption { reason } => reason,
            other => other.to_string(),
        })?;
    let name = text.strip_suffix('.').unwrap_or(text);
    Ok(Arc::from(name.to_ascii_lowercase()))
}

/// A host name's syntax (RFC 1123): labels of 1 to 63 letters, digits and hyphens, not
/// starting or ending with a hyphen, 253 characters at most.
fn is_host_name(text: &str) -> bool {
    let name = text.strip_suffix('.').unwrap_or(text);
    let labels_valid = name.split('.').all(|label| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    !name.is_empty() && name.len() <= 253 && labels_valid
}
