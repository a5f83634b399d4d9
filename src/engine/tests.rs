//! The engine on the fake transport: matching, late and duplicate answers, forgetting,
//! failures, a full send buffer, the reads a deadline asks for, and running out of
//! sequence numbers. No privileges, no network; the clock is paused where time matters.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures::future::poll_fn;

use super::fake::{Answer, FakeTransport};
use super::*;
use crate::packet::{QuoteLayout, v4, v6};
use crate::socket::reply::IcmpReply;

const HOST_V6: &str = "2001:db8::7";
pub(super) const HOST_V4: &str = "192.0.2.7";
pub(super) const RTT: Duration = Duration::from_millis(30);

pub(super) fn probe(destination: &str, payload: &[u8]) -> Probe {
    Probe {
        destination: destination.parse().unwrap(),
        scope_id: 0,
        id: None,
        payload: Arc::from(payload),
        ttl: 64,
        flow: None,
        traffic_class: 0,
        timeout: Duration::from_secs(1),
        duplicates: true,
    }
}

/// Launches `probe` for `inbox` under `token`; it must leave at once.
pub(super) fn launch(engine: &Engine, probe: &Probe, inbox: &Arc<Inbox>, token: Token) -> Ticket {
    let launched = engine.launch(probe, inbox, token).expect("launched");
    assert!(matches!(launched.sending, Sending::Sent(_)), "it left");
    launched.ticket
}

/// Waits for the next answers in `inbox`.
pub(super) async fn answers(inbox: &Inbox) -> Vec<(Token, Result<IcmpReply>)> {
    poll_fn(|cx| {
        inbox.register(cx.waker());
        let mut answers = Vec::new();
        inbox.take(&mut answers);
        if answers.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(answers)
        }
    })
    .await
}

/// What is in `inbox` once the engine had time to read everything delivered so far.
async fn settled(inbox: &Inbox) -> Vec<(Token, Result<IcmpReply>)> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut answers = Vec::new();
    inbox.take(&mut answers);
    answers
}

