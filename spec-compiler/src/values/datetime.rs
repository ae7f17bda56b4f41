//! ISO 8601 dates, date-times and times of day, parsed without a date library.

/// Milliseconds in one day.
pub(super) const DAY_MS: i64 = 86_400_000;

/// Parses `YYYY-MM-DD[(T|t| )HH:MM[:SS[.fraction]]][Z|z|±HH[:MM]|±HHMM]` into UTC epoch
/// milliseconds. A missing offset means UTC; fractions finer than a millisecond are truncated.
pub(super) fn parse_datetime_ms(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = digits(&bytes[0..4])?;
    let month = digits(&bytes[5..7])?;
    let day = digits(&bytes[8..10])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * DAY_MS;
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(ms);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (time_part, offset_ms) = split_offset(rest)?;
    ms += parse_time_of_day(time_part)?.total_ms();
    Some(ms - offset_ms)
}

/// A parsed time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TimeOfDay {
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    /// Fraction of a second in microseconds (finer digits truncated).
    pub micros: i64,
}

impl TimeOfDay {
    pub(super) fn total_ms(self) -> i64 {
        ((self.hour * 60 + self.minute) * 60 + self.second) * 1000 + self.micros / 1000
    }

    /// `HH:MM:SS`, plus `.ffffff` when the fraction is not zero (like Python's `isoformat`).
    pub(super) fn to_iso(self) -> String {
        let base = format!("{:02}:{:02}:{:02}", self.hour, self.minute, self.second);
        if self.micros == 0 { base } else { format!("{base}.{:06}", self.micros) }
    }
}

/// Parses `HH:MM[:SS[.fraction]]` with two-digit fields.
pub(super) fn parse_time_of_day(text: &str) -> Option<TimeOfDay> {
    let bytes = text.as_bytes();
    if bytes.len() < 5 || bytes[2] != b':' {
        return None;
    }
    let hour = digits(&bytes[0..2])?;
    let minute = digits(&bytes[3..5])?;
    let (second, micros) = match &bytes[5..] {
        [] => (0, 0),
        [b':', s1, s2, fraction @ ..] => (digits(&[*s1, *s2])?, parse_fraction(fraction)?),
        _ => return None,
    };
    (hour < 24 && minute < 60 && second < 60).then_some(TimeOfDay { hour, minute, second, micros })
}

/// Parses `.digits` (or nothing) into microseconds.
fn parse_fraction(fraction: &[u8]) -> Option<i64> {
    match fraction {
        [] => Some(0),
        [b'.' | b',', rest @ ..] if !rest.is_empty() && rest.iter().all(u8::is_ascii_digit) => {
            let mut micros = 0;
            for position in 0..6 {
                micros = micros * 10 + rest.get(position).map_or(0, |d| i64::from(d - b'0'));
            }
            Some(micros)
        }
        _ => None,
    }
}

/// Splits a trailing UTC offset off a time, returning the offset in milliseconds.
fn split_offset(text: &str) -> Option<(&str, i64)> {
    if let Some(time) = text.strip_suffix(['Z', 'z']) {
        return Some((time, 0));
    }
    let Some(sign_at) = text.rfind(['+', '-']) else {
        return Some((text, 0));
    };
    let (time, offset) = text.split_at(sign_at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let offset = &offset.as_bytes()[1..];
    // Python's isoformat() writes seconds in offsets that have them (`+05:30:10`).
    let (hours, minutes, seconds) = match offset {
        [h1, h2] => (digits(&[*h1, *h2])?, 0, 0),
        [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?, 0),
        [h1, h2, b':', m1, m2, b':', s1, s2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?, digits(&[*s1, *s2])?),
        _ => return None,
    };
    if hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some((time, sign * ((hours * 60 + minutes) * 60 + seconds) * 1000))
}

fn digits(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0, |acc, d| acc * 10 + i64::from(d - b'0')))
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times() {
        assert_eq!(parse_datetime_ms("1970-01-01"), Some(0));
        assert_eq!(parse_datetime_ms("2024-01-01T00:00:00Z"), Some(1_704_067_200_000));
        assert_eq!(parse_datetime_ms("2024-01-01 00:00:00"), Some(1_704_067_200_000));
        assert_eq!(parse_datetime_ms("2024-03-01T10:00:00+02:00"), Some(1_709_280_000_000));
        assert_eq!(parse_datetime_ms("2024-03-01T10:00:00+0200"), Some(1_709_280_000_000));
        assert_eq!(parse_datetime_ms("2024-03-01T10:00:00-02"), Some(1_709_294_400_000));
        assert_eq!(parse_datetime_ms("2024-03-01T10:00:00+00:00:10"), Some(1_709_287_190_000));
        assert_eq!(parse_datetime_ms("2024-02-29T12:00:00.123456Z"), Some(1_709_208_000_123));
        assert_eq!(parse_datetime_ms("1969-12-31T23:59:59Z"), Some(-1000));
        assert_eq!(parse_datetime_ms("2024-01-01T10:00"), Some(1_704_103_200_000));
    }

    #[test]
    fn rejects_impossible_dates() {
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-1-01",
            "yesterday",
            "2024-01-01T25:00",
            "2024-01-01X10:00",
            "2024-01-01T10:00+25:00",
            "2024-01-01T10:00:00.",
        ] {
            assert_eq!(parse_datetime_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_of_day() {
        assert_eq!(parse_time_of_day("08:30").unwrap().to_iso(), "08:30:00");
        assert_eq!(parse_time_of_day("23:59:59.5").unwrap().to_iso(), "23:59:59.500000");
        assert_eq!(parse_time_of_day("8:30"), None);
        assert_eq!(parse_time_of_day("24:00"), None);
    }
}
