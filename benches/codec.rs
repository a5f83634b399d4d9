//! Codec micro-benchmarks: encode an echo request, parse an echo reply (with its IPv4
//! header) and an ICMP error quoting a request. Prints nanoseconds per operation, the
//! median of several rounds, next to a plain byte copy of the same size as a reference.
//!
//! `cargo bench --bench codec`

use std::hint::black_box;
use std::time::Instant;

use icmplib::Family;
use icmplib::packet::{EchoKind, Ipv4Header, Message, Quote, emit_echo};

const ROUNDS: usize = 9;
const ITERATIONS: u32 = 200_000;

/// Median nanoseconds per call of `f` over [`ROUNDS`] rounds.
fn measure(mut f: impl FnMut()) -> f64 {
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..ITERATIONS {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(ITERATIONS)
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[ROUNDS / 2]
}

fn main() {
    let payload = [0x5au8; 56];
    let mut reply = vec![
        0x45, 0, 0, 84, 0, 0, 0, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
    ];
    emit_echo(Family::V4, EchoKind::Reply, 7, 1, &payload, &mut reply);
    let mut quoted = reply[..28].to_vec();
    quoted[20] = 8; // the quoted message is the request
    let mut error = Vec::new();
    Message::TimeExceeded {
        code: 0,
        quote: Quote::new(&quoted),
    }
    .emit(Family::V4, &mut error);

    let mut out = Vec::with_capacity(128);
    let copy = measure(|| {
        out.clear();
        out.extend_from_slice(black_box(&reply));
        black_box(&out);
    });
    let encode = measure(|| {
        out.clear();
        emit_echo(
            Family::V4,
            EchoKind::Request,
            black_box(7),
            1,
            &payload,
            &mut out,
        );
        black_box(&out);
    });
    let parse_reply = measure(|| {
        let (_, icmp) = Ipv4Header::parse(black_box(&reply)).unwrap();
        black_box(Message::parse(Family::V4, icmp).unwrap());
    });
    let parse_error = measure(|| {
        let message = Message::parse(Family::V4, black_box(&error)).unwrap();
        black_box(message.quote().and_then(|quote| quote.request(Family::V4)));
    });
    println!("reference: copy {} bytes   {copy:8.1} ns", reply.len());
    for (name, ns) in [
        ("encode echo request (56 B)", encode),
        ("parse IPv4 + echo reply", parse_reply),
        ("parse time exceeded + quote", parse_error),
    ] {
        println!("{name:<28} {ns:8.1} ns   {:5.1}x the copy", ns / copy);
    }
}
