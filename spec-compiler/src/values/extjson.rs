//! The Extended JSON wrappers accepted in values: `$date`, `$oid`, `$numberDecimal`,
//! `$numberLong`, `$numberInt`, `$numberDouble`, `$uuid`, `$binary` (canonical and legacy).
//!
//! Other wrappers (`$regularExpression`, `$code`, `$minKey`, …) are deliberately not decoded: a
//! regular expression inside `$in` would change query semantics, and code has no place in a
//! filter. They are refused as `$`-keys by the literal check.

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Decimal128, Regex};
use serde_json::{Map, Value};

use super::datetime::parse_datetime_ms;
use crate::diag::Diag;
use crate::error::ErrorCode;

const SINGLE_KEY_WRAPPERS: [&str; 8] =
    ["$date", "$oid", "$numberDecimal", "$numberLong", "$numberInt", "$numberDouble", "$uuid", "$binary"];

/// True when the object is exactly one accepted wrapper.
pub(super) fn is_wrapper(map: &Map<String, Value>) -> bool {
    match map.len() {
        1 => map.keys().next().is_some_and(|key| SINGLE_KEY_WRAPPERS.contains(&key.as_str())),
        2 => map.contains_key("$binary") && map.contains_key("$type"),
        _ => false,
    }
}

/// Decodes a wrapper recognised by [`is_wrapper`].
pub(super) fn decode(map: &Map<String, Value>, diag: &mut Diag<'_>) -> Option<Bson> {
    match decode_wrapper(map)? {
        Ok(bson) => Some(bson),
        Err(message) => {
            diag.error(ErrorCode::InvalidExtendedJson, message);
            None
        }
    }
}

/// A wrapper recognised by [`is_wrapper`] decoded, or the message of `invalid_extended_json`.
fn decode_wrapper(map: &Map<String, Value>) -> Option<Result<Bson, String>> {
    let (key, value) = map.iter().find(|(k, _)| k.as_str() != "$type")?;
    Some(decode_entry(key, value, map.get("$type")))
}

/// The wrapper `key` with `value` (and a legacy `$binary`'s `$type`) decoded, or the message.
fn decode_entry(key: &str, value: &Value, legacy_type: Option<&Value>) -> Result<Bson, String> {
    decode_one(key, value, legacy_type).map_err(|why| format!("malformed Extended JSON {key} value: {why}"))
}

/// The value of an object that is one Extended JSON value in a document or a filter: a wrapper
/// of values ([`is_wrapper`]) or `{"$regularExpression": {"pattern", "options"}}` (the
/// canonical form of `/re/`; its options sorted, as BSON stores them). `None` for any other
/// object, `$regex`/`$options` included; `Some(Err(message))` for a malformed one.
pub(crate) fn document_value(map: &Map<String, Value>) -> Option<Result<Bson, String>> {
    match map.iter().next() {
        Some((key, value)) if map.len() == 1 => single_document_value(key, value),
        _ if is_wrapper(map) => decode_wrapper(map),
        _ => None,
    }
}

/// [`document_value`] of the one-entry object `{key: value}`, without building it (the
/// streaming document reader's common case: a `$date` of the npm package's `Date`).
pub(crate) fn single_document_value(key: &str, value: &Value) -> Option<Result<Bson, String>> {
    if key == "$regularExpression" {
        Some(regular_expression(value))
    } else if SINGLE_KEY_WRAPPERS.contains(&key) {
        Some(decode_entry(key, value, None))
    } else {
        None
    }
}

/// Whether an object whose first key is `key` may be one Extended JSON value
/// ([`document_value`]): the readers that stream a document look no further at other objects.
pub(crate) fn may_start_document_value(key: &str) -> bool {
    key == "$type" || key == "$regularExpression" || SINGLE_KEY_WRAPPERS.contains(&key)
}

/// The body of `$regularExpression`: `{"pattern": string, "options": string}`, no NUL bytes.
fn regular_expression(body: &Value) -> Result<Bson, String> {
    let malformed = || {
        "malformed Extended JSON $regularExpression: expected {\"pattern\": string, \"options\": string} \
         without NUL bytes"
            .to_owned()
    };
    let Value::Object(body) = body else { return Err(malformed()) };
    let (Some(Value::String(pattern)), Some(Value::String(options)), 2) =
        (body.get("pattern"), body.get("options"), body.len())
    else {
        return Err(malformed());
    };
    let mut letters: Vec<char> = options.chars().collect();
    letters.sort_unstable();
    let options: String = letters.into_iter().collect();
    match (pattern.as_str().try_into(), options.as_str().try_into()) {
        (Ok(pattern), Ok(options)) => Ok(Bson::RegularExpression(Regex { pattern, options })),
        _ => Err(malformed()),
    }
}

/// The canonical and relaxed forms of each accepted wrapper (written here rather than taken from
/// the bson crate's serde models, which would more than double the WebAssembly module).
fn decode_one(key: &str, value: &Value, legacy_type: Option<&Value>) -> Result<Bson, String> {
    let text = || value.as_str().ok_or_else(|| format!("expected a string, got {value}"));
    match key {
        "$numberInt" => text()?.parse().map(Bson::Int32).map_err(|e| e.to_string()),
        "$numberLong" => text()?.parse().map(Bson::Int64).map_err(|e| e.to_string()),
        "$numberDouble" => match text()? {
            "Infinity" => Ok(Bson::Double(f64::INFINITY)),
            "-Infinity" => Ok(Bson::Double(f64::NEG_INFINITY)),
            "NaN" => Ok(Bson::Double(f64::NAN)),
            other => other.parse().map(Bson::Double).map_err(|e| e.to_string()),
        },
        "$numberDecimal" => text()?.parse::<Decimal128>().map(Bson::Decimal128).map_err(|e| e.to_string()),
        "$oid" => ObjectId::parse_str(text()?).map(Bson::ObjectId).map_err(|e| e.to_string()),
        "$uuid" => bson::Uuid::parse_str(text()?).map(|u| Bson::Binary(Binary::from(u))).map_err(|e| e.to_string()),
        "$date" => date(value).map(|ms| Bson::DateTime(bson::DateTime::from_millis(ms))),
        _ => binary(value, legacy_type),
    }
}

