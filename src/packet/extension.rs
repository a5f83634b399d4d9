//! The objects of an RFC 4884 extension structure — what routers append to Time Exceeded
//! and Destination Unreachable after the quoted datagram ([`Quote::extensions`]) — and the
//! one kind of object traceroutes show: an MPLS label stack (RFC 4950), the labels a
//! packet carried when it expired inside an MPLS tunnel.
//!
//! ```text
//! extension header:  version (4 bits) = 2 | reserved (12) | checksum (16)
//! each object:       length (16, header included) | class (8) | C-type (8) | payload
//! MPLS entry (4):    label (20) | traffic class (3) | bottom of stack (1) | TTL (8)
//! ```
//!
//! Parsing cannot panic on any bytes: a structure that is not one (version, checksum, an
//! object's length) is refused whole, as [`is_extension_structure`] refuses it.
//!
//! [`Quote::extensions`]: super::Quote::extensions

use super::ParseError;
use super::quote::is_extension_structure;

/// The length of the extension header.
const HEADER_LEN: usize = 4;
/// The length of an object's header (length, class, C-type).
const OBJECT_HEADER_LEN: usize = 4;
/// The length of one MPLS label stack entry.
const MPLS_ENTRY_LEN: usize = 4;

/// The class number of an MPLS label stack object (RFC 4950).
pub const MPLS_CLASS: u8 = 1;
/// The C-type of the incoming MPLS label stack (RFC 4950).
pub const MPLS_INCOMING_STACK: u8 = 1;

/// One object of an extension structure: its class and C-type, and its payload as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtensionObject<'a> {
    /// The class number: 1 MPLS label stack (RFC 4950), 2 interface information (RFC
    /// 5837), 3 interface identification (RFC 8335), ...
    pub class: u8,
    /// The type within the class.
    pub c_type: u8,
    /// The bytes after the object's header.
    pub payload: &'a [u8],
}

impl<'a> ExtensionObject<'a> {
    /// The label stack entries of an MPLS label stack object (class 1, C-type 1), top of
    /// the stack first; `None` for another object, or one whose length is not a multiple
    /// of an entry's 4 bytes.
    pub fn mpls_labels(&self) -> Option<impl Iterator<Item = MplsLabel> + use<'a>> {
        let stack = self.class == MPLS_CLASS
            && self.c_type == MPLS_INCOMING_STACK
            && self.payload.len().is_multiple_of(MPLS_ENTRY_LEN);
        stack.then(|| {
            self.payload
                .chunks_exact(MPLS_ENTRY_LEN)
                .map(|entry| MplsLabel::from_bytes([entry[0], entry[1], entry[2], entry[3]]))
        })
    }
}

/// One MPLS label stack entry (RFC 3032), as mtr prints it: `Lbl 100 TC 0 S 1 TTL 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MplsLabel {
    /// The label (20 bits).
    pub label: u32,
    /// The traffic class, once called EXP (3 bits; RFC 5462).
    pub traffic_class: u8,
    /// The bottom of the stack: the last entry.
    pub bottom_of_stack: bool,
    /// The entry's TTL.
    pub ttl: u8,
}

impl MplsLabel {
    /// The entry held in these 4 bytes.
    pub fn from_bytes(bytes: [u8; 4]) -> MplsLabel {
        let word = u32::from_be_bytes(bytes);
        MplsLabel {
            label: word >> 12,
            traffic_class: ((word >> 9) & 0x7) as u8,
            bottom_of_stack: (word >> 8) & 1 == 1,
            ttl: (word & 0xff) as u8,
        }
    }

    /// The 4 bytes of this entry (the label cut to 20 bits, the traffic class to 3).
    pub fn to_bytes(self) -> [u8; 4] {
        let word = ((self.label & 0xf_ffff) << 12)
            | (u32::from(self.traffic_class & 0x7) << 9)
            | (u32::from(self.bottom_of_stack) << 8)
            | u32::from(self.ttl);
        word.to_be_bytes()
    }
}

