//! A BSON value of a filter back into a spec `val`: JSON that the compiler converts into the
//! very same BSON (type included). Int32 and Int64 beyond 32 bits are plain integers, Double is
//! a JSON number with a fraction or exponent, every other type an Extended JSON wrapper the
//! compiler reads (`$numberLong` for a small Int64, `$numberDouble` for NaN and infinities,
//! `$date`, `$oid`, `$numberDecimal`, `$uuid`, `$binary`).

use bson::spec::BinarySubtype;
use bson::{Binary, Bson};
use serde_json::{Map, Number, Value, json};

use super::error::{Loc, Result};
use crate::config::field_path_problem;

/// Milliseconds of 10000-01-01T00:00:00Z: dates from 1970 up to here are written as ISO text.
const ISO_DATE_END_MS: i64 = 253_402_300_800_000;

/// The spec value for `value` at `loc`; `unsupported_filter` for a type a spec cannot hold.
pub(crate) fn to_spec(value: &Bson, loc: &Loc<'_>) -> Result<Value> {
    Ok(match value {
        Bson::Null => Value::Null,
        Bson::Boolean(b) => Value::Bool(*b),
        Bson::String(s) => Value::String(s.clone()),
        Bson::Int32(i) => Value::from(*i),
        Bson::Int64(i) if i32::try_from(*i).is_ok() => json!({"$numberLong": i.to_string()}),
        Bson::Int64(i) => Value::from(*i),
        Bson::Double(d) => match Number::from_f64(*d) {
            Some(number) => Value::Number(number),
            None => json!({"$numberDouble": non_finite(*d)}),
        },
        Bson::Decimal128(d) => json!({"$numberDecimal": d.to_string()}),
        Bson::DateTime(date) => json!({"$date": date_value(*date)}),
        Bson::ObjectId(oid) => json!({"$oid": oid.to_hex()}),
        Bson::Binary(binary) => binary_value(binary),
        Bson::Array(items) => {
            loc.check_depth()?;
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                out.push(to_spec(item, &loc.index(index))?);
            }
            Value::Array(out)
        }
        Bson::Document(doc) => {
            loc.check_depth()?;
            let mut out = Map::with_capacity(doc.len());
            for (key, item) in doc {
                let here = loc.key(key);
                if key.starts_with('$') || key.contains('\0') {
                    return Err(here.unsupported(format!(
                        "a literal document with the key {key:?} cannot be written in a specification (keys \
                         starting with '$' would act as operators)"
                    )));
                }
                out.insert(key.clone(), to_spec(item, &here)?);
            }
            Value::Object(out)
        }
        Bson::RegularExpression(_) => {
            return Err(loc.unsupported(
                "a regular expression is only meaningful as a field's pattern ({field: /re/} or $regex), \
                 not as a value to compare with",
            ));
        }
        other => {
            return Err(loc.unsupported(format!(
                "a {} value cannot be written in a specification",
                crate::diag::bson_type_name(other)
            )));
        }
    })
}

/// True for the values the ordering comparisons accept: not null, not a list or document.
pub(crate) fn is_scalar(value: &Bson) -> bool {
    !matches!(value, Bson::Null | Bson::Array(_) | Bson::Document(_))
}

/// `unsupported_filter` when `path` is not a field path a spec accepts.
pub(crate) fn check_field_path(path: &str, loc: &Loc<'_>) -> Result<()> {
    match field_path_problem(path) {
        None => Ok(()),
        Some(problem) => {
            Err(loc.unsupported(format!("the field {path:?} cannot be named in a specification: {problem}")))
        }
    }
}

fn non_finite(d: f64) -> &'static str {
    if d.is_nan() {
        "NaN"
    } else if d > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// ISO text (as relaxed Extended JSON writes it) from 1970 to 9999, milliseconds otherwise.
