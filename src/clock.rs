//! The one place that says what time it is.
//!
//! Windows, expiry and record headers read the time from a `Clock`, so tests and `replay`
//! can set it (the shared OTX samples are dated 2024; replay uses the capture's clock).

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch, UTC.
pub type UnixMicros = i64;

/// Wall-clock time, or a time a test or a replay sets.
#[derive(Debug, Default)]
pub struct Clock {
    fixed: Cell<Option<UnixMicros>>,
}

impl Clock {
    /// A clock that follows the system time.
    pub fn system() -> Clock {
        Clock {
            fixed: Cell::new(None),
        }
    }

    /// A clock that stays at `micros` until set again.
    pub fn fixed(micros: UnixMicros) -> Clock {
        Clock {
            fixed: Cell::new(Some(micros)),
        }
    }

    /// Moves a fixed clock; a system clock becomes fixed.
    pub fn set(&self, micros: UnixMicros) {
        self.fixed.set(Some(micros));
    }

    pub fn now_micros(&self) -> UnixMicros {
        match self.fixed.get() {
            Some(micros) => micros,
            None => system_micros(),
        }
    }

    pub fn now_millis(&self) -> i64 {
        self.now_micros().div_euclid(1000)
    }

    pub fn now_secs(&self) -> i64 {
        self.now_micros().div_euclid(1_000_000)
    }
}

fn system_micros() -> UnixMicros {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(elapsed) => i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX),
        // A clock before 1970 is a broken clock; say the epoch rather than go negative.
        Err(_) => 0,
    }
}
