//! The Extended JSON wrappers accepted in values: `$date`, `$oid`, `$numberDecimal`,
//! `$numberLong`, `$numberInt`, `$numberDouble`, `$uuid`, `$binary` (canonical and legacy).
//!
//! Other wrappers (`$regularExpression`, `$code`, `$minKey`, …) are deliberately not decoded: a
//! regular expression inside `$in` would change query semantics, and code has no place in a
//! filter. They are refused as `$`-keys by the literal check.

use bson::Bson;
use serde_json::{Map, Value};

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
    let value = match (map.get("$binary"), map.get("$type")) {
        (Some(Value::String(base64)), Some(Value::String(subtype))) => legacy_binary(base64, subtype),
        (Some(_), Some(_)) => {
            diag.error(ErrorCode::InvalidExtendedJson, "legacy {\"$binary\", \"$type\"} needs two strings");
            return None;
        }
        _ => Value::Object(map.clone()),
    };
    match Bson::try_from(value) {
        Ok(bson) => Some(bson),
        Err(err) => {
            let key = map.keys().next().map(String::as_str).unwrap_or_default();
            diag.error(
                ErrorCode::InvalidExtendedJson,
                format!("malformed Extended JSON {key} value: {}", short(&err.to_string())),
            );
            None
        }
    }
}

/// Rewrites `{"$binary": b64, "$type": "4"}` to the canonical form the bson crate parses.
fn legacy_binary(base64: &str, subtype: &str) -> Value {
    let subtype = if subtype.len() == 1 { format!("0{subtype}") } else { subtype.to_owned() };
    serde_json::json!({"$binary": {"base64": base64, "subType": subtype}})
}

fn short(message: &str) -> &str {
    message.lines().next().unwrap_or(message)
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
    }

    #[test]
    fn only_exact_wrappers_are_recognised() {
        let Value::Object(map) = json!({"$date": "2024-01-01T00:00:00Z", "x": 1}) else { unreachable!() };
        assert!(!is_wrapper(&map));
        let Value::Object(map) = json!({"$regularExpression": {"pattern": "a", "options": ""}}) else { unreachable!() };
        assert!(!is_wrapper(&map));
    }
}
