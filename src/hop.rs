//! [`Hop`]: a host on the path to a traceroute's destination, at its distance, with what
//! its answers said beyond the round trip (the MPLS labels a router reported).

use std::fmt;
use std::ops::Deref;

use crate::host::{Host, round};
use crate::packet::MplsLabel;

/// A host on the path to a traceroute's destination: a [`Host`] (dereferences to it)
/// with its distance in hops (the TTL of the probes it answered).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Hop {
    #[cfg_attr(feature = "serde", serde(flatten))]
    host: Host,
    distance: u8,
    /// The MPLS label stack of the router's last answer that carried one (absent from
    /// older JSON: none).
    #[cfg_attr(feature = "serde", serde(default))]
    mpls: Vec<MplsLabel>,
    /// The flows whose probes met this router at this distance (absent from older JSON:
    /// none).
    #[cfg_attr(feature = "serde", serde(default))]
    flows: Vec<u16>,
    /// The router's name (reverse DNS), when asked for and found (absent from older JSON).
    #[cfg_attr(feature = "serde", serde(default))]
    name: Option<String>,
}

impl Hop {
    /// A hop at `distance` with the statistics of `host`.
    pub fn new(host: Host, distance: u8) -> Hop {
        Hop {
            host,
            distance,
            mpls: Vec::new(),
            flows: Vec::new(),
            name: None,
        }
    }

    /// This hop with its router's name.
    pub fn with_name(mut self, name: Option<String>) -> Hop {
        self.name = name;
        self
    }

    /// The router's name from a reverse lookup (PTR), when the trace asked for names
    /// ([`TracerouteOptions::names`](crate::TracerouteOptions::names)) and one was found
    /// in time.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// This hop as met by these flows.
    pub fn with_flows(mut self, flows: Vec<u16>) -> Hop {
        self.flows = flows;
        self
    }

    /// The flows of a flow-stable trace whose probes met this router at this distance,
    /// in order (0 to [`TracerouteOptions::flows`](crate::TracerouteOptions::flows) − 1):
    /// through a load balancer, the flows of one leg each meet that leg's routers. Empty
    /// for a trace whose probes belong to no flow
    /// ([`flow_stable`](crate::TracerouteOptions::flow_stable) `false`).
    pub fn flows(&self) -> &[u16] {
        &self.flows
    }

    /// This hop with the MPLS label stack its router reported.
    pub fn with_mpls_labels(mut self, labels: Vec<MplsLabel>) -> Hop {
        self.mpls = labels;
        self
    }

    /// The MPLS label stack (RFC 4950, top first) in the router's last answer that
    /// carried one: the labels the probe had when it expired inside an MPLS tunnel, as
    /// `traceroute -e` and mtr `-e` show them. Empty for a router that sent none.
    pub fn mpls_labels(&self) -> &[MplsLabel] {
        &self.mpls
    }

    /// The distance in hops (1 is the first router).
    pub fn distance(&self) -> u8 {
        self.distance
    }

    /// The statistics of the hop.
    pub fn host(&self) -> &Host {
        &self.host
    }
}

impl Deref for Hop {
    type Target = Host;

    fn deref(&self) -> &Host {
        &self.host
    }
}

impl fmt::Display for Hop {
    /// ```
    /// use icmplib::{Hop, Host};
    ///
    /// let hop = Hop::new(Host::new("192.0.2.2", 2, vec![0.5, 0.25]), 1);
    /// assert_eq!(hop.to_string(), " 1  192.0.2.2  0.5 ms  0.25 ms");
    /// ```
    ///
    /// A name comes first, the address after it in brackets, as traceroute shows them:
    /// ` 1  router.example (192.0.2.2)  0.5 ms`. MPLS labels follow, as mtr shows them:
    /// `[MPLS: Lbl 100 TC 0 S 1 TTL 1]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{:2}  {name} ({})", self.distance, self.host.address())?,
            None => write!(f, "{:2}  {}", self.distance, self.host.address())?,
        }
        for rtt in self.host.rtts() {
            write!(f, "  {} ms", round(*rtt, 3))?;
        }
        for _ in self.host.packets_received()..self.host.packets_sent() {
            f.write_str("  *")?;
        }
        if let Some(error) = self.host.error() {
            write!(f, "  ({error})")?;
        }
        for label in &self.mpls {
            write!(f, "  [MPLS: {label}]")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "serde")]
    use crate::Error;

    #[test]
    fn labels_are_shown_as_mtr_shows_them() {
        let label = MplsLabel::from_bytes([0x00, 0x06, 0x41, 0x01]);
        let hop = Hop::new(Host::new("192.0.2.2", 1, vec![0.5]), 1).with_mpls_labels(vec![label]);
        assert_eq!(
            hop.to_string(),
            " 1  192.0.2.2  0.5 ms  [MPLS: Lbl 100 TC 0 S 1 TTL 1]"
        );
        assert_eq!(hop.mpls_labels(), [label]);
        let named = hop.with_name(Some("r1.example".into()));
        assert!(
            named
                .to_string()
                .starts_with(" 1  r1.example (192.0.2.2)  0.5 ms"),
            "{named}"
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_fields_are_those_of_the_spec() {
        let host = Host::new("192.0.2.1", 2, vec![1.0]).with_error(Some(Error::SocketBroadcast));
        let value = serde_json::to_value(Hop::new(host, 3)).unwrap();
        let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "address",
                "avg_rtt",
                "distance",
                "duplicates",
                "error",
                "flows",
                "is_alive",
                "jitter",
                "max_rtt",
                "min_rtt",
                "mpls",
                "name",
                "packet_loss",
                "packets_received",
                "packets_sent",
                "rtts",
                "stddev",
                "target"
            ]
        );
        assert_eq!(value["target"], "192.0.2.1");
        assert_eq!(value["packet_loss"], 0.5);
        assert!(
            value["error"]
                .as_str()
                .unwrap()
                .starts_with("Broadcast is not allowed")
        );
        let back: Hop = serde_json::from_value(value).unwrap();
        assert_eq!((back.distance(), back.packets_sent()), (3, 2));
    }
}
