//! The Internet checksum (RFC 1071) and the ICMPv6 pseudo-header (RFC 4443 §2.3).

use std::net::Ipv6Addr;

/// Adds `data` to a running one's-complement sum as big-endian 16-bit words
/// (an odd last byte is padded with zero). Fold the result with [`fold`].
///
/// Eight bytes are summed at a time as two 32-bit words into a 64-bit accumulator: the
/// one's-complement sum is the same modulo 0xffff, and folds down at the end.
pub(crate) fn accumulate(sum: u32, data: &[u8]) -> u32 {
    let mut wide = u64::from(sum);
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let word = u64::from_be_bytes(bytes);
        // Two 32-bit halves: at most 2^33 per chunk, so 2^31 chunks cannot overflow.
        wide += (word >> 32) + (word & 0xffff_ffff);
    }
    let mut words = chunks.remainder().chunks_exact(2);
    for word in &mut words {
        wide += u64::from(u16::from_be_bytes([word[0], word[1]]));
    }
    if let [last] = words.remainder() {
        wide += u64::from(*last) << 8;
    }
    while wide > 0xffff_ffff {
        wide = (wide & 0xffff_ffff) + (wide >> 32);
    }
    wide as u32
}

/// Folds a running sum into 16 bits and complements it.
pub(crate) fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The Internet checksum of `data` (RFC 1071), as used by ICMPv4 and IPv4 headers.
///
/// Computing it over a message whose checksum field is already filled in gives 0 when
/// the message is intact.
///
/// ```
/// // The example of RFC 1071 §3.
/// let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
/// assert_eq!(icmplib::packet::checksum(&data), !0xddf2);
/// ```
pub fn checksum(data: &[u8]) -> u16 {
    fold(accumulate(0, data))
}

/// The fewest payload bytes [`keep_flow_sum`] needs: the two it sets.
pub const FLOW_BYTES: usize = 2;

/// Sets the first two bytes of an echo request's `payload` so that its sequence number and
/// payload add up (one's complement, as the checksum adds) to `sum`: requests to one
/// destination with the same identifier and payload length then all carry the same ICMP
/// checksum, whatever their sequence numbers and the rest of their payloads (ICMP-Paris:
/// a router that balances by a hash of the ICMP header sends them all the same way). The
/// identifier need not be known: a datagram socket's kernel fills it in, the same for
/// every request of the socket.
///
/// `sum` must be 1 to 0xfffe (0 and 0xffff are one's complement's two zeros, which the
/// checksum would not tell apart); `false`, with the payload untouched, for another sum
/// or a payload shorter than [`FLOW_BYTES`].
///
/// ```
/// use icmplib::Family;
/// use icmplib::packet::{EchoKind, emit_echo, keep_flow_sum};
///
/// let mut checksums = Vec::new();
/// for (sequence, filler) in [(1, 0x00), (2, 0x5a), (700, 0xff)] {
///     let mut payload = vec![filler; 56];
///     assert!(keep_flow_sum(sequence, &mut payload, 0x1234));
///     let mut message = Vec::new();
///     emit_echo(Family::V4, EchoKind::Request, 7, sequence, &payload, &mut message);
///     checksums.push([message[2], message[3]]);
/// }
/// assert!(checksums.windows(2).all(|pair| pair[0] == pair[1]));
/// ```
pub fn keep_flow_sum(sequence: u16, payload: &mut [u8], sum: u16) -> bool {
    if !(1..=0xfffe).contains(&sum) || payload.len() < FLOW_BYTES {
        return false;
    }
    payload[..FLOW_BYTES].fill(0);
    // What the sequence number and the payload add up to without the two bytes, folded
    // (not complemented).
    let rest = !fold(accumulate(u32::from(sequence), payload));
    // rest + (sum + !rest) = sum + 0xffff = sum, in one's complement, for sum in 1..=0xfffe.
    let compensation = !fold(u32::from(sum) + u32::from(!rest));
    payload[..FLOW_BYTES].copy_from_slice(&compensation.to_be_bytes());
    true
}

/// The ICMPv6 checksum of `message` sent from `source` to `destination`: the Internet
/// checksum over the IPv6 pseudo-header (RFC 8200 §8.1) followed by the message.
///
/// The kernel computes and verifies this checksum for ICMPv6 sockets; it is exposed for
/// code that writes or checks packets itself (a TUN device, a capture).
pub fn icmpv6_checksum(source: &Ipv6Addr, destination: &Ipv6Addr, message: &[u8]) -> u16 {
    let mut sum = accumulate(0, &source.octets());
    sum = accumulate(sum, &destination.octets());
    let length = u32::try_from(message.len()).unwrap_or(u32::MAX);
    sum = accumulate(sum, &length.to_be_bytes());
    sum = accumulate(sum, &[0, 0, 0, super::IPPROTO_ICMPV6]);
    fold(accumulate(sum, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Straight from the definition: sum of 16-bit words with end-around carry.
    fn reference(data: &[u8]) -> u16 {
        let mut sum: u64 = 0;
        for chunk in data.chunks(2) {
            let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
            sum += u64::from(word);
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded).
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(
            checksum(&[0x12, 0x34, 0x56]),
            checksum(&[0x12, 0x34, 0x56, 0x00])
        );
    }

    #[test]
    fn empty_and_all_ones() {
        assert_eq!(checksum(&[]), 0xffff);
        assert_eq!(checksum(&[0xff; 4096]), 0x0000);
    }

    proptest! {
        #[test]
        fn matches_reference(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
            prop_assert_eq!(checksum(&data), reference(&data));
        }

        #[test]
        fn inserted_checksum_verifies(mut data in proptest::collection::vec(any::<u8>(), 4..600)) {
            data[2] = 0;
            data[3] = 0;
            let sum = checksum(&data);
            data[2..4].copy_from_slice(&sum.to_be_bytes());
            prop_assert_eq!(checksum(&data), 0);
        }

        #[test]
        fn icmpv6_inserted_checksum_verifies(
            src in any::<[u8; 16]>(),
            dst in any::<[u8; 16]>(),
            mut data in proptest::collection::vec(any::<u8>(), 8..600),
        ) {
            let (src, dst) = (Ipv6Addr::from(src), Ipv6Addr::from(dst));
            data[2] = 0;
            data[3] = 0;
            let sum = icmpv6_checksum(&src, &dst, &data);
            data[2..4].copy_from_slice(&sum.to_be_bytes());
            prop_assert_eq!(icmpv6_checksum(&src, &dst, &data), 0);
        }

        /// Whatever the sequence number and the rest of the payload, the two bytes make
        /// them add up to the sum asked for; sums that are one's complement zeros and
        /// payloads too short are refused untouched.
        #[test]
        fn a_flow_sum_is_kept(
            sequence in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..80),
            sum in any::<u16>(),
        ) {
            let mut kept = payload.clone();
            let done = keep_flow_sum(sequence, &mut kept, sum);
            prop_assert_eq!(done, payload.len() >= FLOW_BYTES && (1..=0xfffe).contains(&sum));
            if done {
                prop_assert_eq!(&kept[FLOW_BYTES..], &payload[FLOW_BYTES..]);
                let mut data = sequence.to_be_bytes().to_vec();
                data.extend_from_slice(&kept);
                prop_assert_eq!(!checksum(&data), sum);
            } else {
                prop_assert_eq!(kept, payload);
            }
        }
    }
}
