//! Durations as the configuration writes them: a whole number and a unit, `90s`, `30m`, `2h`,
//! `7d` (also `ms` and `w`). A bare number is refused: a unit is what makes it readable.

use std::time::Duration;

/// Parses `500ms`, `90s`, `30m`, `2h`, `7d` or `2w`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let invalid = || format!("{text:?} is not a duration (write it like 90s, 30m, 2h or 7d)");

    let number: u64 = number.parse().map_err(|_| invalid())?;
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(invalid()),
    };
    let millis = number.checked_mul(unit_ms).ok_or_else(invalid)?;
    Ok(Duration::from_millis(millis))
}

/// Writes a duration back in the largest unit that divides it, for messages.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    let units = [("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000)];
    let units = units.into_iter().chain([("m", 60_000), ("s", 1_000)]);
    for (name, size) in units {
        if millis >= size && millis % size == 0 {
            return format!("{}{name}", millis / size);
        }
    }
    format!("{millis}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for text in [
            "90",
            "s",
            "",
            "1.5h",
            "-1s",
            "10x",
            "99999999999999999999d",
            "1 h",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn formats_in_the_largest_whole_unit() {
        assert_eq!(format_duration(Duration::from_secs(900)), "15m");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_secs(172_800)), "2d");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }
}
