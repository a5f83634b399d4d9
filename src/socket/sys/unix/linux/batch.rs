//! Reading many datagrams per system call: `recvmmsg(2)`.

use std::os::fd::AsRawFd;
use std::{io, mem, ptr};

use socket2::Socket;

use super::super::address::socket_address;
use super::super::control::{ControlBuffer, read_control_messages};
use super::super::recv::recv_error_queue;
use crate::socket::sys::Datagram;

/// Datagrams read per call at most.
pub(crate) const BATCH: usize = 64;

/// Buffers for up to [`BATCH`] datagrams of up to `slot` bytes each, with their
/// addresses and control messages, and what the last read put in them.
///
/// The message headers `recvmmsg(2)` reads are made once, pointing into the
/// buffers; a read only resets the lengths the kernel wrote back into the headers the last
/// read filled. Zeroing 64 headers per call was measured at 38 % of the instructions of a
/// ping (callgrind, 20,000 pings one after the other, `benches/ping.rs`).
pub(crate) struct RecvBatch {
    slot: usize,
    buffers: Slots,
    datagrams: Vec<Datagram>,
    names: Vec<libc::sockaddr_storage>,
    controls: Vec<ControlBuffer>,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
    /// Headers the last read filled, whose lengths it changed.
    filled: usize,
}

// SAFETY: the raw pointers in `iovecs` and `headers` point into the memory of `buffers`
// (a mapping or heap memory, see `Slots`), `names`, `controls` and `iovecs`, which the
// batch owns and never resizes, so they move with it and stay valid; nothing else holds
// them.
unsafe impl Send for RecvBatch {}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl RecvBatch {
    /// Room for [`BATCH`] datagrams of `slot` bytes. The memory is only touched as
    /// datagrams arrive, so a large slot costs address space, not resident memory
    /// ([`Slots`]).
    pub(crate) fn new(slot: usize) -> RecvBatch {
        let mut batch = RecvBatch {
            slot,
            buffers: Slots::new(slot * BATCH),
            datagrams: Vec::with_capacity(BATCH),
            // SAFETY: an all-zero `sockaddr_storage` is a valid (AF_UNSPEC) address.
            names: vec![unsafe { mem::zeroed() }; BATCH],
            controls: (0..BATCH).map(|_| ControlBuffer::new()).collect(),
            iovecs: Vec::with_capacity(BATCH),
            headers: Vec::with_capacity(BATCH),
            filled: BATCH,
        };
        batch.point_headers();
        batch
    }

    /// Makes the iovecs and message headers, each pointing to its slot, address storage
    /// and control buffer. The pointers come from `as_mut_ptr`, which makes no reference
    /// that a later borrow of the vectors could invalidate.
    fn point_headers(&mut self) {
        let buffers = self.buffers.as_mut_ptr();
        let names = self.names.as_mut_ptr();
        let controls = self.controls.as_mut_ptr();
        for index in 0..BATCH {
            // SAFETY: `index * slot` lies inside `buffers`, BATCH slots long.
            let slot = unsafe { buffers.add(index * self.slot) };
            self.iovecs.push(libc::iovec {
                iov_base: slot.cast(),
                iov_len: self.slot,
            });
        }
        let iovecs = self.iovecs.as_mut_ptr();
        for index in 0..BATCH {
            // SAFETY: an all-zero `mmsghdr` is valid (null pointers, zero lengths).
            let mut header: libc::mmsghdr = unsafe { mem::zeroed() };
            // SAFETY: `index < BATCH`, the length of `iovecs`, `names` and `controls`.
            unsafe {
                header.msg_hdr.msg_iov = iovecs.add(index);
                header.msg_hdr.msg_name = names.add(index).cast();
                header.msg_hdr.msg_control = controls.add(index).cast();
            }
            header.msg_hdr.msg_iovlen = 1;
            self.headers.push(header);
        }
    }

    /// Datagram `index` of the last read, with its slot (its bytes are the first
    /// `datagram.len`).
    pub(crate) fn get(&self, index: usize) -> (&Datagram, &[u8]) {
        crate::socket::sys::datagram_in(&self.datagrams, self.buffers.as_slice(), self.slot, index)
    }

