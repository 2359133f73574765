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
    let mut text = String::with_capacity(24);
    push_millis_z(&mut text, millis);
    text
}

/// Appends `millis_z(millis)`. Records are written digit by digit: through `fmt` their
/// timestamps cost more than the rest of the record.
pub fn push_millis_z(out: &mut String, millis: i64) {
    let t = Utc::from_micros(millis.saturating_mul(1000));
    push_date_time(out, &t);
    out.push('.');
    push_digits(out, t.micros / 1000, 3);
    out.push('Z');
}

/// `2026-12-03T19:47:09.517513+00:00`: the header form (six digits, never `Z`).
pub fn micros_offset(micros: i64) -> String {
    let mut text = String::with_capacity(32);
    push_micros_offset(&mut text, micros);
    text
}

/// Appends `micros_offset(micros)`.
pub fn push_micros_offset(out: &mut String, micros: i64) {
    let t = Utc::from_micros(micros);
    push_date_time(out, &t);
    out.push('.');
    push_digits(out, t.micros, 6);
    out.push_str("+00:00");
}

/// `2026-12-03T19:47:09`; years are clamped to four digits.
fn push_date_time(out: &mut String, t: &Utc) {
    push_digits(out, t.year as u32, 4);
    out.push('-');
    push_digits(out, t.month, 2);
    out.push('-');
    push_digits(out, t.day, 2);
    out.push('T');
    push_digits(out, t.hour, 2);
    out.push(':');
    push_digits(out, t.minute, 2);
    out.push(':');
    push_digits(out, t.second, 2);
}

/// Appends the last `width` (at most 10) decimal digits of `value`, zero-padded.
fn push_digits(out: &mut String, mut value: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let width = width.min(digits.len());
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
    for &digit in &digits[..width] {
        out.push(char::from(digit));
    }
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
    fn digits_match_fmt_over_the_whole_range() {
        let mut rng = 0x1234_5678_9abc_def1_u64;
        for _ in 0..20_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let micros = (rng % (MAX_MICROS as u64 + 2)) as i64;
            let t = Utc::from_micros(micros);
            let expected = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
                t.year, t.month, t.day, t.hour, t.minute, t.second, t.micros
            );
            assert_eq!(micros_offset(micros), expected);
            let millis = micros / 1000;
            let m = Utc::from_micros(millis * 1000);
            let expected = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                m.year,
                m.month,
                m.day,
                m.hour,
                m.minute,
                m.second,
                m.micros / 1000
            );
            assert_eq!(millis_z(millis), expected);
        }
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
