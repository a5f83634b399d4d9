//! Flow-stable probes through the engine on the fake transport: the payload made once the
//! sequence number is chosen keeps the checksum, and the answers still match.

use std::collections::HashSet;
use std::sync::Arc;

use super::fake::FakeTransport;
use super::tests::{HOST_V4, RTT, answers, launch, probe};
use super::*;
use crate::socket::request::random_payload;

/// The ICMP checksums of what the fake transport sent, from the `from`th request on.
fn checksums_sent(fake: &FakeTransport, from: usize) -> Vec<u16> {
    fake.sent()[from..]
        .iter()
        .map(|sent| {
            let mut message = Vec::new();
            sent.request.encode(&mut message);
            u16::from_be_bytes([message[2], message[3]])
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_probes_of_a_flow_keep_one_checksum_and_are_answered() {
    let fake = FakeTransport::datagram_v4();
    fake.echo(RTT);
    let engine = fake.engine();
    let inbox = Arc::new(Inbox::default());
    for token in 0..8 {
        let mut flowing = probe(HOST_V4, &random_payload(56));
        flowing.flow = Some(0x4242);
        launch(&engine, &flowing, &inbox, token);
    }
    let answers = answers(&inbox).await;
    assert_eq!(answers.len(), 8);
    assert!(
        answers.iter().all(|(_, reply)| reply.is_ok()),
        "{answers:?}"
    );
    let sent = fake.sent();
    let checksums = checksums_sent(&fake, 0);
    let sequences: HashSet<u16> = sent.iter().map(|sent| sent.request.sequence()).collect();
    assert_eq!(sequences.len(), 8, "each its own sequence number");
    assert!(
        checksums.windows(2).all(|pair| pair[0] == pair[1]),
        "{checksums:x?}"
    );
    // Without a flow, the checksums vary with the sequence numbers and payloads.
    for token in 8..16 {
        launch(&engine, &probe(HOST_V4, &random_payload(56)), &inbox, token);
    }
    let varying: HashSet<u16> = checksums_sent(&fake, 8).into_iter().collect();
    assert!(varying.len() > 1);
}
