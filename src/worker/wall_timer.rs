//! A kernel timer on the wall clock: `timerfd` on `CLOCK_REALTIME`, armed for an absolute
//! time. Due times are wall-clock times; tokio's timers run on the monotonic clock, which
//! stands still while a laptop is suspended. The kernel fires a realtime timer whose time
//! passed during a suspend as soon as the machine resumes, and with
//! `TFD_TIMER_CANCEL_ON_SET` it also wakes the sleeper when the clock is set (a step by NTP
//! or by hand). So nothing has to poll the wall clock: an idle worker or `watch` sleeps
//! until something is due (ARCHITECTURE.md, Refresh schedule).
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use jiff::Timestamp;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

pub struct WallTimer {
    fd: AsyncFd<OwnedFd>,
}

impl WallTimer {
    /// A disarmed timer; `None` (with the reason logged) where the kernel refuses one, and
    /// the caller then looks at the wall clock every `WALL_CHECK` instead.
    pub fn new() -> Option<WallTimer> {
        // SAFETY: timerfd_create takes no pointers; a non-negative result is a new fd we own.
        let raw = unsafe {
            libc::timerfd_create(libc::CLOCK_REALTIME, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
        };
        if raw < 0 {
            let e = std::io::Error::last_os_error();
            tracing::warn!(error = %e, "no wall-clock timer: looking at the clock every 30 s");
            return None;
        }
        // SAFETY: `raw` is a valid descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the OwnedFd is moved into the AsyncFd and stays open, the same descriptor,
        // until the AsyncFd is dropped.
        match unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) } {
            Ok(fd) => Some(WallTimer { fd }),
            Err(e) => {
                tracing::warn!(error = %e, "no wall-clock timer: looking at the clock every 30 s");
                None
            }
        }
    }

    /// Until the wall clock reads `at` (at once when it already has), or until the clock is
    /// set. A failure of the timer itself ends the wait after `fallback` at most, so the
    /// caller looks at the clock as it would without one.
    pub async fn sleep_until(&self, at: Timestamp, fallback: Duration) {
        if self.arm(at).is_err() {
            tokio::time::sleep(fallback).await;
            return;
        }
        loop {
            let Ok(mut ready) = self.fd.readable().await else {
                tokio::time::sleep(fallback).await;
                return;
            };
            let mut count = [0u8; 8];
            let read = ready.try_io(|fd| {
                // SAFETY: reads at most 8 bytes into an 8-byte buffer.
                let n = unsafe { libc::read(fd.as_raw_fd(), count.as_mut_ptr().cast(), 8) };
                if n < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
            match read {
                // Expired, or the clock was set (ECANCELED): either way, look at the clock.
                Ok(Ok(())) => {
                    ready.clear_ready();
                    return;
                }
                Ok(Err(e)) if e.raw_os_error() == Some(libc::ECANCELED) => return,
                Ok(Err(_)) => {
                    tokio::time::sleep(fallback).await;
                    return;
                }
                // Readiness was stale: wait again.
                Err(_would_block) => continue,
            }
        }
    }

    fn arm(&self, at: Timestamp) -> std::io::Result<()> {
        // An all-zero it_value disarms: a time at or before the epoch fires at once instead.
        let (sec, nsec) = match (at.as_second(), at.subsec_nanosecond()) {
            (s, n) if s > 0 || (s == 0 && n > 0) => (s, n),
            _ => (0, 1),
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                // A 32-bit time_t ends in 2038: later times wait until then, never wrap.
                tv_sec: libc::time_t::try_from(sec).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(nsec),
            },
        };
        // SAFETY: `spec` is a valid itimerspec; the old value is not asked for.
        let r = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME | libc::TFD_TIMER_CANCEL_ON_SET,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            // The clock was set while nobody read the timer: it is armed all the same
            // (timerfd_create(2), NOTES), for an absolute wall-clock time, which is what a
            // caller that looked at the clock after the step would arm anyway.
            if e.raw_os_error() == Some(libc::ECANCELED) {
                return Ok(());
            }
            tracing::warn!(error = %e, "the wall-clock timer could not be armed");
            return Err(e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// It fires when the wall clock reaches the time, not before; a time already past (or
    /// before the epoch) fires at once; it can be armed again.
    #[tokio::test]
    async fn fires_at_the_wall_clock_time() {
        let t = WallTimer::new().expect("timerfd");
        let fallback = Duration::from_secs(60);
        let at = Timestamp::now() + jiff::SignedDuration::from_millis(150);
        let waited =
            tokio::time::timeout(Duration::from_secs(5), t.sleep_until(at, fallback)).await;
        assert!(waited.is_ok(), "did not fire");
        assert!(Timestamp::now() >= at, "fired early");
        for past in [
            Timestamp::now() - jiff::SignedDuration::from_secs(3600),
            Timestamp::UNIX_EPOCH,
        ] {
            let waited =
                tokio::time::timeout(Duration::from_secs(1), t.sleep_until(past, fallback)).await;
            assert!(waited.is_ok(), "a past time did not fire at once");
        }
        // Not armed for a far time: still waiting after 100 ms.
        let far = Timestamp::now() + jiff::SignedDuration::from_secs(3600);
        let waited =
            tokio::time::timeout(Duration::from_millis(100), t.sleep_until(far, fallback)).await;
        assert!(waited.is_err(), "fired long before its time");
    }
}