#[tokio::test(start_paused = true)]
async fn an_echo_reply_reaches_the_inbox_of_its_request() {
    let fake = FakeTransport::raw_v6();
    fake.echo(RTT);
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    let start = clock::now();
    launch(&engine, &probe(HOST_V6, b"abc"), &inbox, 42);
    let answers = answers(&inbox).await;
    assert_eq!(answers.len(), 1);
    let (token, reply) = &answers[0];
    let reply = reply.as_ref().expect("an echo reply");
    assert_eq!(*token, 42);
    assert_eq!(reply.source(), HOST_V6.parse::<IpAddr>().unwrap());
    reply.raise_for_status().unwrap();
    // The fake's arrival goes through a wall-clock timestamp, as the kernel's does:
    // exact to a few microseconds of real time.
    let rtt = reply.time().saturating_duration_since(start);
    assert!(rtt.abs_diff(RTT) < Duration::from_millis(1), "{rtt:?}");
    assert_eq!(engine.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_reply_with_another_payload_is_not_taken_and_the_real_one_still_is() {
    let fake = FakeTransport::raw_v6();
    fake.script(|request| {
        vec![
            Answer::reply_with(request, b"abd", RTT),
            Answer::reply(request, RTT * 2),
        ]
    });
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    launch(&engine, &probe(HOST_V6, b"abc"), &inbox, 1);
    tokio::time::sleep(RTT + Duration::from_millis(1)).await;
    assert_eq!(engine.in_flight(), 1, "the wrong payload left it waiting");
    let answers = answers(&inbox).await;
    assert_eq!(answers.len(), 1);
    assert!(answers[0].1.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_reply_from_another_address_is_not_taken() {
    let fake = FakeTransport::raw_v6();
    fake.script(|request| {
        let mut forged = Answer::reply(request, RTT);
        forged.from = "2001:db8::66".parse().unwrap();
        vec![forged]
    });
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    launch(&engine, &probe(HOST_V6, b"abc"), &inbox, 1);
    assert!(settled(&inbox).await.is_empty());
    assert_eq!(engine.in_flight(), 1);
}

#[tokio::test(start_paused = true)]
async fn raw_transports_match_the_identifier_and_datagram_ones_leave_it_to_the_kernel() {
    // Raw: a reply with another identifier is another process's.
    let raw = FakeTransport::raw_v6();
    raw.script(|request| {
        let other = IcmpRequest::from_parts(
            request.destination(),
            request.id().wrapping_add(1),
            request.sequence(),
            request.payload().into(),
            64,
            0,
        );
        vec![Answer::reply(&other, RTT)]
    });
    let engine = raw.engine();
    let inbox = Arc::new(Inbox::default());
    launch(&engine, &probe(HOST_V6, b"abc"), &inbox, 1);
    assert!(settled(&inbox).await.is_empty());

    // Datagram: the kernel wrote its own identifier, and the reply carries it.
    let datagram = FakeTransport::datagram_v4();
    datagram.echo(RTT);
    let engine = datagram.engine();
    launch(&engine, &probe(HOST_V4, b"abc"), &inbox, 2);
    let answers = settled(&inbox).await;
    assert_eq!(answers.len(), 1);
    let reply = answers[0].1.as_ref().unwrap();
    assert_eq!(reply.id(), super::fake::KERNEL_ID);
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_reply_is_delivered_once() {
    let fake = FakeTransport::raw_v6();
    fake.script(|request| vec![Answer::reply(request, RTT), Answer::reply(request, RTT)]);
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    launch(&engine, &probe(HOST_V6, b"abc"), &inbox, 1);
    assert_eq!(settled(&inbox).await.len(), 1);
    assert_eq!(fake.queued(), 0, "both were read");
    // The second is handed over as a duplicate of request 1, not as an answer.
    let mut duplicates = Vec::new();
    inbox.take_duplicates(&mut duplicates);
    let tokens: Vec<Token> = duplicates.iter().map(|(token, _)| *token).collect();
    assert_eq!(tokens, [1]);
    // A probe whose duplicates are not looked for (a target's last): its answer is
    // delivered, the second reply goes nowhere.
    let mut last = probe(HOST_V6, b"abc");
    last.duplicates = false;
    launch(&engine, &last, &inbox, 2);
    let answers = settled(&inbox).await;
    assert!(matches!(answers[..], [(2, Ok(_))]), "{answers:?}");
    assert_eq!(fake.queued(), 0, "both were read");
    inbox.take_duplicates(&mut duplicates);
    assert_eq!(duplicates.len(), 1, "only request 1's");
}

#[tokio::test(start_paused = true)]
async fn an_error_after_a_reply_and_a_foreign_payload_are_no_duplicates() {
    let router: IpAddr = "2001:db8:ff::1".parse().unwrap();
    let fake = FakeTransport::raw_v6();
    fake.script(move |request| {
        vec![
            Answer::reply(request, RTT),
            Answer::v6_error(request, router, 1, 3, RTT * 2),
            Answer::reply_with(request, b"not ours", RTT * 3),
        ]
    });
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    launch(&engine, &probe(HOST_V6, b"abc"), &inbox, 1);
    assert_eq!(settled(&inbox).await.len(), 1);
    tokio::time::sleep(RTT * 4).await;
    let mut duplicates = Vec::new();
    inbox.take_duplicates(&mut duplicates);
    assert!(duplicates.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_forgotten_request_ignores_its_late_reply() {
    let fake = FakeTransport::raw_v6();
    fake.echo(Duration::from_secs(3));
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    let ticket = launch(&engine, &probe(HOST_V6, b"abc"), &inbox, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    engine.forget(&ticket);
    assert_eq!(engine.in_flight(), 0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(settled(&inbox).await.is_empty());
    assert_eq!(fake.sent().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_transport_failure_reaches_every_waiter_and_closes_the_engine() {
    let fake = FakeTransport::raw_v6();
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    for token in 0..5 {
        launch(&engine, &probe(HOST_V6, b"abc"), &inbox, token);
    }
    fake.fail(io::ErrorKind::ConnectionReset);
    let mut answers = settled(&inbox).await;
    answers.sort_by_key(|(token, _)| *token);
    let tokens: Vec<Token> = answers.iter().map(|(token, _)| *token).collect();
    assert_eq!(tokens, [0, 1, 2, 3, 4]);
    assert!(
        answers
            .iter()
            .all(|(_, result)| matches!(result, Err(Error::Socket(_))))
    );
    assert!(engine.is_closed());
    let again = engine.launch(&probe(HOST_V6, b"abc"), &inbox, 9);
    assert!(matches!(again, Err(Error::Socket(_))));
}

#[tokio::test(start_paused = true)]
async fn the_reader_stops_with_the_last_handle_and_tells_the_waiters() {
    let fake = FakeTransport::raw_v6();
    let engine = fake.engine();
    let core = Arc::downgrade(engine.core());
    let inbox = Arc::new(Inbox::default());
    launch(&engine, &probe(HOST_V6, b"abc"), &inbox, 7);
    drop(engine);
    let answers = answers(&inbox).await;
    assert!(matches!(answers[..], [(7, Err(Error::SocketUnavailable))]));
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(
        core.upgrade().is_none(),
        "the core outlived its last handle"
    );
}

#[tokio::test(start_paused = true)]
async fn an_icmp_error_quoting_the_request_is_its_answer() {
    let router: IpAddr = "2001:db8:ff::1".parse().unwrap();
    let fake = FakeTransport::raw_v6();
    fake.script(move |request| {
        vec![Answer::v6_error(
            request,
            router,
            v6::DESTINATION_UNREACHABLE,
            3,
            RTT,
        )]
    });
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    launch(&engine, &probe(HOST_V6, b"abc"), &inbox, 1);
    let answers = answers(&inbox).await;
    let reply = answers[0].1.as_ref().unwrap();
    assert_eq!(reply.source(), router);
    assert!(matches!(
        reply.raise_for_status(),
        Err(Error::DestinationUnreachable { code: 3, source, .. }) if source == router
    ));
}

#[tokio::test(start_paused = true)]
async fn an_error_queued_for_a_datagram_socket_is_its_answer() {
    let router: IpAddr = "198.51.100.1".parse().unwrap();
    let fake = FakeTransport::datagram_v4();
    fake.script(move |request| {
        vec![Answer::queued_error(
            request,
            router,
            v4::TIME_EXCEEDED,
            0,
            RTT,
        )]
    });
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    launch(&engine, &probe(HOST_V4, b"abc"), &inbox, 1);
    let answers = answers(&inbox).await;
    let reply = answers[0].1.as_ref().unwrap();
    assert_eq!(reply.source(), router);
    assert!(matches!(
        reply.raise_for_status(),
        Err(Error::TimeExceeded { source, .. }) if source == router
    ));
}

/// An MPLS label stack extension (RFC 4950): label 100, bottom of stack, TTL 1, after an
/// RFC 4884 extension header with its checksum.
const MPLS_EXTENSION: [u8; 12] = [
    0x20, 0x00, 0x9d, 0xef, 0x00, 0x08, 0x01, 0x01, 0x00, 0x06, 0x41, 0x01,
];

#[tokio::test(start_paused = true)]
async fn a_time_exceeded_with_padding_and_extensions_is_its_answer() {
    // The quote padded to 128 bytes then an MPLS extension, with the RFC 4884 length
    // and in the form of older routers (length 0): the padding is not the payload.
    let router: IpAddr = "2001:db8:ff::1".parse().unwrap();
    for layout in [QuoteLayout::Rfc4884, QuoteLayout::Padded128] {
        let fake = FakeTransport::raw_v6();
        fake.script(move |request| {
            vec![Answer::v6_error_extended(
                request,
                router,
                (v6::TIME_EXCEEDED, 0),
                Some((layout, &MPLS_EXTENSION)),
                RTT,
            )]
        });
        let engine = fake.engine();
        let inbox = Arc::new(Inbox::default());
        launch(&engine, &probe(HOST_V6, b"abc"), &inbox, 1);
        // Settled, not awaited: a quote that does not match would never answer.
        let answers = settled(&inbox).await;
        assert_eq!(
            answers.len(),
            1,
            "{layout:?}: the error is the probe's answer"
        );
        let reply = answers[0].1.as_ref().unwrap();
        assert_eq!(reply.source(), router, "{layout:?}");
        assert!(matches!(
            reply.raise_for_status(),
            Err(Error::TimeExceeded { source, .. }) if source == router
        ));
    }
}

#[tokio::test(start_paused = true)]
async fn a_queued_error_with_padding_and_extensions_is_its_answer() {
    // What the kernel queues for such a message: the request, the zero padding to 128
    // bytes (with the 20-byte IPv4 header it stripped), the extension; or padding alone.
    let router: IpAddr = "198.51.100.1".parse().unwrap();
    let payload = b"abc";
    let padding = 128 - 20 - 8 - payload.len();
    let mut extended = vec![0; padding];
    extended.extend_from_slice(&MPLS_EXTENSION);
    for trailer in [extended, vec![0; padding]] {
        let fake = FakeTransport::datagram_v4();
        let queued = trailer.clone();
        fake.script(move |request| {
            vec![Answer::queued_error_with(
                request,
                router,
                (v4::TIME_EXCEEDED, 0),
                &queued,
                RTT,
            )]
        });
        let engine = fake.engine();
        let inbox = Arc::new(Inbox::default());
        launch(&engine, &probe(HOST_V4, payload), &inbox, 1);
        let answers = settled(&inbox).await;
        assert_eq!(
            answers.len(),
            1,
            "{} bytes after: not an answer",
            trailer.len()
        );
        let reply = answers[0].1.as_ref().unwrap();
        assert_eq!(reply.source(), router, "{} bytes after", trailer.len());
    }
}

#[tokio::test(start_paused = true)]
async fn a_queued_error_quoting_another_payload_is_not_taken() {
    // Cut to the request's length, the quote must still be the request's payload.
    let router: IpAddr = "198.51.100.1".parse().unwrap();
    let fake = FakeTransport::datagram_v4();
    fake.script(move |request| {
        let mut answer = Answer::queued_error(request, router, v4::TIME_EXCEEDED, 0, RTT);
        let last = answer.bytes.len() - 1;
        answer.bytes[last] ^= 0xff;
        answer.bytes.extend_from_slice(&[0; 40]);
        vec![answer]
    });
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    launch(&engine, &probe(HOST_V4, b"abc"), &inbox, 1);
    assert!(settled(&inbox).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_corrupt_reply_is_not_taken() {
    let fake = FakeTransport::datagram_v4();
    fake.script(|request| {
        let mut corrupt = Answer::reply(request, RTT);
        let last = corrupt.bytes.len() - 1;
        corrupt.bytes[last] ^= 0x20;
        vec![corrupt]
    });
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    launch(&engine, &probe(HOST_V4, b"abc"), &inbox, 1);
    assert!(settled(&inbox).await.is_empty());
    assert_eq!(engine.in_flight(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_full_send_buffer_holds_the_request_until_there_is_room() {
    let fake = FakeTransport::raw_v6();
    fake.echo(RTT);
    fake.set_full(true);
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    let launched = engine
        .launch(&probe(HOST_V6, b"abc"), &inbox, 1)
        .expect("registered");
    let Sending::Blocked(send) = launched.sending else {
        panic!("the buffer was full")
    };
    let sending = tokio::spawn(send);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(fake.sent().is_empty());
    fake.set_full(false);
    let sent_at = sending.await.unwrap().unwrap();
    assert_eq!(fake.sent().len(), 1);
    assert_eq!(fake.sent()[0].at, sent_at);
    let answers = answers(&inbox).await;
    assert!(answers[0].1.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_deadline_asks_the_reader_for_what_it_did_not_notice() {
    let fake = FakeTransport::raw_v6();
    fake.script(|request| vec![Answer::reply(request, RTT).unnoticed()]);
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    launch(&engine, &probe(HOST_V6, b"abc"), &inbox, 1);
    let deadline = clock::now() + Duration::from_secs(2);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut answers = Vec::new();
    inbox.take(&mut answers);
    assert!(answers.is_empty(), "the reader was not woken");
    assert_eq!(fake.queued(), 1);
    // The deadline passed: the engine must read before the request may time out.
    poll_fn(|cx| engine.poll_drained(deadline, cx)).await;
    inbox.take(&mut answers);
    assert_eq!(answers.len(), 1);
    let reply = answers[0].1.as_ref().unwrap();
    assert!(reply.time() <= deadline, "it arrived in time");
    // Drained past the deadline: ready at once from now on.
    let ready = poll_fn(|cx| Poll::Ready(engine.poll_drained(deadline, cx))).await;
    assert!(ready.is_ready());
}

#[tokio::test(start_paused = true)]
async fn a_raw_engine_takes_another_identifier_once_a_peer_has_65_536_requests_in_flight() {
    let fake = FakeTransport::raw_v6();
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    let probe = probe(HOST_V6, b"");
    for token in 0..70_000 {
        engine.launch(&probe, &inbox, token).expect("room");
    }
    assert_eq!(engine.in_flight(), 70_000);
    // Two identifiers, and within each, every key once.
    let mut keys: Vec<(u16, u16)> = fake
        .sent()
        .iter()
        .map(|sent| (sent.request.id(), sent.request.sequence()))
        .collect();
    let ids: std::collections::BTreeSet<u16> = keys.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 70_000);
    // The filter keeps both.
    let mut kept = fake.kept_ids().expect("a filter");
    kept.sort_unstable();
    assert_eq!(kept, ids.iter().copied().collect::<Vec<_>>());
    // An identifier the caller chose is kept, and its 65,536 numbers are all there is.
    let mut chosen = probe.clone();
    chosen.id = Some(7);
    for token in 0..65_536 {
        engine.launch(&chosen, &inbox, token).expect("room");
    }
    let refused = engine.launch(&chosen, &inbox, 65_536);
    assert!(
        matches!(refused, Err(Error::InvalidOption { .. })),
        "{:?}",
        refused.err()
    );
}

#[tokio::test(start_paused = true)]
async fn a_datagram_engine_refuses_the_65_537th_request_to_a_peer_at_once() {
    let fake = FakeTransport::datagram_v4();
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    let probe = probe(HOST_V4, b"");
    for token in 0..65_536 {
        engine.launch(&probe, &inbox, token).expect("room");
    }
    let refused = engine.launch(&probe, &inbox, 65_536);
    assert!(
        matches!(refused, Err(Error::InvalidOption { .. })),
        "{:?}",
        refused.err()
    );
    // Another peer has room.
    assert!(engine.launch(&probe_to("192.0.2.8"), &inbox, 1).is_ok());
}

fn probe_to(destination: &str) -> Probe {
    probe(destination, b"")
}

#[tokio::test(start_paused = true)]
async fn the_receive_buffer_grows_with_the_requests_in_flight() {
    let fake = FakeTransport::raw_v6();
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    for token in 0..10_000 {
        let destination = format!("2001:db8::{:x}", token + 1);
        engine
            .launch(&probe_to(&destination), &inbox, token)
            .unwrap();
    }
    let sizes = fake.recv_buffer_sizes();
    assert_eq!(sizes[0], DEFAULT_RECV_BUFFER);
    let largest = sizes.iter().copied().max().unwrap();
    assert!(largest >= 10_000 * BUFFER_PER_REQUEST, "{sizes:?}");
    assert!(sizes.windows(2).all(|pair| pair[0] < pair[1]), "{sizes:?}");
}

/// A raw socket's filter keeps the engine's own identifier from the start, and each
/// identifier a request leaves with before it leaves (chosen or extra): replies to
/// all of them are answered; the filter stays whatever the identifiers, and goes only
/// while more are in flight at once than it holds. (On the fake, replies with an identifier the filter does not keep never
/// arrive, as in the kernel.)
#[tokio::test(start_paused = true)]
async fn a_raw_engine_filters_replies_to_the_identifiers_it_sends_with() {
    let fake = FakeTransport::raw_v6();
    fake.echo(RTT);
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    launch(&engine, &probe(HOST_V6, b""), &inbox, 0);
    let own = fake.sent()[0].request.id();
    assert_eq!(fake.kept_ids(), Some(vec![own]));
    assert_eq!(answers(&inbox).await.len(), 1);
    let mut chosen = probe(HOST_V6, b"");
    for (token, id) in (1..).zip(own.wrapping_add(100)..own.wrapping_add(115)) {
        chosen.id = Some(id);
        launch(&engine, &chosen, &inbox, token);
        let answered = answers(&inbox).await;
        assert!(
            matches!(answered[..], [(t, Ok(_))] if t == token),
            "{answered:?}"
        );
    }
    // 300 chosen identifiers one after the other: the filter stays, the identifiers no
    // request uses leaving it as room is needed (it once went for good at the 17th).
    for (token, id) in (100..).zip(own.wrapping_add(1_000)..own.wrapping_add(1_300)) {
        chosen.id = Some(id);
        launch(&engine, &chosen, &inbox, token);
        assert!(matches!(answers(&inbox).await[..], [(t, Ok(_))] if t == token));
        let kept = fake.kept_ids().expect("a filter, whatever the identifiers");
        assert!(kept.contains(&own) && kept.contains(&id), "{id}: {kept:?}");
        assert!(kept.len() <= crate::socket::sys::MAX_FILTER_IDS);
    }
    // More chosen identifiers in flight at once than a filter holds: every reply is
    // kept meanwhile, and every request answered.
    let many: Vec<u16> = (0..300).map(|n| own.wrapping_add(2_000 + n)).collect();
    for (token, id) in (1_000..).zip(&many) {
        chosen.id = Some(*id);
        launch(&engine, &chosen, &inbox, token);
    }
    assert_eq!(fake.kept_ids(), None);
    assert_eq!(settled(&inbox).await.len(), many.len());
    // Once they left, the filter comes back.
    for token in 2_000..2_064 {
        launch(&engine, &probe(HOST_V6, b""), &inbox, token);
    }
    assert_eq!(fake.kept_ids(), Some(vec![own]));
    assert_eq!(settled(&inbox).await.len(), 64);
    // A datagram socket has no such filter (the kernel gives it its own replies).
    let datagram = FakeTransport::datagram_v4();
    let _engine = datagram.engine();
    assert_eq!(datagram.kept_ids(), None);
}
