//! The Windows backend without privileges: a [`Transport`] over the ICMP helper API
//! (`IcmpSendEcho2Ex` / `Icmp6SendEcho2`, one session thread per engine; see
//! `socket::sys::windows::icmp_api`).
//!
//! The system chooses each request's identifier and sequence number and matches the reply
//! itself; a completion comes back with the request it answers. So this transport hands
//! the engine a [`Received`] under the request's own peer and sequence number, stamped on
//! the crate's clock when its completion routine ran, and for an echo reply the data that
//! came back, which the engine checks against the payload sent like any other reply.
//!
//! What the API cannot do: set the TOS / traffic class (refused before this), keep a
//! chosen identifier (refused before this), report local failures as anything but no
//! answer (a request the system fails — no route, general failure — is logged and times
//! out).

use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::sync::Notify;

use super::transport::{OnReply, Outgoing, Transport};
use crate::clock::{self, later};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::packet::{HEADER_LEN, Kind};
use crate::socket::async_socket::Drained;
use crate::socket::limits::{self, Capability};
use crate::socket::received::Received;
use crate::socket::sys::windows::icmp_api::reply::{Outcome, outcome};
use crate::socket::sys::windows::icmp_api::{Completed, Echo, Session};

/// How long a request waits for the session to take it, at least: requests in flight
/// complete within their own timeouts (seconds), which this only bounds from above.
const MAX_ROOM_WAIT: Duration = Duration::from_secs(60);

/// An ICMP API session as a transport.
#[derive(Debug)]
pub(crate) struct IcmpApiTransport {
    family: Family,
    session: Session,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    completed: Mutex<Vec<Completed>>,
    /// Told by the session's thread when something completed.
    ready: Notify,
}

impl IcmpApiTransport {
    /// Opens a session of `family`, whose requests leave from `source` when given.
    pub(crate) fn open(family: Family, source: Option<(IpAddr, u32)>) -> Result<Self> {
        let shared = Arc::new(Shared::default());
        let on_completed = {
            let shared = Arc::clone(&shared);
            Box::new(move |completed: Completed| {
                shared
                    .completed
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(completed);
                shared.ready.notify_one();
            })
        };
        let session = Session::open(family, source, on_completed)?;
        Ok(IcmpApiTransport {
            family,
            session,
            shared,
        })
    }

    /// Hands out what completed: every answer that came back before now.
    fn drain(&self, on_reply: &mut OnReply<'_>) -> Drained {
        let checked_at = clock::now();
        let completed = std::mem::take(
            &mut *self
                .shared
                .completed
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let mut read = 0;
        for completed in &completed {
            read += 1;
            if let Some(received) = received(self.family, completed) {
                on_reply(&received, &completed.buffer);
            }
        }
        Drained::Empty { read, checked_at }
    }
}

/// What a completed request comes to: the answer to hand to the engine, if any.
fn received(family: Family, completed: &Completed) -> Option<Received> {
    let echo = &completed.echo;
    if let Some(error) = &completed.error {
        tracing::debug!(destination = %echo.destination, %error, "the ICMP API refused a request");
        return None;
    }
    let reply = completed.reply.as_ref()?;
    let (icmp_type, code) = match outcome(family, reply.status) {
        Outcome::Message { icmp_type, code } => (icmp_type, code),
        other => {
            tracing::debug!(
                destination = %echo.destination,
                status = reply.status,
                ?other,
                "no answer from the ICMP API"
            );
            return None;
        }
    };
    let kind = Kind::of(family, icmp_type);
    // An echo reply's data is checked against the payload sent; an error's data is not
    // a quote the engine can read (the system matched it to the request already).
    let payload = if kind == Kind::EchoReply {
        reply.data.clone()
    } else {
        reply.data.start..reply.data.start
    };
    Some(Received {
        source: reply.address,
        source_scope: match reply.address {
            IpAddr::V6(address) if address.is_unicast_link_local() => echo.scope_id,
            _ => 0,
        },
        peer: echo.destination,
        id: 0,
        sequence: echo.tag,
        icmp_type,
        code,
        kind,
        bytes: HEADER_LEN + payload.len(),
        payload: Some(payload),
        quote_unbounded: false,
        time: completed.completed_at,
        ttl: reply.ttl,
        traffic_class: reply.tos,
        mtu: None,
        // The helper API hands over no extension structure.
        mpls: Box::default(),
    })
}

impl Transport for IcmpApiTransport {
    fn family(&self) -> Family {
        self.family
    }

    fn keeps_sequence(&self) -> bool {
        false
    }

    fn keeps_id(&self) -> bool {
        false
    }

