//! The reply a socket receives.

use std::fmt;
use std::net::IpAddr;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::family::Family;
use crate::packet::{Kind, MplsLabel, is_packet_too_big};

/// An ICMP message received for a request: an echo reply, or an error such as
/// Destination Unreachable or Time Exceeded.
///
/// For an error message, `id` and `sequence` are those of the request it quotes, and
/// `source` is the address that sent it (often a router).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpReply {
    pub(crate) source: IpAddr,
    /// The interface of a link-local IPv6 source; 0 for none.
    pub(crate) scope_id: u32,
    pub(crate) family: Family,
    pub(crate) id: u16,
    pub(crate) sequence: u16,
    pub(crate) icmp_type: u8,
    pub(crate) code: u8,
    pub(crate) bytes_received: usize,
    pub(crate) time: Instant,
    pub(crate) ttl: Option<u8>,
    pub(crate) traffic_class: Option<u8>,
    pub(crate) mtu: Option<u32>,
    /// The MPLS label stack of an error's RFC 4884 extension; empty otherwise.
    pub(crate) mpls: Box<[MplsLabel]>,
}

impl IcmpReply {
    /// The address that sent the message.
    pub fn source(&self) -> IpAddr {
        self.source
    }

    /// The interface a link-local IPv6 source answered on (its zone, as in
    /// `fe80::1%2`); 0 for any other source.
    pub fn scope_id(&self) -> u32 {
        self.scope_id
    }

    /// The family of the message.
    pub fn family(&self) -> Family {
        self.family
    }

    /// The identifier (of the request, for an error message).
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The sequence number (of the request, for an error message).
    pub fn sequence(&self) -> u16 {
        self.sequence
    }

    /// The TTL (IPv4) or hop limit (IPv6) the message arrived with: what the sender set,
    /// less one per router on the way back. `None` where the system does not say
    /// (Windows without privileges under Wine; errors read from Linux's error queue).
    pub fn ttl(&self) -> Option<u8> {
        self.ttl
    }

    /// The TOS (IPv4) or traffic class (IPv6) byte the message arrived with, when the
    /// system says.
    pub fn traffic_class(&self) -> Option<u8> {
        self.traffic_class
    }

    /// The next hop's MTU given by a Fragmentation Needed (ICMPv4) or Packet Too Big
    /// (ICMPv6) message; `None` for any other message.
    pub fn mtu(&self) -> Option<u32> {
        self.mtu
    }

    /// The ICMP type.
    pub fn icmp_type(&self) -> u8 {
        self.icmp_type
    }

    /// The ICMP code.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// What the ICMP type means.
    pub fn kind(&self) -> Kind {
        Kind::of(self.family, self.icmp_type)
    }

    /// The number of bytes received (the ICMP message, plus the IPv4 header on raw IPv4
    /// sockets).
    pub fn bytes_received(&self) -> usize {
        self.bytes_received
    }

    /// The MPLS label stack (RFC 4950, top first) a router appended to this error in an
    /// RFC 4884 extension structure: the labels the request carried where it expired or
    /// was refused. Empty for an echo reply and for errors without one.
    pub fn mpls_labels(&self) -> &[MplsLabel] {
        &self.mpls
    }

    /// When the message arrived, on the monotonic clock (from the kernel's receive
    /// timestamp when the system gives one).
    pub fn time(&self) -> Instant {
        self.time
    }

    /// `Ok(())` for an echo reply; otherwise the error the message stands for:
    /// [`Error::PacketTooBig`] (Fragmentation Needed, Packet Too Big),
    /// [`Error::DestinationUnreachable`], [`Error::TimeExceeded`] or [`Error::Icmp`].
    ///
    /// ```no_run
    /// # fn main() -> icmplib::Result<()> {
    /// use std::time::Duration;
    /// use icmplib::{IcmpRequest, IcmpV4Socket};
    ///
    /// let socket = IcmpV4Socket::new(None, true)?;
    /// let request = IcmpRequest::new("127.0.0.1".parse().unwrap(), 7, 1);
    /// socket.send(&request)?;
    /// let reply = socket.receive(Some(&request), Duration::from_secs(2))?;
    /// reply.raise_for_status()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn raise_for_status(&self) -> Result<()> {
        let (source, code, family) = (self.source, self.code, self.family);
        if is_packet_too_big(family, self.icmp_type, code) {
            return Err(Error::PacketTooBig {
                source: Some(source),
                mtu: self.mtu,
                family,
            });
        }
        match self.kind() {
            Kind::EchoReply => Ok(()),
            Kind::DestinationUnreachable => Err(Error::DestinationUnreachable {
                source,
                code,
                family,
            }),
            Kind::TimeExceeded => Err(Error::TimeExceeded {
                source,
                code,
                family,
            }),
            _ => Err(Error::Icmp {
                icmp_type: self.icmp_type,
                code,
            }),
        }
    }
}

impl fmt::Display for IcmpReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind() {
            Kind::EchoReply => "echo reply",
            Kind::DestinationUnreachable => "destination unreachable",
            Kind::TimeExceeded => "time exceeded",
            _ => "ICMP message",
        };
        write!(
            f,
            "{what} from {}: id={} seq={} type={} code={} bytes={}",
            self.source, self.id, self.sequence, self.icmp_type, self.code, self.bytes_received
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(family: Family, icmp_type: u8, code: u8) -> IcmpReply {
        IcmpReply {
            source: "192.0.2.1".parse().unwrap(),
            scope_id: 0,
            family,
            id: 1,
            sequence: 2,
            icmp_type,
            code,
            bytes_received: 64,
            time: Instant::now(),
            ttl: None,
            traffic_class: None,
            mtu: None,
            mpls: Box::default(),
        }
    }

    #[test]
    fn raise_for_status_by_family() {
        assert!(reply(Family::V4, 0, 0).raise_for_status().is_ok());
        assert!(reply(Family::V6, 129, 0).raise_for_status().is_ok());
        assert!(matches!(
            reply(Family::V4, 3, 13).raise_for_status(),
            Err(Error::DestinationUnreachable {
                code: 13,
                family: Family::V4,
                ..
            })
        ));
        assert!(matches!(
            reply(Family::V6, 1, 0).raise_for_status(),
            Err(Error::DestinationUnreachable {
                code: 0,
                family: Family::V6,
                ..
            })
        ));
        assert!(matches!(
            reply(Family::V4, 11, 0).raise_for_status(),
            Err(Error::TimeExceeded { .. })
        ));
        assert!(matches!(
            reply(Family::V6, 3, 0).raise_for_status(),
            Err(Error::TimeExceeded { .. })
        ));
        assert!(matches!(
            reply(Family::V4, 12, 1).raise_for_status(),
            Err(Error::Icmp {
                icmp_type: 12,
                code: 1
            })
        ));
        // An ICMPv4 type number means something else in ICMPv6.
        assert!(matches!(
            reply(Family::V6, 3, 0).raise_for_status(),
            Err(Error::TimeExceeded { .. })
        ));
        assert!(matches!(
            reply(Family::V4, 1, 0).raise_for_status(),
            Err(Error::Icmp { .. })
        ));
    }

    #[test]
    fn display() {
        assert_eq!(
            reply(Family::V4, 0, 0).to_string(),
            "echo reply from 192.0.2.1: id=1 seq=2 type=0 code=0 bytes=64"
        );
    }
}
