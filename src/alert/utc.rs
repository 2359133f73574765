//! Calendar fields of a UTC instant, for the timestamps records carry.
//!
//! Total over `i64`: times before the epoch read as the epoch and times after 9999 as the
//! last microsecond of 9999, so formatting never fails and years always have four digits.

/// The last microsecond of 9999-12-31, the largest instant four-digit years can show.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// One instant broken into UTC calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
}

impl Utc {
    /// The fields of `micros` since the epoch, clamped to years 1970 to 9999.
    pub fn from_micros(micros: i64) -> Utc {
        let micros = micros.clamp(0, MAX_MICROS);
        let secs = micros / 1_000_000;
        let days = secs / 86_400;
        let of_day = secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        Utc {
            year,
            month,
            day,
            hour: (of_day / 3600) as u32,
            minute: (of_day / 60 % 60) as u32,
            second: (of_day % 60) as u32,
            micros: (micros % 1_000_000) as u32,
        }
    }

    /// The English month abbreviation syslog(3) writes.
    pub fn month_name(&self) -> &'static str {
        let index = self.month.saturating_sub(1) as usize;
        MONTHS.get(index).copied().unwrap_or("Jan")
    }
}

/// `2026-12-03T19:46:40.120Z`: what the message part carries (milliseconds, `Z`).
pub fn millis_z(millis: i64) -> String {
    let t = Utc::from_micros(millis.saturating_mul(1000));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.micros / 1000
    )
}

/// `2026-12-03T19:47:09.517513+00:00`: the header form (six digits, never `Z`).
pub fn micros_offset(micros: i64) -> String {
    let t = Utc::from_micros(micros);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.micros
    )
}

/// Days since 1970-01-01 to (year, month, day), for days >= 0 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_form_has_six_digits_and_offset() {
        assert_eq!(
            micros_offset(1_796_327_229_517_513),
            "2026-12-03T19:47:09.517513+00:00"
        );
        assert_eq!(micros_offset(0), "1970-01-01T00:00:00.000000+00:00");
    }

    #[test]
    fn message_form_has_millis_and_z() {
        assert_eq!(millis_z(1_796_327_200_120), "2026-12-03T19:46:40.120Z");
    }

    #[test]
    fn leap_day_and_year_end() {
        // 2024-02-29T12:00:00Z and 2023-12-31T23:59:59.999999Z.
        let leap = Utc::from_micros(1_709_208_000_000_000);
        assert_eq!(
            (leap.year, leap.month, leap.day, leap.hour),
            (2024, 2, 29, 12)
        );
        let end = Utc::from_micros(1_704_067_199_999_999);
        assert_eq!((end.year, end.month, end.day), (2023, 12, 31));
        assert_eq!((end.second, end.micros), (59, 999_999));
    }

    #[test]
    fn out_of_range_is_clamped() {
        assert_eq!(micros_offset(-5), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(micros_offset(i64::MAX), "9999-12-31T23:59:59.999999+00:00");
        assert_eq!(millis_z(i64::MIN), "1970-01-01T00:00:00.000Z");
    }
}
