//! [`Clock`]: unix milliseconds that follow tokio's clock.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Unix time in milliseconds as `base + (tokio now − start)`.
///
/// Reading tokio's clock (not the system's) means that in a
/// `#[tokio::test(start_paused = true)]` test, time only moves when every task
/// waits, and the engine, the simulator and the test see the same time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base_unix_ms: u64,
    start: Instant,
}

impl Clock {
    /// A clock that reads `base_unix_ms` now.
    pub fn starting_at(base_unix_ms: u64) -> Self {
        Self {
            base_unix_ms,
            start: Instant::now(),
        }
    }

    /// A clock that starts at the system's current time.
    pub fn system() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Self::starting_at(now)
    }

    /// Now, unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        let elapsed = Instant::now().saturating_duration_since(self.start);
        self.base_unix_ms
            .saturating_add(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
    }

    /// The tokio instant of the unix time `at_ms` (now, if it has passed).
    pub fn instant_at(&self, at_ms: u64) -> Instant {
        let offset = at_ms.saturating_sub(self.base_unix_ms);
        let target = self.start + std::time::Duration::from_millis(offset);
        target.max(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_tokio_time() {
        let clock = Clock::starting_at(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
        assert_eq!(clock.now_ms(), 3_500);
        assert_eq!(
            clock.instant_at(4_000) - Instant::now(),
            std::time::Duration::from_millis(500)
        );
        assert_eq!(clock.instant_at(0), Instant::now());
    }
}