impl std::fmt::Display for MplsLabel {
    /// `Lbl 100 TC 0 S 1 TTL 1`, as mtr prints an entry.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Lbl {} TC {} S {} TTL {}",
            self.label,
            self.traffic_class,
            u8::from(self.bottom_of_stack),
            self.ttl
        )
    }
}

/// The objects of the extension structure `structure` (its header first, as
/// [`Quote::extensions`](super::Quote::extensions) holds it), in order.
///
/// ```
/// use icmplib::packet::{MplsLabel, parse_extensions};
///
/// // Version 2, checksum; one object of 8 bytes, class 1 (MPLS), C-type 1; label 100.
/// let structure = [
///     0x20, 0x00, 0x9d, 0xef, 0x00, 0x08, 0x01, 0x01, 0x00, 0x06, 0x41, 0x01,
/// ];
/// let objects: Vec<_> = parse_extensions(&structure).unwrap().collect();
/// let labels: Vec<MplsLabel> = objects[0].mpls_labels().unwrap().collect();
/// assert_eq!(labels[0].label, 100);
/// assert_eq!(labels[0].to_string(), "Lbl 100 TC 0 S 1 TTL 1");
/// ```
///
/// # Errors
/// [`ParseError::Malformed`] when the bytes are not an extension structure: another
/// version, a checksum that does not match, no object, or an object whose length is
/// shorter than its header or runs past the end.
pub fn parse_extensions(structure: &[u8]) -> Result<ExtensionObjects<'_>, ParseError> {
    if !is_extension_structure(structure) {
        return Err(ParseError::Malformed("not an RFC 4884 extension structure"));
    }
    Ok(ExtensionObjects {
        rest: structure.get(HEADER_LEN..).unwrap_or_default(),
    })
}