/// `{"$date": "ISO-8601"}`, `{"$date": ms}` or `{"$date": {"$numberLong": "ms"}}`.
fn date(value: &Value) -> Result<i64, String> {
    match value {
        Value::String(iso) => parse_datetime_ms(iso).ok_or_else(|| format!("{iso:?} is not an ISO 8601 date-time")),
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("{n} is not whole milliseconds")),
        Value::Object(inner) if inner.len() == 1 => match inner.get("$numberLong").and_then(Value::as_str) {
            Some(ms) => ms.parse().map_err(|_| format!("{ms:?} is not whole milliseconds")),
            None => Err("expected {\"$numberLong\": \"milliseconds\"}".to_owned()),
        },
        other => Err(format!("expected an ISO string or milliseconds, got {other}")),
    }
}

/// `{"$binary": {"base64", "subType"}}` or the legacy `{"$binary": base64, "$type": hex}`.
fn binary(value: &Value, legacy_type: Option<&Value>) -> Result<Bson, String> {
    let (base64, subtype) = match (value, legacy_type) {
        (Value::String(base64), Some(Value::String(subtype))) => (base64.as_str(), subtype.as_str()),
        (Value::Object(body), None) if body.len() == 2 => match (body.get("base64"), body.get("subType")) {
            (Some(Value::String(base64)), Some(Value::String(subtype))) => (base64.as_str(), subtype.as_str()),
            _ => return Err("expected {\"base64\": string, \"subType\": hex string}".to_owned()),
        },
        _ => return Err("expected {\"base64\", \"subType\"} or a legacy {\"$binary\", \"$type\"} pair".to_owned()),
    };
    let subtype = u8::from_str_radix(subtype, 16).map_err(|_| format!("{subtype:?} is not a hex subtype"))?;
    Binary::from_base64(base64, BinarySubtype::from(subtype)).map(Bson::Binary).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn dec(value: Value) -> Option<Bson> {
        let Value::Object(map) = value else { panic!("object expected") };
        assert!(is_wrapper(&map));
        decode(&map, &mut Diag::new(false))
    }

    #[test]
    fn decodes_each_wrapper() {
        assert_eq!(
            dec(json!({"$date": "2024-01-01T00:00:00Z"})),
            Some(Bson::DateTime(bson::DateTime::from_millis(1_704_067_200_000)))
        );
        assert_eq!(dec(json!({"$date": {"$numberLong": "5"}})), Some(Bson::DateTime(bson::DateTime::from_millis(5))));
        assert_eq!(dec(json!({"$numberLong": "5"})), Some(Bson::Int64(5)));
        assert_eq!(dec(json!({"$numberInt": "5"})), Some(Bson::Int32(5)));
        assert_eq!(dec(json!({"$numberDouble": "5.0"})), Some(Bson::Double(5.0)));
        assert!(matches!(dec(json!({"$numberDecimal": "1.50"})), Some(Bson::Decimal128(d)) if d.to_string() == "1.50"));
        assert!(matches!(dec(json!({"$oid": "65a1b2c3d4e5f60718293a01"})), Some(Bson::ObjectId(_))));
        let uuid = dec(json!({"$uuid": "123e4567-e89b-12d3-a456-426614174000"})).unwrap();
        let legacy = dec(json!({"$binary": "Ej5FZ+ibEtOkVkJmFBdAAA==", "$type": "4"})).unwrap();
        let canonical = dec(json!({"$binary": {"base64": "Ej5FZ+ibEtOkVkJmFBdAAA==", "subType": "04"}})).unwrap();
        assert_eq!(uuid, legacy);
        assert_eq!(uuid, canonical);
    }

    #[test]
    fn malformed_wrappers_are_errors() {
        assert_eq!(dec(json!({"$date": "yesterday"})), None);
        assert_eq!(dec(json!({"$oid": "xyz"})), None);
        assert_eq!(dec(json!({"$numberDecimal": "abc"})), None);
        assert_eq!(dec(json!({"$binary": 5, "$type": "00"})), None);
        assert_eq!(dec(json!({"$date": {"$numberLong": "x"}})), None);
        assert_eq!(dec(json!({"$binary": {"base64": "!!", "subType": "00"}})), None);
        assert_eq!(dec(json!({"$numberDouble": "-Infinity"})), Some(Bson::Double(f64::NEG_INFINITY)));
    }

    #[test]
    fn only_exact_wrappers_are_recognised() {
        let Value::Object(map) = json!({"$date": "2024-01-01T00:00:00Z", "x": 1}) else { unreachable!() };
        assert!(!is_wrapper(&map));
        let Value::Object(map) = json!({"$regularExpression": {"pattern": "a", "options": ""}}) else { unreachable!() };
        assert!(!is_wrapper(&map));
    }
}
