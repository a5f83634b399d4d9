//! Reading many datagrams per system call: `recvmmsg(2)` on Linux, one `recvmsg` at a
//! time elsewhere.

use std::io;

use socket2::Socket;

use super::Datagram;

/// Datagrams read per call at most.
pub(crate) const BATCH: usize = 64;

/// Buffers for up to [`BATCH`] datagrams of up to `slot` bytes each, with their
/// addresses and control messages, and what the last read put in them.
pub(crate) struct RecvBatch {
    slot: usize,
    buffers: Vec<u8>,
    datagrams: Vec<Datagram>,
    #[cfg(target_os = "linux")]
    names: Vec<libc::sockaddr_storage>,
    #[cfg(target_os = "linux")]
    controls: Vec<super::unix::ControlBuffer>,
}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl RecvBatch {
    /// Room for [`BATCH`] datagrams of `slot` bytes. The memory is only touched as
    /// datagrams arrive, so a large slot costs address space, not resident memory.
    pub(crate) fn new(slot: usize) -> RecvBatch {
        RecvBatch {
            slot,
            buffers: vec![0; slot * BATCH],
            datagrams: Vec::with_capacity(BATCH),
            #[cfg(target_os = "linux")]
            // SAFETY: an all-zero `sockaddr_storage` is a valid (AF_UNSPEC) address.
            names: vec![unsafe { std::mem::zeroed() }; BATCH],
            #[cfg(target_os = "linux")]
            controls: (0..BATCH).map(|_| super::unix::ControlBuffer::new()).collect(),
        }
    }

    /// Datagram `index` of the last read, with its slot (its bytes are the first
    /// `datagram.len`).
    pub(crate) fn get(&self, index: usize) -> (&Datagram, &[u8]) {
        let start = index * self.slot;
        (
            &self.datagrams[index],
            &self.buffers[start..start + self.slot],
        )
    }

    /// Reads what is queued, up to [`BATCH`] datagrams, without blocking (`WouldBlock`
    /// when nothing is), and returns how many.
    #[cfg(target_os = "linux")]
    pub(crate) fn recv(&mut self, socket: &Socket) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        use std::{mem, ptr};

        self.datagrams.clear();
        // SAFETY: all-zero `iovec`s and `mmsghdr`s are valid (null pointers, zero lengths).
        let mut iovecs: [libc::iovec; BATCH] = unsafe { mem::zeroed() };
        // SAFETY: as above.
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
        let slots = self.buffers.chunks_exact_mut(self.slot);
        let parts = slots
            .zip(self.names.iter_mut())
            .zip(self.controls.iter_mut());
        for (((slot, name), control), (iovec, header)) in
            parts.zip(iovecs.iter_mut().zip(headers.iter_mut()))
        {
            *iovec = libc::iovec {
                iov_base: slot.as_mut_ptr().cast(),
                iov_len: slot.len(),
            };
            let header = &mut header.msg_hdr;
            header.msg_name = ptr::from_mut(name).cast();
            header.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_iov = iovec;
            header.msg_iovlen = 1;
            header.msg_control = control.0.as_mut_ptr().cast();
            header.msg_controllen = control.0.len() as _;
        }
        // SAFETY: each of the BATCH headers points to its own slot, address storage and
        // control buffer, all owned by `self`, writable for their stated lengths and alive
        // for the call; `iovecs` lives on the stack until after the call.
        let received = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                ptr::null_mut(),
            )
        };
        if received < 0 {
            return Err(io::Error::last_os_error());
        }
        for (index, header) in headers.iter().take(received as usize).enumerate() {
            let msg = &header.msg_hdr;
            let mut datagram = Datagram {
                len: (header.msg_len as usize).min(self.slot),
                truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
                // SAFETY: the kernel wrote `msg_namelen` bytes of an address into the
                // storage this header points to.
                source: unsafe {
                    super::unix::socket_address(
                        ptr::from_ref(&self.names[index]).cast(),
                        msg.msg_namelen as usize,
                    )
                },
                timestamp: None,
                queued_error: None,
            };
            // SAFETY: `msg` describes the control messages the kernel wrote into this
            // slot's control buffer (msg_controllen was updated by recvmmsg).
            unsafe { super::unix::read_control_messages(msg, &mut datagram) };
            self.datagrams.push(datagram);
        }
        Ok(self.datagrams.len())
    }

    /// Reads one entry of the error queue into the first slot, without blocking
    /// (`WouldBlock` when it is empty; always on systems without an error queue).
    pub(crate) fn recv_error_queue(&mut self, socket: &Socket) -> io::Result<usize> {
        self.datagrams.clear();
        let slot = self.slot;
        let datagram = super::recv_error_queue(socket, &mut self.buffers[..slot])?;
        self.datagrams.push(datagram);
        Ok(1)
    }

    /// Reads one queued datagram without blocking (`WouldBlock` when none is).
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn recv(&mut self, socket: &Socket) -> io::Result<usize> {
        self.datagrams.clear();
        let slot = self.slot;
        let datagram = super::recv(socket, &mut self.buffers[..slot])?;
        self.datagrams.push(datagram);
        Ok(1)
    }
}
