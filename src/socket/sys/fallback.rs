//! Batch reads and the identifier filter on the systems without Linux's `recvmmsg(2)` and
//! socket filters (macOS, FreeBSD, Windows, any other; Linux's are in `unix/linux/`): a
//! batch reads one datagram per call through the backend's `recv`, and no identifier
//! filter can be set.

use std::io;

use socket2::Socket;

use super::Datagram;
use crate::family::Family;

/// Room for one datagram of up to `slot` bytes, and what the last read put there.
pub(crate) struct RecvBatch {
    slot: usize,
    buffers: Vec<u8>,
    datagrams: Vec<Datagram>,
}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch")
            .field("slot", &self.slot)
            .field("datagrams", &self.datagrams.len())
            .finish()
    }
}

impl RecvBatch {
    /// Room for a datagram of `slot` bytes.
    pub(crate) fn new(slot: usize) -> RecvBatch {
        RecvBatch {
            slot,
            buffers: vec![0; slot],
            datagrams: Vec::with_capacity(1),
        }
    }

    /// Datagram `index` of the last read, with its slot (its bytes are the first
    /// `datagram.len`).
    pub(crate) fn get(&self, index: usize) -> (&Datagram, &[u8]) {
        super::datagram_in(&self.datagrams, &self.buffers, self.slot, index)
    }

    /// Reads one queued datagram without blocking (`WouldBlock` when none is).
    pub(crate) fn recv(&mut self, socket: &Socket) -> io::Result<usize> {
        self.datagrams.clear();
        let slot = self.slot;
        let datagram = super::recv(socket, &mut self.buffers[..slot])?;
        self.datagrams.push(datagram);
        Ok(1)
    }

    /// Reads one entry of the error queue without blocking: `WouldBlock` when it is
    /// empty, and always on systems without an error queue.
    pub(crate) fn recv_error_queue(&mut self, socket: &Socket) -> io::Result<usize> {
        self.datagrams.clear();
        let slot = self.slot;
        let datagram = super::recv_error_queue(socket, &mut self.buffers[..slot])?;
        self.datagrams.push(datagram);
        Ok(1)
    }
}

/// No identifier filter here.
///
/// # Errors
/// `InvalidInput` for no identifier or more than [`MAX_FILTER_IDS`](super::MAX_FILTER_IDS),
/// as on Linux; else `Unsupported`.
pub(crate) fn keep_ids(_: &Socket, _: Family, ids: &[u16]) -> io::Result<()> {
    super::check_filter_ids(ids)?;
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "identifier filters on raw sockets exist on Linux only",
    ))
}

/// None is ever set here: `Ok`.
pub(crate) fn keep_all_ids(_: &Socket) -> io::Result<()> {
    Ok(())
}
