//! The answers the fake transport delivers: echo replies, ICMP errors with their quotes
//! laid out as routers lay them out, and what a datagram socket's error queue holds.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use crate::family::Family;
use crate::packet::{
    EchoKind, IPPROTO_ICMPV6, Ipv6Header, Kind, Message, Quote, QuoteLayout, emit_echo, v6,
};
use crate::socket::request::IcmpRequest;
use crate::socket::sys::QueuedError;

/// One datagram the fake delivers, `after` the request left.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub after: Duration,
    pub bytes: Vec<u8>,
    /// Who it comes from (for the error queue: the destination of the request).
    pub from: IpAddr,
    /// For the error queue of a datagram socket: the error the kernel attached.
    pub queued: Option<QueuedError>,
    /// Arrives without waking the reader, as a reply the reader is too busy to notice:
    /// only a read asked for (a deadline) or another wake-up finds it.
    pub unnoticed: bool,
}

impl Answer {
    /// The echo reply to `request`, `after` it left.
    pub(crate) fn reply(request: &IcmpRequest, after: Duration) -> Answer {
        Answer::reply_with(request, request.payload(), after)
    }

    /// An echo reply to `request` carrying `payload`.
    pub(crate) fn reply_with(request: &IcmpRequest, payload: &[u8], after: Duration) -> Answer {
        let family = request.family();
        let mut bytes = Vec::new();
        emit_echo(
            family,
            EchoKind::Reply,
            request.id(),
            request.sequence(),
            payload,
            &mut bytes,
        );
        Answer {
            after,
            bytes,
            from: request.destination(),
            queued: None,
            unnoticed: false,
        }
    }

    /// An ICMPv6 error of `icmp_type` and `code` from `router`, quoting `request` whole.
    pub(crate) fn v6_error(
        request: &IcmpRequest,
        router: IpAddr,
        icmp_type: u8,
        code: u8,
        after: Duration,
    ) -> Answer {
        Answer::v6_error_extended(request, router, (icmp_type, code), None, after)
    }

    /// As [`Answer::v6_error`], the quote laid out as `extended` says (RFC 4884 or the
    /// 128-byte form of older routers) with its extension structure: `None` for a plain
    /// quote.
    pub(crate) fn v6_error_extended(
        request: &IcmpRequest,
        router: IpAddr,
        (icmp_type, code): (u8, u8),
        extended: Option<(QuoteLayout, &[u8])>,
        after: Duration,
    ) -> Answer {
        let mut quoted = Vec::new();
        let mut echo = Vec::new();
        emit_echo(
            Family::V6,
            EchoKind::Request,
            request.id(),
            request.sequence(),
            request.payload(),
            &mut echo,
        );
        let destination = match request.destination() {
            IpAddr::V6(destination) => destination,
            IpAddr::V4(_) => Ipv6Addr::UNSPECIFIED,
        };
        let mut header = Ipv6Header::new(
            Ipv6Addr::UNSPECIFIED,
            destination,
            IPPROTO_ICMPV6,
            echo.len(),
        );
        // The hop limit the request had when it expired.
        header.hop_limit = 1;
        header.emit(&mut quoted);
        quoted.extend_from_slice(&echo);
        let quote = match extended {
            Some((layout, extensions)) => Quote {
                datagram: &quoted,
                extensions: Some(extensions),
                layout,
            },
            None => Quote::new(&quoted),
        };
        let message = match Kind::of(Family::V6, icmp_type) {
            Kind::DestinationUnreachable => Message::DestinationUnreachable { code, quote },
            Kind::TimeExceeded => Message::TimeExceeded { code, quote },
            _ if icmp_type == v6::PACKET_TOO_BIG => Message::PacketTooBig { mtu: 1280, quote },
            _ => Message::OtherError {
                icmp_type,
                code,
                header: [0; 4],
                quote,
            },
        };
        let mut bytes = Vec::new();
        message.emit(Family::V6, &mut bytes);
        Answer {
            after,
            bytes,
            from: router,
            queued: None,
            unnoticed: false,
        }
    }

    /// An ICMPv6 Time Exceeded from `router`.
    pub(crate) fn time_exceeded(request: &IcmpRequest, router: IpAddr, after: Duration) -> Answer {
        Answer::v6_error(request, router, v6::TIME_EXCEEDED, 0, after)
    }

    /// The error a datagram socket's kernel queues for `request`: an ICMP message of
    /// `icmp_type` and `code` from `offender`, with the start of the request itself.
    pub(crate) fn queued_error(
        request: &IcmpRequest,
        offender: IpAddr,
        icmp_type: u8,
        code: u8,
        after: Duration,
    ) -> Answer {
        Answer::queued_error_with(request, offender, (icmp_type, code), &[], after)
    }

    /// As [`Answer::queued_error`], with `trailer` after the request: what the kernel
    /// leaves of a message whose quote was followed by padding or extensions.
    pub(crate) fn queued_error_with(
        request: &IcmpRequest,
        offender: IpAddr,
        (icmp_type, code): (u8, u8),
        trailer: &[u8],
        after: Duration,
    ) -> Answer {
        let mut bytes = Vec::new();
        request.encode(&mut bytes);
        bytes.extend_from_slice(trailer);
        Answer {
            after,
            bytes,
            from: request.destination(),
            queued: Some(QueuedError {
                from_icmp: true,
                icmp_type,
                code,
                offender: Some(offender),
                info: 0,
            }),
            unnoticed: false,
        }
    }

    /// The same answer, arriving unnoticed by the reader.
    pub(crate) fn unnoticed(mut self) -> Answer {
        self.unnoticed = true;
        self
    }
}