fn date_value(date: bson::DateTime) -> Value {
    let ms = date.timestamp_millis();
    if (0..ISO_DATE_END_MS).contains(&ms)
        && let Ok(iso) = date.try_to_rfc3339_string()
    {
        return Value::String(iso);
    }
    json!({"$numberLong": ms.to_string()})
}

/// `{"$uuid": "…"}` for a 16-byte subtype 4, the canonical `$binary` form otherwise.
fn binary_value(binary: &Binary) -> Value {
    if binary.subtype == BinarySubtype::Uuid
        && let Ok(uuid) = binary.to_uuid()
    {
        return json!({"$uuid": uuid.to_string()});
    }
    let subtype = format!("{:02x}", u8::from(binary.subtype));
    json!({"$binary": {"base64": base64(&binary.bytes), "subType": subtype}})
}

/// Standard base64 with padding (the bson crate keeps its encoder private).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use bson::oid::ObjectId;
    use bson::{Decimal128, doc};

    use super::*;
    use crate::diag::Diag;
    use crate::values::convert;

    /// The compiler's own conversion of the spec value.
    fn back(value: &Value) -> Bson {
        convert(value, &crate::CompilerConfig::default(), &mut Diag::new(false), 0).expect("the compiler reads it")
    }

    fn round_trip(value: Bson) {
        let spec = to_spec(&value, &Loc::ROOT).unwrap();
        let again = back(&serde_json::from_str(&spec.to_string()).unwrap());
        match (&value, &again) {
            (Bson::Double(a), Bson::Double(b)) => assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())),
            _ => assert_eq!(again, value, "via {spec}"),
        }
    }

    #[test]
    fn every_spec_type_comes_back_with_its_type() {
        for value in [
            Bson::Int32(5),
            Bson::Int64(5),
            Bson::Int64(3_000_000_000),
            Bson::Int64(i64::MIN),
            Bson::Double(1.0),
            Bson::Double(-0.0),
            Bson::Double(1e300),
            Bson::Double(f64::NAN),
            Bson::Double(f64::NEG_INFINITY),
            Bson::Decimal128(Decimal128::from_str("10.00").unwrap()),
            Bson::Decimal128(Decimal128::from_str("-1E+3").unwrap()),
            Bson::DateTime(bson::DateTime::from_millis(1_714_557_600_123)),
            Bson::DateTime(bson::DateTime::from_millis(-5)),
            Bson::DateTime(bson::DateTime::from_millis(i64::MAX)),
            Bson::ObjectId(ObjectId::parse_str("65a1b2c3d4e5f60718293a01").unwrap()),
            Bson::Binary(Binary { subtype: BinarySubtype::Uuid, bytes: (0..16).collect() }),
            Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2, 3, 4, 250] }),
            Bson::Binary(Binary { subtype: BinarySubtype::UserDefined(0x80), bytes: vec![] }),
            Bson::Array(vec![Bson::Int64(1), Bson::Null, Bson::Document(doc! {"b": 1.5, "a": [true]})]),
        ] {
            round_trip(value);
        }
    }

    #[test]
    fn dates_read_as_iso_text_when_they_can() {
        let date = Bson::DateTime(bson::DateTime::from_millis(1_714_557_600_000));
        assert_eq!(to_spec(&date, &Loc::ROOT).unwrap(), json!({"$date": "2024-05-01T10:00:00Z"}));
    }

    #[test]
    fn operator_keys_and_foreign_types_are_refused_at_their_path() {
        let err = to_spec(&Bson::Document(doc! {"a": {"$gt": 1}}), &Loc::ROOT).unwrap_err();
        assert_eq!((err.code().as_str(), err.path_string().as_str()), ("unsupported_filter", "<filter>.a.$gt"));
        let err = to_spec(&Bson::Array(vec![Bson::MinKey]), &Loc::ROOT).unwrap_err();
        assert_eq!((err.code().as_str(), err.path_string().as_str()), ("unsupported_filter", "<filter>[0]"));
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
