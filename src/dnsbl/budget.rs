//! The query budget: a token bucket of `qps` per second (holding one second's worth) and a
//! cap per UTC day. A lookup that finds no token is skipped, never queued.

const MICROS_PER_DAY: i64 = 86_400_000_000;
/// One token, in the bucket's units (token-microseconds per second of refill).
const TOKEN: u64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Rate,
    DailyCap,
}

pub struct Budget {
    qps: u64,
    /// Tokens times `TOKEN`, at most `qps * TOKEN`.
    level: u64,
    refilled_us: i64,
    daily_cap: u64,
    day: i64,
    used_today: u64,
}

impl Budget {
    pub fn new(qps: u32, daily_cap: u64, now_us: i64) -> Budget {
        let qps = u64::from(qps.max(1));
        Budget {
            qps,
            level: qps * TOKEN,
            refilled_us: now_us,
            daily_cap,
            day: now_us.div_euclid(MICROS_PER_DAY),
            used_today: 0,
        }
    }

    /// Takes one token and one query of the day's cap, or says which is exhausted.
    pub fn take(&mut self, now_us: i64) -> Result<(), Refusal> {
        self.refill(now_us);
        if self.level < TOKEN {
            return Err(Refusal::Rate);
        }
        self.charge_day(now_us)?;
        self.level -= TOKEN;
        Ok(())
    }

    /// Counts a query against the day's cap only (retries and self-tests: they are few and
    /// must not wait for the rate).
    pub fn charge_day(&mut self, now_us: i64) -> Result<(), Refusal> {
        let day = now_us.div_euclid(MICROS_PER_DAY);
        if day != self.day {
            self.day = day;
            self.used_today = 0;
        }
        if self.used_today >= self.daily_cap {
            return Err(Refusal::DailyCap);
        }
        self.used_today += 1;
        Ok(())
    }

    pub fn used_today(&self) -> u64 {
        self.used_today
    }

    fn refill(&mut self, now_us: i64) {
        let elapsed = now_us.saturating_sub(self.refilled_us).clamp(0, 1_000_000);
        let capacity = self.qps * TOKEN;
        // `elapsed` is at most a second, so this stays far below u64::MAX.
        self.level = (self.level + elapsed.unsigned_abs() * self.qps).min(capacity);
        self.refilled_us = self.refilled_us.max(now_us);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_worth_then_the_rate() {
        let mut budget = Budget::new(2, 100, 0);
        assert_eq!(budget.take(0), Ok(()));
        assert_eq!(budget.take(0), Ok(()));
        assert_eq!(budget.take(0), Err(Refusal::Rate));
        assert_eq!(budget.take(499_999), Err(Refusal::Rate));
        assert_eq!(budget.take(500_000), Ok(()));
        assert_eq!(budget.take(10_000_000), Ok(()));
        assert_eq!(budget.take(10_000_000), Ok(()));
        assert_eq!(
            budget.take(10_000_000),
            Err(Refusal::Rate),
            "never more than a second"
        );
    }

    #[test]
    fn the_daily_cap_resets_at_midnight_utc() {
        let day = MICROS_PER_DAY;
        let mut budget = Budget::new(100, 2, day - 10);
        assert_eq!(budget.take(day - 10), Ok(()));
        assert_eq!(budget.charge_day(day - 5), Ok(()));
        assert_eq!(budget.take(day - 1), Err(Refusal::DailyCap));
        assert_eq!(budget.used_today(), 2);
        assert_eq!(budget.take(day), Ok(()));
        assert_eq!(budget.used_today(), 1);
    }

    #[test]
    fn a_clock_going_back_adds_nothing() {
        let mut budget = Budget::new(1, 100, 5_000_000);
        assert_eq!(budget.take(5_000_000), Ok(()));
        assert_eq!(budget.take(1_000_000), Err(Refusal::Rate));
        assert_eq!(budget.take(5_999_999), Err(Refusal::Rate));
        assert_eq!(budget.take(6_000_000), Ok(()));
    }
}
