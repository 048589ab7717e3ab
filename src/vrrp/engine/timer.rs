//! The engine's deadline timer: a `timerfd` on `CLOCK_MONOTONIC` armed with an absolute
//! expiry (`TFD_TIMER_ABSTIME`) and read through tokio's `AsyncFd`.
//!
//! tokio's own timer keeps a 1 ms wheel and rounds every deadline up to the next tick, so an
//! Adver_Timer or Master_Down_Timer fired up to a millisecond late - 2 % of a 50 ms
//! `advert_int` - and the backup's reaction after Master_Down_Interval carried that delay. The
//! kernel fires a timerfd within its timer slack (50 us by default), as keepalived's
//! `epoll_wait`-driven scheduler does with its microsecond timeouts.

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Instant;
use tokio::io::unix::AsyncFd;

/// One re-armable deadline. Arming again replaces the previous deadline, so a wait dropped by
/// `select!` leaves nothing behind that matters.
pub struct DeadlineTimer {
    fd: AsyncFd<Fd>,
}

/// `TimerFd` as `AsyncFd` wants it (`AsRawFd`).
struct Fd(TimerFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl DeadlineTimer {
    /// A disarmed timer, registered with the current tokio runtime.
    ///
    /// Errors: `timerfd_create` or the epoll registration failed.
    pub fn new() -> io::Result<DeadlineTimer> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        Ok(DeadlineTimer {
            // SAFETY: `Fd` owns the timerfd and always returns that same open descriptor
            // until the `AsyncFd` (which owns the `Fd`) is dropped.
            fd: unsafe { AsyncFd::register_with_interest(Fd(fd), tokio::io::Interest::READABLE) }?,
        })
    }

    /// Completes at `deadline` (at once if it has passed).
    ///
    /// `std::time::Instant` is `CLOCK_MONOTONIC` on Linux but opaque, so the deadline is
    /// converted through the distance from now, read on both clocks back to back (an error
    /// of well under a microsecond).
    ///
    /// Errors: `timerfd_settime` or the read failed (the caller falls back to tokio's timer).
    pub async fn sleep_until(&self, deadline: Instant) -> io::Result<()> {
        let now_mono = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)?;
        let left = deadline.saturating_duration_since(Instant::now());
        // A zero expiry would disarm the timer: a deadline that has passed fires at once.
        let at = now_mono + TimeSpec::from_duration(left.max(std::time::Duration::from_nanos(1)));
        self.fd.get_ref().0.set(
            Expiration::OneShot(at),
            TimerSetTimeFlags::TFD_TIMER_ABSTIME,
        )?;
        loop {
            let mut ready = self.fd.readable().await?;
            let mut ticks = [0u8; 8];
            match ready.try_io(|fd| {
                nix::unistd::read(fd.get_ref().0.as_fd(), &mut ticks).map_err(io::Error::from)
            }) {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(e),
                // Readiness was stale (an expiry consumed before re-arming): wait again.
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The timer fires at or after the deadline, never early, and can be re-armed after a
    /// dropped wait. (Its precision is measured in `benches/failover`, not asserted here: the
    /// bound below is only a generous functional margin.)
    #[tokio::test(flavor = "current_thread")]
    async fn fires_at_the_deadline_and_can_be_rearmed() {
        let timer = DeadlineTimer::new().unwrap();
        let mut late = Vec::new();
        let mut deadline = Instant::now();
        for _ in 0..20 {
            deadline += Duration::from_micros(7300);
            timer.sleep_until(deadline).await.unwrap();
            let now = Instant::now();
            assert!(now >= deadline, "fired early by {:?}", deadline - now);
            late.push(now - deadline);
        }
        late.sort();
        // Under load every wake-up is late by the scheduler's delay, whatever the timer: the
        // margin is 5 ms or twice the median lateness of a plain `thread::sleep` (nanosleep,
        // same thread, same deadlines) plus 1 ms, whichever is larger. A timer rounding to a
        // coarse wheel or missing its deadline by a period still fails.
        let mut base = Vec::new();
        for _ in 0..20 {
            let d = Instant::now() + Duration::from_micros(7300);
            std::thread::sleep(d - Instant::now());
            base.push(Instant::now() - d);
        }
        base.sort();
        let margin = (base[10] * 2 + Duration::from_millis(1)).max(Duration::from_millis(5));
        assert!(
            late[10] < margin,
            "median lateness {:?} (nanosleep's: {:?})",
            late[10],
            base[10]
        );
        // A passed deadline fires at once; a dropped wait leaves the timer usable.
        timer
            .sleep_until(Instant::now() - Duration::from_millis(5))
            .await
            .unwrap();
        let far = timer.sleep_until(Instant::now() + Duration::from_secs(60));
        let _ = tokio::time::timeout(Duration::from_millis(5), far).await;
        let t0 = Instant::now();
        timer
            .sleep_until(t0 + Duration::from_millis(3))
            .await
            .unwrap();
        assert!(t0.elapsed() >= Duration::from_millis(3));
    }
}