    /// Reads what is queued, up to [`BATCH`] datagrams, without blocking (`WouldBlock`
    /// when nothing is), and returns how many.
    pub(crate) fn recv(&mut self, socket: &Socket) -> io::Result<usize> {
        self.datagrams.clear();
        // The kernel wrote back the lengths of the headers it filled: reset them.
        for header in self.headers.iter_mut().take(self.filled) {
            header.msg_hdr.msg_namelen =
                mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_hdr.msg_controllen = mem::size_of::<ControlBuffer>() as _;
            header.msg_hdr.msg_flags = 0;
            header.msg_len = 0;
        }
        self.filled = 0;
        // SAFETY: each of the BATCH headers points to its own slot, address storage and
        // control buffer (`point_headers`), all owned by `self`, writable for their stated
        // lengths and alive for the call.
        let received = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.headers.as_mut_ptr(),
                self.headers.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
                ptr::null_mut(),
            )
        };
        if received < 0 {
            return Err(io::Error::last_os_error());
        }
        self.filled = received as usize;
        for (index, header) in self.headers.iter().take(received as usize).enumerate() {
            let msg = &header.msg_hdr;
            // SAFETY: the kernel wrote `msg_namelen` bytes of an address into the storage
            // this header points to.
            let source = unsafe {
                socket_address(
                    ptr::from_ref(&self.names[index]).cast(),
                    msg.msg_namelen as usize,
                )
            };
            let mut datagram = Datagram::received(
                (header.msg_len as usize).min(self.slot),
                msg.msg_flags & libc::MSG_TRUNC != 0,
                source,
            );
            // SAFETY: `msg` describes the control messages the kernel wrote into this
            // slot's control buffer (msg_controllen was updated by recvmmsg).
            unsafe { read_control_messages(msg, &mut datagram) };
            self.datagrams.push(datagram);
        }
        Ok(self.datagrams.len())
    }

    /// Reads one entry of the error queue (`MSG_ERRQUEUE`) into the first slot, without
    /// blocking (`WouldBlock` when it is empty).
    pub(crate) fn recv_error_queue(&mut self, socket: &Socket) -> io::Result<usize> {
        self.datagrams.clear();
        let slot = self.slot;
        let datagram = recv_error_queue(socket, &mut self.buffers.as_mut_slice()[..slot])?;
        self.datagrams.push(datagram);
        Ok(1)
    }
}

/// The memory of a batch's slots: an anonymous mapping of its own (`mmap(2)`), never
/// memory the allocator handed out before. Its pages stay the kernel's shared zero page
/// until a datagram is written into them, so a batch costs resident memory only for what
/// its datagrams touched: a page a slot for echo replies, 256 KiB for the 64 slots. A
/// `vec![0; 4 MiB]` cost that too while the heap was fresh, but once sockets had been
/// opened and closed the allocator handed back used memory, which it zeroed: 3.7 MB
/// resident a socket (measured). Where the mapping fails, heap memory as before.
enum Slots {
    Mapped { start: ptr::NonNull<u8>, len: usize },
    Heap(Vec<u8>),
}

impl Slots {
    fn new(len: usize) -> Slots {
        // SAFETY: a new private anonymous mapping, placed by the kernel: it touches no
        // memory of the process.
        let start = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        match ptr::NonNull::new(start.cast::<u8>()) {
            Some(start) if start.as_ptr() != libc::MAP_FAILED.cast() && len > 0 => {
                Slots::Mapped { start, len }
            }
            _ => Slots::Heap(vec![0; len]),
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            // SAFETY: the mapping is `len` bytes, readable, zero-filled by the kernel
            // (so initialised), and lives as long as `self`.
            Slots::Mapped { start, len } => unsafe {
                std::slice::from_raw_parts(start.as_ptr(), *len)
            },
            Slots::Heap(buffer) => buffer,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        match self {
            // SAFETY: as in `as_slice`, and writable; `&mut self` makes it unique.
            Slots::Mapped { start, len } => unsafe {
                std::slice::from_raw_parts_mut(start.as_ptr(), *len)
            },
            Slots::Heap(buffer) => buffer,
        }
    }

    fn as_mut_ptr(&mut self) -> *mut u8 {
        match self {
            Slots::Mapped { start, .. } => start.as_ptr(),
            Slots::Heap(buffer) => buffer.as_mut_ptr(),
        }
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        if let Slots::Mapped { start, len } = self {
            // SAFETY: the mapping made in `new`, unmapped once: nothing borrows it any
            // more (the batch's headers pointing into it go with the batch).
            unsafe { libc::munmap(start.as_ptr().cast(), *len) };
        }
    }
}
