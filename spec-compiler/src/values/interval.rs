//! Durations (`value_type: "interval"`): `7d 24h`, `1 day, 2 hours`, `1:30:00`, `P1DT2H`.

use super::datetime::{DAY_MS, parse_time_of_day};

const UNITS: &[(&str, f64)] = &[
    ("w", 7.0 * DAY_MS as f64),
    ("week", 7.0 * DAY_MS as f64),
    ("weeks", 7.0 * DAY_MS as f64),
    ("d", DAY_MS as f64),
    ("day", DAY_MS as f64),
    ("days", DAY_MS as f64),
    ("h", 3_600_000.0),
    ("hr", 3_600_000.0),
    ("hrs", 3_600_000.0),
    ("hour", 3_600_000.0),
    ("hours", 3_600_000.0),
    ("m", 60_000.0),
    ("min", 60_000.0),
    ("mins", 60_000.0),
    ("minute", 60_000.0),
    ("minutes", 60_000.0),
    ("s", 1_000.0),
    ("sec", 1_000.0),
    ("secs", 1_000.0),
    ("second", 1_000.0),
    ("seconds", 1_000.0),
    ("ms", 1.0),
    ("millisecond", 1.0),
    ("milliseconds", 1.0),
];

/// Parses a duration into whole milliseconds (rounded toward zero).
pub(super) fn parse_interval_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    let (sign, body) = match text.strip_prefix('-') {
        Some(rest) => (-1.0, rest.trim_start()),
        None => (1.0, text),
    };
    let ms = if body.starts_with(['P', 'p']) {
        parse_iso(&body[1..])?
    } else if body.contains(':') {
        parse_clock(body)?
    } else {
        parse_units(body)?
    };
    let ms = (sign * ms).trunc();
    (ms.is_finite() && ms.abs() < 9.2e18).then_some(ms as i64)
}

/// `number unit` pairs separated by optional spaces or commas.
fn parse_units(text: &str) -> Option<f64> {
    let mut rest = text;
    let mut total = 0.0;
    let mut pairs = 0;
    loop {
        rest = rest.trim_start_matches([' ', ',', '\t']);
        if rest.is_empty() {
            break;
        }
        let (number, after) = split_number(rest)?;
        let after = after.trim_start();
        let unit_len = after.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(after.len());
        let unit = &after[..unit_len];
        let factor = unit_factor(unit)?;
        total += number * factor;
        pairs += 1;
        rest = &after[unit_len..];
    }
    (pairs > 0).then_some(total)
}

fn unit_factor(unit: &str) -> Option<f64> {
    UNITS.iter().find(|(name, _)| name.eq_ignore_ascii_case(unit)).map(|(_, factor)| *factor)
}

/// Splits a leading unsigned decimal number (`12`, `1.5`, `.5`) off `text`.
fn split_number(text: &str) -> Option<(f64, &str)> {
    let end = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let digits = &text[..end];
    if digits.is_empty() || digits == "." || digits.matches('.').count() > 1 {
        return None;
    }
    Some((digits.parse().ok()?, &text[end..]))
}

/// `[D day(s)[,] ]H:MM:SS[.fraction]` (hours may exceed 23).
fn parse_clock(text: &str) -> Option<f64> {
    let (days, clock) = match text.rfind([' ', ',']) {
        Some(at) => {
            let day_part = text[..at].trim().trim_end_matches(',').trim();
            let (count, unit) = split_number(day_part)?;
            if !matches!(unit.trim().to_ascii_lowercase().as_str(), "day" | "days" | "d") {
                return None;
            }
            (count, text[at + 1..].trim())
        }
        None => (0.0, text),
    };
    let (hours, rest) = clock.split_once(':')?;
    if hours.is_empty() || !hours.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: f64 = hours.parse().ok()?;
    let minutes_seconds = parse_time_of_day(&format!("00:{rest}"))?;
    if rest.len() < 5 {
        return None;
    }
    Some(days * DAY_MS as f64 + hours * 3_600_000.0 + minutes_seconds.total_ms() as f64)
}

/// ISO 8601 duration body after `P`: `[nW][nD][T[nH][nM][nS]]`.
fn parse_iso(text: &str) -> Option<f64> {
    let (date_part, time_part) = match text.split_once(['T', 't']) {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (text, None),
    };
    let mut total = 0.0;
    let mut any = false;
    for (part, units) in [(date_part, "WD"), (time_part.unwrap_or(""), "HMS")] {
        let mut rest = part;
        let mut allowed = units;
        while !rest.is_empty() {
            let (number, after) = split_number(rest)?;
            let designator = after.chars().next()?.to_ascii_uppercase();
            let position = allowed.find(designator)?;
            allowed = &allowed[position + 1..];
            total += number
                * match designator {
                    'W' => 7.0 * DAY_MS as f64,
                    'D' => DAY_MS as f64,
                    'H' => 3_600_000.0,
                    'M' => 60_000.0,
                    _ => 1_000.0,
                };
            any = true;
            rest = &after[1..];
        }
    }
    any.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_units() {
        assert_eq!(parse_interval_ms("7d"), Some(7 * DAY_MS));
        assert_eq!(parse_interval_ms("24h"), Some(DAY_MS));
        assert_eq!(parse_interval_ms("30m"), Some(1_800_000));
        assert_eq!(parse_interval_ms("90s"), Some(90_000));
        assert_eq!(parse_interval_ms("2w"), Some(14 * DAY_MS));
        assert_eq!(parse_interval_ms("500ms"), Some(500));
        assert_eq!(parse_interval_ms("1d 2h 30m"), Some(DAY_MS + 9_000_000));
        assert_eq!(parse_interval_ms("1.5h"), Some(5_400_000));
        assert_eq!(parse_interval_ms("-1d"), Some(-DAY_MS));
    }

    #[test]
    fn words() {
        assert_eq!(parse_interval_ms("1 day 2 hours"), Some(DAY_MS + 7_200_000));
        assert_eq!(parse_interval_ms("1 day, 2 hours"), Some(DAY_MS + 7_200_000));
        assert_eq!(parse_interval_ms("3 Weeks"), Some(21 * DAY_MS));
        assert_eq!(parse_interval_ms("5 mins"), Some(300_000));
    }

    #[test]
    fn clocks() {
        assert_eq!(parse_interval_ms("01:30:00"), Some(5_400_000));
        assert_eq!(parse_interval_ms("24:00:00"), Some(DAY_MS));
        assert_eq!(parse_interval_ms("1 day, 2:00:00"), Some(DAY_MS + 7_200_000));
        assert_eq!(parse_interval_ms("2 days, 0:00:01.5"), Some(2 * DAY_MS + 1_500));
        assert_eq!(parse_interval_ms("1:30"), None);
    }

    #[test]
    fn iso() {
        assert_eq!(parse_interval_ms("P1W"), Some(7 * DAY_MS));
        assert_eq!(parse_interval_ms("P1DT2H30M"), Some(DAY_MS + 9_000_000));
        assert_eq!(parse_interval_ms("PT0.5S"), Some(500));
        assert_eq!(parse_interval_ms("P"), None);
        assert_eq!(parse_interval_ms("PT"), None);
        assert_eq!(parse_interval_ms("P1H"), None);
        assert_eq!(parse_interval_ms("PT1D"), None);
    }

    #[test]
    fn garbage() {
        for bad in ["", "5 parsecs", "d", "5", "1..5h", "abc", "P1Y"] {
            assert_eq!(parse_interval_ms(bad), None, "{bad}");
        }
    }
}