    fn try_send(&self, outgoing: Outgoing<'_>) -> Result<Option<Instant>> {
        let Outgoing { request, wait, .. } = outgoing;
        if request.traffic_class() != 0 {
            limits::check(Capability::TrafficClass, false)?;
        }
        let queued_at = clock::now();
        let echo = Echo {
            destination: request.destination(),
            scope_id: request.scope_id(),
            payload: request.payload_arc(),
            ttl: request.ttl(),
            timeout: wait,
            tag: request.sequence(),
            queued_at,
        };
        match self.session.try_send(echo) {
            Ok(()) => Ok(Some(queued_at)),
            // As many requests as the system takes: like a full send buffer.
            Err(_) => Ok(None),
        }
    }

    fn send<'a>(&'a self, outgoing: Outgoing<'a>) -> BoxFuture<'a, Result<Instant>> {
        let wait = outgoing.wait;
        Box::pin(async move {
            let give_up = later(clock::now(), wait.max(MAX_ROOM_WAIT));
            loop {
                // Registered before the attempt: a completion in between is not missed.
                let room = self.session.room().notified();
                tokio::pin!(room);
                room.as_mut().enable();
                if let Some(sent_at) = self.try_send(outgoing)? {
                    return Ok(sent_at);
                }
                // Every request taken completes within its own timeout, each telling one
                // waiter; bounded all the same, against a hang.
                if tokio::time::timeout_at(give_up.into(), room).await.is_err() {
                    return Err(Error::from(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "the system took no more ICMP requests in time",
                    )));
                }
            }
        })
    }

    fn recv<'a>(
        &'a self,
        _max: usize,
        on_reply: &'a mut OnReply<'_>,
    ) -> BoxFuture<'a, io::Result<Drained>> {
        Box::pin(async move {
            loop {
                match self.drain(&mut *on_reply) {
                    Drained::Empty { read: 0, .. } => self.shared.ready.notified().await,
                    drained => return Ok(drained),
                }
            }
        })
    }

    fn try_recv(&self, _max: usize, on_reply: &mut OnReply<'_>) -> io::Result<Drained> {
        Ok(self.drain(on_reply))
    }

    fn set_recv_buffer_size(&self, _bytes: usize) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::socket::sys::windows::icmp_api::reply::{ApiReply, status};

    fn completed(status: u32, address: &str, data: &[u8]) -> Completed {
        let now = clock::now();
        let mut buffer = vec![0; 40];
        buffer.extend_from_slice(data);
        Completed {
            echo: Echo {
                destination: "192.0.2.14".parse().unwrap(),
                scope_id: 0,
                payload: Arc::from(&b"abcd"[..]),
                ttl: 2,
                timeout: Duration::from_secs(1),
                tag: 77,
                queued_at: now,
            },
            completed_at: now + Duration::from_millis(3),
            reply: Some(ApiReply {
                address: address.parse().unwrap(),
                status,
                data: 40..40 + data.len(),
                ttl: Some(61),
                tos: Some(0),
            }),
            buffer,
            error: None,
        }
    }

    #[test]
    fn an_echo_reply_answers_its_request_with_the_data_that_came_back() {
        let completed = completed(status::SUCCESS, "192.0.2.14", b"abcd");
        let received = received(Family::V4, &completed).unwrap();
        assert_eq!(received.peer, completed.echo.destination);
        assert_eq!(received.source, completed.echo.destination);
        assert_eq!(received.sequence, 77);
        assert_eq!(received.kind, Kind::EchoReply);
        assert_eq!(received.time, completed.completed_at);
        assert_eq!(received.ttl, Some(61));
        assert!(received.payload_is(b"abcd", &completed.buffer));
        // Other data is not this request's reply: the engine's check refuses it.
        let corrupt = self::completed(status::SUCCESS, "192.0.2.14", b"abcX");
        let received = super::received(Family::V4, &corrupt).unwrap();
        assert!(!received.payload_is(b"abcd", &corrupt.buffer));
    }

    #[test]
    fn a_router_s_time_exceeded_answers_from_the_router() {
        let completed = completed(status::TTL_EXPIRED_TRANSIT, "192.0.2.6", b"");
        let received = received(Family::V4, &completed).unwrap();
        assert_eq!(received.source, "192.0.2.6".parse::<IpAddr>().unwrap());
        assert_eq!(received.peer, completed.echo.destination);
        assert_eq!(received.kind, Kind::TimeExceeded);
        assert!(received.payload_is(b"abcd", &completed.buffer));
    }

    #[test]
    fn timeouts_failures_and_errors_are_no_answer() {
        for code in [status::REQ_TIMED_OUT, status::SOURCE_QUENCH, 11050] {
            assert_eq!(received(Family::V4, &completed(code, "0.0.0.0", b"")), None);
        }
        let mut failed = completed(status::SUCCESS, "192.0.2.14", b"abcd");
        failed.error = Some(io::Error::other("refused"));
        assert_eq!(received(Family::V4, &failed), None);
    }
}
