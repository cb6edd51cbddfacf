//! `mmap(2)` of memory shared with the kernel (a `BPF_F_MMAPABLE` array map), seen as 8-byte
//! words that are only ever accessed atomically.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

/// A shared, writable mapping of `words` 8-byte words, unmapped on drop.
#[derive(Debug)]
pub(crate) struct SharedWords {
    base: NonNull<u64>,
    words: usize,
}

// SAFETY: the mapping is plain shared memory owned by this value until drop; it is only
// reached through `&AtomicU64` (see `word`), which is `Sync`.
unsafe impl Send for SharedWords {}
// SAFETY: as above.
unsafe impl Sync for SharedWords {}

impl SharedWords {
    /// Maps the first `words` × 8 bytes of `fd` shared and read-write (`MAP_SHARED`).
    pub(crate) fn map(fd: BorrowedFd<'_>, words: usize) -> io::Result<SharedWords> {
        Self::mmap(words, libc::MAP_SHARED, fd.as_raw_fd())
    }

    /// `words` words of anonymous shared memory (unit tests stand in for a map with it).
    #[cfg(test)]
    pub(crate) fn anonymous(words: usize) -> io::Result<SharedWords> {
        Self::mmap(words, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1)
    }

    fn mmap(words: usize, flags: libc::c_int, fd: libc::c_int) -> io::Result<SharedWords> {
        let len = words
            .checked_mul(8)
            .filter(|&l| l > 0)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad mapping size"))?;
        // SAFETY: a fresh mapping chosen by the kernel (addr NULL) never aliases Rust memory;
        // `fd` is a valid descriptor or -1 with MAP_ANONYMOUS; the result is checked before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // mmap returns page-aligned memory: aligned for u64.
        let base = NonNull::new(p.cast::<u64>())
            .ok_or_else(|| io::Error::other("mmap returned a null pointer"))?;
        Ok(SharedWords { base, words })
    }

    /// Word `i`, if in the mapping.
    pub(crate) fn word(&self, i: usize) -> Option<&AtomicU64> {
        if i >= self.words {
            return None;
        }
        // SAFETY: `i` is within the mapping, which lives as long as `&self` and is 8-byte
        // aligned; `AtomicU64` has the layout of `u64`; the other party (eBPF programs) only
        // accesses these words with single 8-byte loads, stores and atomic instructions, so
        // every access is atomic on both sides.
        Some(unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(i)) })
    }
}

impl Drop for SharedWords {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping created in `map`; no reference to it outlives
        // `self` (`word` borrows `self`).
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.words * 8);
        }
    }
}
