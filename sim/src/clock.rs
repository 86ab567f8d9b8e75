//! The simulator's clock: wall-clock time read through tokio's clock.
//!
//! Owns [`Clock`]. Time is `base_unix_ms + (tokio::time::Instant::now() - start)`, so a
//! test with `#[tokio::test(start_paused = true)]` gives the simulator (and a client
//! driver using the same rule) virtual time that advances only when every task is idle.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Unix time derived from tokio's (possibly paused) clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base_unix_ms: u64,
    start: Instant,
}

impl Clock {
    /// A clock that reads `base_unix_ms` now and advances with tokio's clock.
    pub fn starting_at(base_unix_ms: u64) -> Clock {
        Clock {
            base_unix_ms,
            start: Instant::now(),
        }
    }

    /// A clock starting at the system's current time.
    pub fn system() -> Clock {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Clock::starting_at(now)
    }

    /// Current unix time in milliseconds.
    pub fn now_ms(&self) -> u64 {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.base_unix_ms.saturating_add(elapsed)
    }

    /// Current unix time in seconds.
    pub fn now_secs(&self) -> u64 {
        self.now_ms() / 1000
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_paused_tokio_time() {
        let clock = Clock::starting_at(1_700_000_000_000);
        assert_eq!(clock.now_ms(), 1_700_000_000_000);
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert_eq!(clock.now_ms(), 1_700_000_061_000);
        assert_eq!(clock.now_secs(), 1_700_000_061);
    }
}
