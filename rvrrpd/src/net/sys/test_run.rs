//! `bpf(BPF_PROG_TEST_RUN)` with live XDP frames, by program descriptor.
//!
//! aya offers the same call through `&Xdp`, which lives inside the control plane's `Ebpf`;
//! the workers share only the program's descriptor, so they issue the system call here.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `BPF_PROG_TEST_RUN` (`include/uapi/linux/bpf.h`, `enum bpf_cmd`).
const BPF_PROG_TEST_RUN: libc::c_long = 10;
/// `BPF_F_TEST_XDP_LIVE_FRAMES` (kernel 5.18+).
pub(crate) const BPF_F_TEST_XDP_LIVE_FRAMES: u32 = 1 << 1;

/// The `test` member of `union bpf_attr` (`include/uapi/linux/bpf.h`), padded to the
/// union's size the kernel copies for this command (it checks that the rest is zero).
#[repr(C, align(8))]
#[derive(Default)]
struct TestAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    _pad: u32,
}

/// Runs the XDP program `prog` on `data` `repeat` times as live frames, in batches of
/// `batch_size` (1..=256): the program's verdicts (XDP_TX, XDP_REDIRECT) send the frames.
/// Returns the last repetition's verdict.
pub(crate) fn xdp_live_run(
    prog: BorrowedFd<'_>,
    data: &[u8],
    repeat: u32,
    batch_size: u32,
) -> io::Result<u32> {
    let mut attr = TestAttr {
        prog_fd: prog.as_raw_fd() as u32,
        data_size_in: u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "input too long"))?,
        data_in: data.as_ptr() as u64,
        repeat,
        flags: BPF_F_TEST_XDP_LIVE_FRAMES,
        batch_size,
        ..TestAttr::default()
    };
    // SAFETY: `attr` is a valid, initialised `bpf_attr` prefix of the size passed; `data_in`
    // points to `data_size_in` readable bytes that outlive the call; no output buffers are
    // given, so the kernel writes only into `attr` (retval, duration).
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_TEST_RUN,
            &mut attr as *mut TestAttr,
            std::mem::size_of::<TestAttr>() as libc::c_uint,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(attr.retval)
}

const _: () = assert!(std::mem::size_of::<TestAttr>() == 80);
