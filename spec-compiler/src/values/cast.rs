//! `value_type` casts. A value that cannot be cast is an `invalid_cast` error, never passed
//! through unchanged (the legacy behaviour).

use std::str::FromStr;

use bson::{Binary, Bson, Decimal128, spec::BinarySubtype};

use super::datetime::{DAY_MS, parse_datetime_ms, parse_time_of_day};
use super::interval::parse_interval_ms;
use super::{ValueType, convert, int};
use crate::config::CompilerConfig;
use crate::diag::{Diag, Seg, bson_type_name};
use crate::error::ErrorCode;

/// Applies `value_type` to an already converted value; lists are cast item by item except for
/// `list` and `json`.
pub(super) fn cast(value: Bson, value_type: ValueType, config: &CompilerConfig, diag: &mut Diag<'_>) -> Option<Bson> {
    match value {
        Bson::Array(items) if value_type.casts_items() => {
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (index, item) in items.into_iter().enumerate() {
                match diag.at(Seg::Index(index), |diag| cast_one(item, value_type, config, diag)) {
                    Some(bson) => out.push(bson),
                    None => ok = false,
                }
                if diag.stop() {
                    return None;
                }
            }
            ok.then_some(Bson::Array(out))
        }
        other => cast_one(other, value_type, config, diag),
    }
}

fn cast_one(value: Bson, value_type: ValueType, config: &CompilerConfig, diag: &mut Diag<'_>) -> Option<Bson> {
    if value == Bson::Null {
        return Some(Bson::Null);
    }
    let result = match value_type {
        ValueType::String => to_string(&value).map(Bson::String),
        ValueType::Integer => to_integer(&value).map(int),
        ValueType::SmallInteger => to_integer(&value).filter(|i| i16::try_from(*i).is_ok()).map(int),
        ValueType::Float => to_float(&value).map(Bson::Double),
        ValueType::Decimal => to_decimal(&value).map(Bson::Decimal128),
        ValueType::Boolean => to_bool(&value).map(Bson::Boolean),
        ValueType::DateTime => to_datetime_ms(&value).map(date),
        ValueType::Date => to_datetime_ms(&value).map(|ms| date(ms - ms.rem_euclid(DAY_MS))),
        ValueType::Time => match &value {
            Bson::String(s) => parse_time_of_day(s).map(|t| Bson::String(t.to_iso())),
            _ => None,
        },
        ValueType::Interval => match &value {
            Bson::String(s) => parse_interval_ms(s).map(int),
            _ => None,
        },
        ValueType::Uuid => to_uuid(&value),
        ValueType::Json => return to_json(value, config, diag),
        ValueType::List => to_list(&value),
        ValueType::Auto => Some(auto(value.clone())),
    };
    if result.is_none() {
        diag.error(
            ErrorCode::InvalidCast,
            format!("cannot cast {} {} to {}", bson_type_name(&value), preview(&value), value_type.name()),
        );
    }
    result
}

