//! Wall-clock time, injected so countdowns and expiry logic are testable without sleeping.
use jiff::Timestamp;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
    /// Whether this is the system's wall clock, which kernel timers follow
    /// (worker::WallTimer); an injected clock is not.
    fn is_system(&self) -> bool {
        false
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn is_system(&self) -> bool {
        true
    }
}

/// A clock that always says the same instant (snapshots, pure tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// The system clock moved by a settable offset: a wall-clock step or a suspend (the wall
/// clock jumps, the monotonic clock stood still) in tests of the timers.
#[derive(Debug, Default)]
pub struct SteppedClock {
    offset_s: std::sync::atomic::AtomicI64,
}

impl SteppedClock {
    /// Move this clock's wall time forward by `seconds` (backward when negative).
    pub fn step(&self, seconds: i64) {
        self.offset_s
            .fetch_add(seconds, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for SteppedClock {
    fn now(&self) -> Timestamp {
        let off = self.offset_s.load(std::sync::atomic::Ordering::SeqCst);
        Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(off))
            .unwrap_or(Timestamp::MAX)
    }
}
