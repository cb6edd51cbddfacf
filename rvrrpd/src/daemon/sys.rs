//! Thin, documented wrappers over the few syscalls the daemon runtime needs directly:
//! epoll (the worker's wait), eventfd (waking a worker from the control plane) and the classic
//! Unix daemonisation sequence. Every `unsafe` block of the runtime lives here.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

/// An epoll instance.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    /// Creates a close-on-exec epoll instance.
    pub fn new() -> io::Result<Self> {
        // SAFETY: epoll_create1 takes no pointers; the returned fd is checked before being owned.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a freshly created descriptor that nothing else owns.
        Ok(Epoll {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Registers `fd` for readability, tagged with `token`.
    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `ev` is a valid epoll_event that outlives the call.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to `timeout` (None = forever) and fills `tokens` with the ready tokens.
    /// The timeout is rounded *down* to whole milliseconds: callers re-check their timers and
    /// wait again, so a short early wake-up is harmless while a late one would delay a timer.
    pub fn wait(&self, tokens: &mut Vec<u64>, timeout: Option<Duration>) -> io::Result<()> {
        const MAX: usize = 64;
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; MAX];
        let ms = match timeout {
            None => -1,
            Some(d) => d.as_millis().min(i32::MAX as u128) as i32,
        };
        // SAFETY: `events` has room for MAX entries, as told to the kernel.
        let n =
            unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), MAX as i32, ms) };
        tokens.clear();
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(err);
        }
        tokens.extend(events[..n as usize].iter().map(|e| e.u64));
        Ok(())
    }
}

/// An eventfd used to wake a worker blocked in epoll.
#[derive(Debug)]
pub struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// Creates a non-blocking, close-on-exec eventfd.
    pub fn new() -> io::Result<Self> {
        // SAFETY: eventfd takes no pointers; the result is checked before being owned.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is freshly created and owned by nobody else.
        Ok(EventFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Wakes the waiter.
    pub fn notify(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64. A full counter (EAGAIN) still leaves it readable,
        // which is all a wake-up needs, so the result is ignored.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Clears pending wake-ups.
    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64; EAGAIN (nothing pending) is fine.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Detaches from the terminal the classic way: fork, setsid, fork, umask 027, chdir, and
/// stdout/stderr redirected to the given logs (stdin to /dev/null).
/// Must be called before any thread is started.
pub fn daemonize(
    working_dir: &Path,
    stdout_log: &Path,
    stderr_log: Option<&Path>,
) -> io::Result<()> {
    let open_log = |p: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| io::Error::new(e.kind(), format!("opening log file {}: {e}", p.display())))
    };
    // Open the files before forking so errors reach the user's terminal.
    let out = open_log(stdout_log)?;
    let err = match stderr_log {
        Some(p) => open_log(p)?,
        None => out.try_clone()?,
    };
    let null = File::open("/dev/null")?;
    std::env::set_current_dir(working_dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("working_dir {}: {e}", working_dir.display()),
        )
    })?;
    for _ in 0..2 {
        // SAFETY: single-threaded at this point (documented precondition), so fork is sound.
        match unsafe { libc::fork() } {
            -1 => return Err(io::Error::last_os_error()),
            0 => {}
            _ => std::process::exit(0),
        }
        // SAFETY: setsid takes no arguments; failing in the second child (already a session
        // leader's child) is expected and harmless.
        unsafe { libc::setsid() };
    }
    // SAFETY: umask and dup2 on descriptors we own; dup2 replaces the standard streams.
    unsafe {
        libc::umask(0o027);
        libc::dup2(null.as_raw_fd(), 0);
        libc::dup2(out.as_raw_fd(), 1);
        libc::dup2(err.as_raw_fd(), 2);
    }
    Ok(())
}

/// Returns the free pages of the heap to the kernel (glibc `malloc_trim`); a no-op with other
/// C libraries. Freed memory otherwise stays in the resident set at its peak.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and only walks glibc's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The current process id.
pub fn pid() -> u32 {
    std::process::id()
}

/// Reads CLOCK_MONOTONIC in microseconds: the workers' clock, shared with [`TimerFd`] so that a
/// deadline computed by the protocol core can be armed without conversion.
pub fn monotonic_micros() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec; CLOCK_MONOTONIC always exists on Linux and FreeBSD.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// A CLOCK_MONOTONIC timerfd armed at absolute deadlines (microsecond precision, unlike
/// epoll_wait's millisecond timeout).
#[derive(Debug)]
pub struct TimerFd {
    fd: OwnedFd,
}

impl TimerFd {
    /// Creates a disarmed, non-blocking timerfd.
    pub fn new() -> io::Result<Self> {
        // SAFETY: timerfd_create takes no pointers; the result is checked before being owned.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is freshly created and owned by nobody else.
        Ok(TimerFd {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Arms the timer at the absolute monotonic time `at_us` (microseconds), or disarms it.
    /// A deadline in the past fires immediately.
    pub fn arm_at(&self, at_us: Option<u64>) -> io::Result<()> {
        let value = match at_us {
            // it_value of zero would disarm: clamp to 1 ns so a past deadline still fires.
            Some(us) => libc::timespec {
                tv_sec: (us / 1_000_000) as libc::time_t,
                tv_nsec: ((us % 1_000_000) * 1000).max(1) as libc::c_long,
            },
            None => libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        // SAFETY: `spec` is a valid itimerspec; the old-value pointer may be null.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Clears the expiration count.
    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64; EAGAIN (not expired) is fine.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
    }
}

impl AsRawFd for TimerFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn set_stop(_: libc::c_int) {
    STOP.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Installs handlers for `signals` that only set a process-wide flag, and returns that flag.
/// For the single-threaded sniffer loop, which polls the flag between bounded waits.
pub fn stop_flag_on_signals(
    signals: &[libc::c_int],
) -> io::Result<&'static std::sync::atomic::AtomicBool> {
    let handler: extern "C" fn(libc::c_int) = set_stop;
    for &sig in signals {
        // SAFETY: the handler only performs an atomic store, which is async-signal-safe.
        let rc = unsafe { libc::signal(sig, handler as *const () as libc::sighandler_t) };
        if rc == libc::SIG_ERR {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(&STOP)
}