fn preview(value: &Bson) -> String {
    let text = match value {
        Bson::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    if text.chars().count() > 40 { format!("{}…", text.chars().take(40).collect::<String>()) } else { text }
}

fn date(ms: i64) -> Bson {
    Bson::DateTime(bson::DateTime::from_millis(ms))
}

fn to_string(value: &Bson) -> Option<String> {
    match value {
        Bson::String(s) => Some(s.clone()),
        Bson::Int32(i) => Some(i.to_string()),
        Bson::Int64(i) => Some(i.to_string()),
        Bson::Double(d) if d.is_finite() => Some(format_double(*d)),
        Bson::Decimal128(d) => Some(d.to_string()),
        Bson::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Shortest round-trip decimal form without exponent; integral values keep a `.0`.
fn format_double(d: f64) -> String {
    let text = d.to_string();
    if text.contains('.') { text } else { format!("{text}.0") }
}

fn to_integer(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        Bson::Double(d) if d.fract() == 0.0 && d.abs() < 9.2e18 => Some(*d as i64),
        Bson::String(s) => {
            let trimmed = s.trim();
            let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            trimmed.parse().ok()
        }
        _ => None,
    }
}

fn to_float(value: &Bson) -> Option<f64> {
    let float = match value {
        Bson::Int32(i) => f64::from(*i),
        Bson::Int64(i) => *i as f64,
        Bson::Double(d) => *d,
        Bson::String(s) if is_decimal_literal(s.trim()) => s.trim().parse().ok()?,
        _ => return None,
    };
    float.is_finite().then_some(float)
}

fn to_decimal(value: &Bson) -> Option<Decimal128> {
    let text = match value {
        Bson::Decimal128(d) => return Some(*d),
        Bson::Int32(i) => i.to_string(),
        Bson::Int64(i) => i.to_string(),
        Bson::Double(d) if d.is_finite() => format_double(*d),
        Bson::String(s) if is_decimal_literal(s.trim()) => s.trim().to_owned(),
        _ => return None,
    };
    Decimal128::from_str(&text).ok()
}

/// `[+-]digits[.digits][e[+-]digits]`, also `.5` and `5.`; no `inf`/`nan`.
fn is_decimal_literal(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = !(whole.is_empty() && fraction.is_empty()) && all_digits(whole) && all_digits(fraction);
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

fn to_bool(value: &Bson) -> Option<bool> {
    match value {
        Bson::Boolean(b) => Some(*b),
        Bson::Int32(0) | Bson::Int64(0) => Some(false),
        Bson::Int32(1) | Bson::Int64(1) => Some(true),
        Bson::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn to_datetime_ms(value: &Bson) -> Option<i64> {
    match value {
        Bson::DateTime(d) => Some(d.timestamp_millis()),
        Bson::String(s) => parse_datetime_ms(s.trim()),
        _ => None,
    }
}

fn to_uuid(value: &Bson) -> Option<Bson> {
    match value {
        Bson::Binary(binary) if binary.subtype == BinarySubtype::Uuid && binary.bytes.len() == 16 => {
            Some(value.clone())
        }
        Bson::String(s) => {
            let uuid = bson::Uuid::parse_str(s.trim()).ok()?;
            Some(Bson::Binary(Binary { subtype: BinarySubtype::Uuid, bytes: uuid.bytes().to_vec() }))
        }
        _ => None,
    }
}

fn to_json(value: Bson, config: &CompilerConfig, diag: &mut Diag<'_>) -> Option<Bson> {
    let Bson::String(text) = &value else {
        return Some(value);
    };
    match crate::input::parse_nested(text) {
        Ok(parsed) => convert(&parsed, config, diag, 0),
        Err(err) if err.code() == ErrorCode::InvalidJson => {
            diag.error(ErrorCode::InvalidCast, format!("cannot cast the string to json: {}", err.message()));
            None
        }
        // An integer outside Int64 or nesting too deep: at its path inside the parsed value.
        Err(err) => {
            diag.error_below(err);
            None
        }
    }
}

fn to_list(value: &Bson) -> Option<Bson> {
    match value {
        Bson::Array(_) => Some(value.clone()),
        Bson::String(s) => {
            let inner = s.trim();
            let inner = inner.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(inner);
            let items = inner
                .split(',')
                .map(|item| strip_quotes(item.trim()))
                .filter(|item| !item.is_empty())
                .map(|item| Bson::String(item.to_owned()))
                .collect();
            Some(Bson::Array(items))
        }
        _ => None,
    }
}

fn strip_quotes(item: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = item.strip_prefix(quote).and_then(|rest| rest.strip_suffix(quote)) {
            return inner.trim();
        }
    }
    item
}

fn auto(value: Bson) -> Bson {
    let Bson::String(s) = &value else {
        return value;
    };
    if s.eq_ignore_ascii_case("true") {
        return Bson::Boolean(true);
    }
    if s.eq_ignore_ascii_case("false") {
        return Bson::Boolean(false);
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().map(int).unwrap_or(value);
    }
    if let Some(float) = s.parse::<f64>().ok().filter(|f| f.is_finite() && is_decimal_literal(s)) {
        return Bson::Double(float);
    }
    match parse_datetime_ms(s) {
        Some(ms) => date(ms),
        None => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(value: Bson, value_type: ValueType) -> Option<Bson> {
        cast(value, value_type, &CompilerConfig::default(), &mut Diag::new(false))
    }

    fn s(text: &str) -> Bson {
        Bson::String(text.to_owned())
    }

    #[test]
    fn strings_and_numbers() {
        assert_eq!(run(Bson::Double(1.0), ValueType::String), Some(s("1.0")));
        assert_eq!(run(Bson::Int32(5), ValueType::String), Some(s("5")));
        assert_eq!(run(Bson::Boolean(true), ValueType::String), Some(s("true")));
        assert_eq!(run(s(" 42 "), ValueType::Integer), Some(Bson::Int32(42)));
        assert_eq!(run(s("3000000000"), ValueType::Integer), Some(Bson::Int64(3_000_000_000)));
        assert_eq!(run(s("4.5"), ValueType::Integer), None);
        assert_eq!(run(Bson::Double(4.0), ValueType::Integer), Some(Bson::Int32(4)));
        assert_eq!(run(s("40000"), ValueType::SmallInteger), None);
        assert_eq!(run(s("1e3"), ValueType::Float), Some(Bson::Double(1000.0)));
        assert_eq!(run(s("nan"), ValueType::Float), None);
        assert_eq!(run(s("abc"), ValueType::Float), None);
    }

    #[test]
    fn decimals_keep_their_digits() {
        let Some(Bson::Decimal128(d)) = run(s("10.00"), ValueType::Decimal) else { panic!() };
        assert_eq!(d.to_string(), "10.00");
        let Some(Bson::Decimal128(d)) = run(Bson::Double(0.1), ValueType::Decimal) else { panic!() };
        assert_eq!(d.to_string(), "0.1");
        assert_eq!(run(s("1,5"), ValueType::Decimal), None);
        assert_eq!(run(s("Infinity"), ValueType::Decimal), None);
    }

    #[test]
    fn booleans_dates_and_lists() {
        assert_eq!(run(s("Yes"), ValueType::Boolean), Some(Bson::Boolean(true)));
        assert_eq!(run(s("maybe"), ValueType::Boolean), None);
        assert_eq!(run(s("2024-03-01T10:00:00Z"), ValueType::Date), Some(date(1_709_251_200_000)));
        assert_eq!(run(s("2024-03-01T10:00:00Z"), ValueType::DateTime), Some(date(1_709_287_200_000)));
        assert_eq!(run(s("['spam', \"eggs\", ]"), ValueType::List), Some(Bson::Array(vec![s("spam"), s("eggs")])));
        assert_eq!(
            run(Bson::Array(vec![s("1"), s("2")]), ValueType::Integer),
            Some(Bson::Array(vec![Bson::Int32(1), Bson::Int32(2)]))
        );
        assert_eq!(run(Bson::Null, ValueType::Integer), Some(Bson::Null));
    }

    #[test]
    fn auto_recognises_literals() {
        assert_eq!(run(s("42"), ValueType::Auto), Some(Bson::Int32(42)));
        assert_eq!(run(s("-.5"), ValueType::Auto), Some(Bson::Double(-0.5)));
        assert_eq!(run(s("TRUE"), ValueType::Auto), Some(Bson::Boolean(true)));
        assert_eq!(run(s("2024-01-01"), ValueType::Auto), Some(date(1_704_067_200_000)));
        assert_eq!(run(s("hello"), ValueType::Auto), Some(s("hello")));
        assert_eq!(run(s("99999999999999999999"), ValueType::Auto), Some(s("99999999999999999999")));
    }

    #[test]
    fn uuids() {
        let expected = Bson::Binary(Binary {
            subtype: BinarySubtype::Uuid,
            bytes: vec![0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00],
        });
        assert_eq!(run(s("123e4567-e89b-12d3-a456-426614174000"), ValueType::Uuid), Some(expected.clone()));
        assert_eq!(run(s("123e4567e89b12d3a456426614174000"), ValueType::Uuid), Some(expected.clone()));
        assert_eq!(run(s("{123e4567-e89b-12d3-a456-426614174000}"), ValueType::Uuid), Some(expected));
        assert_eq!(run(s("not-a-uuid"), ValueType::Uuid), None);
    }
}