/// The objects of an extension structure, in order ([`parse_extensions`]).
#[derive(Debug, Clone)]
pub struct ExtensionObjects<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ExtensionObjects<'a> {
    type Item = ExtensionObject<'a>;

    fn next(&mut self) -> Option<ExtensionObject<'a>> {
        let header = self.rest.get(..OBJECT_HEADER_LEN)?;
        let length = usize::from(u16::from_be_bytes([header[0], header[1]]));
        // Checked whole by `parse_extensions`; a length that does not fit ends the walk.
        let object = self
            .rest
            .get(..length)
            .filter(|_| length >= OBJECT_HEADER_LEN)?;
        let (class, c_type) = (header[2], header[3]);
        self.rest = &self.rest[length..];
        Some(ExtensionObject {
            class,
            c_type,
            payload: &object[OBJECT_HEADER_LEN..],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::checksum;
    use proptest::prelude::*;

    /// An extension structure holding `objects` (class, C-type, payload), its checksum
    /// filled in.
    fn structure(objects: &[(u8, u8, Vec<u8>)]) -> Vec<u8> {
        let mut bytes = vec![0x20, 0, 0, 0];
        for (class, c_type, payload) in objects {
            let length = u16::try_from(OBJECT_HEADER_LEN + payload.len()).unwrap();
            bytes.extend_from_slice(&length.to_be_bytes());
            bytes.extend_from_slice(&[*class, *c_type]);
            bytes.extend_from_slice(payload);
        }
        let sum = checksum(&bytes);
        bytes[2..4].copy_from_slice(&sum.to_be_bytes());
        bytes
    }

    #[test]
    fn an_mpls_stack_as_routers_send_it() {
        // What `traceroute -I -e` shows as <MPLS:L=100,E=0,S=1,T=1>, tcpdump as "label
        // 100, tc 0, [S], ttl 1", mtr as "[MPLS: Lbl 100 TC 0 S 1 TTL 1]".
        let bytes = [
            0x20, 0x00, 0x9d, 0xef, 0x00, 0x08, 0x01, 0x01, 0x00, 0x06, 0x41, 0x01,
        ];
        let objects: Vec<_> = parse_extensions(&bytes).unwrap().collect();
        assert_eq!(objects.len(), 1);
        let labels: Vec<_> = objects[0].mpls_labels().unwrap().collect();
        assert_eq!(
            labels,
            [MplsLabel {
                label: 100,
                traffic_class: 0,
                bottom_of_stack: true,
                ttl: 1
            }]
        );
        assert_eq!(labels[0].to_bytes(), [0x00, 0x06, 0x41, 0x01]);
    }

    #[test]
    fn a_stack_of_two_and_another_object() {
        let top = MplsLabel {
            label: 0xf_ffff,
            traffic_class: 7,
            bottom_of_stack: false,
            ttl: 255,
        };
        let bottom = MplsLabel {
            label: 16,
            traffic_class: 5,
            bottom_of_stack: true,
            ttl: 0,
        };
        let stack = [top.to_bytes(), bottom.to_bytes()].concat();
        let bytes = structure(&[(1, 1, stack), (2, 0x0c, vec![1, 2, 3, 4])]);
        let objects: Vec<_> = parse_extensions(&bytes).unwrap().collect();
        assert_eq!(objects.len(), 2);
        let labels: Vec<_> = objects[0].mpls_labels().unwrap().collect();
        assert_eq!(labels, [top, bottom]);
        assert_eq!((objects[1].class, objects[1].c_type), (2, 0x0c));
        assert_eq!(objects[1].payload, [1, 2, 3, 4]);
        assert!(objects[1].mpls_labels().is_none(), "not an MPLS object");
        assert_eq!(top.to_string(), "Lbl 1048575 TC 7 S 0 TTL 255");
    }

    #[test]
    fn what_is_not_a_structure_is_refused() {
        let good = structure(&[(1, 1, vec![0, 6, 0x41, 1])]);
        let mut version = good.clone();
        version[0] = 0x10;
        let mut sum = good.clone();
        sum[11] ^= 1;
        let mut long = good.clone();
        long[5] = 9;
        let mut short = good.clone();
        short[5] = 3;
        for bytes in [
            &[][..],
            &good[..3],
            &good[..4],
            &version,
            &sum,
            &long,
            &short,
        ] {
            assert!(parse_extensions(bytes).is_err(), "{bytes:?}");
        }
        // An MPLS object whose length is no multiple of an entry's is no stack.
        let odd = structure(&[(1, 1, vec![0, 6, 0x41])]);
        let object = parse_extensions(&odd).unwrap().next().unwrap();
        assert!(object.mpls_labels().is_none());
    }

    proptest! {
        /// Any bytes: no panic, and the objects found lie within the bytes.
        #[test]
        fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            if let Ok(objects) = parse_extensions(&bytes) {
                let mut seen = HEADER_LEN;
                for object in objects {
                    seen += OBJECT_HEADER_LEN + object.payload.len();
                    prop_assert!(seen <= bytes.len());
                    let _ = object.mpls_labels().map(Iterator::count);
                }
            }
        }

        /// Objects written are the objects read, every label entry included.
        #[test]
        fn objects_round_trip(
            objects in proptest::collection::vec(
                (any::<u8>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..24)),
                1..5,
            ),
        ) {
            let bytes = structure(&objects);
            let read: Vec<_> = parse_extensions(&bytes).unwrap().collect();
            prop_assert_eq!(read.len(), objects.len());
            for (read, (class, c_type, payload)) in read.iter().zip(&objects) {
                prop_assert_eq!((read.class, read.c_type, read.payload), (*class, *c_type, &payload[..]));
                if let Some(labels) = read.mpls_labels() {
                    let again: Vec<u8> = labels.flat_map(MplsLabel::to_bytes).collect();
                    prop_assert_eq!(&again[..], &payload[..]);
                }
            }
        }
    }
}
