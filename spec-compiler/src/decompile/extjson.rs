//! A filter given as Extended JSON (canonical or relaxed) into a BSON document, and the input
//! errors of filter text. Numbers follow the compiler's rule (an integer is Int32, or Int64
//! beyond 32 bits; a fraction or exponent is Double); the value wrappers are decoded by the
//! compiler's own reader, plus `$regularExpression` (the canonical form of `{field: /re/}`).
//! Any other object, `$regex`/`$options` included, is a document of the filter.

use bson::{Bson, Document, Regex};
use serde_json::{Map, Value};

use super::error::{DecompileError, DecompileErrorCode, Loc, Result};
use crate::config::CompilerConfig;
use crate::diag::Diag;
use crate::error::{ErrorCode, SpecError};

/// The single-key wrappers the compiler reads in values.
const WRAPPERS: [&str; 8] =
    ["$date", "$oid", "$numberDecimal", "$numberLong", "$numberInt", "$numberDouble", "$uuid", "$binary"];

/// The filter document of an Extended JSON value.
pub(crate) fn filter_document(filter: &Value) -> Result<Document> {
    match convert(filter, &Loc::ROOT)? {
        Bson::Document(doc) => Ok(doc),
        _ => Err(Loc::ROOT.invalid("a filter is a JSON object")),
    }
}

/// Maps an input error of [`parse_json`](crate::parse_json) to the decompiler's codes.
pub(crate) fn input_error(err: SpecError) -> DecompileError {
    let code = match err.code() {
        ErrorCode::InvalidJson => DecompileErrorCode::InvalidJson,
        ErrorCode::TooDeep => DecompileErrorCode::TooDeep,
        _ => DecompileErrorCode::InvalidFilter,
    };
    DecompileError::new(code, err.path().to_vec(), err.message())
}

fn convert(value: &Value, loc: &Loc<'_>) -> Result<Bson> {
    Ok(match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::String(s) => Bson::String(s.clone()),
        Value::Number(n) => crate::values::number(n)
            .ok_or_else(|| loc.invalid(format!("the integer {n} is outside the Int64 range")))?,
        Value::Array(items) => {
            loc.check_depth()?;
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                out.push(convert(item, &loc.index(index))?);
            }
            Bson::Array(out)
        }
        Value::Object(map) if is_wrapper(map) => wrapper(value, loc)?,
        Value::Object(map) if map.len() == 1 && map.contains_key("$regularExpression") => regular_expression(map, loc)?,
        Value::Object(map) => {
            loc.check_depth()?;
            let mut out = Document::new();
            for (key, item) in map {
                out.insert(key.clone(), convert(item, &loc.key(key))?);
            }
            Bson::Document(out)
        }
    })
}

fn is_wrapper(map: &Map<String, Value>) -> bool {
    match map.len() {
        1 => map.keys().next().is_some_and(|key| WRAPPERS.contains(&key.as_str())),
        2 => map.contains_key("$binary") && map.contains_key("$type"),
        _ => false,
    }
}

/// Decodes a wrapper with the compiler's reader (the same errors, `invalid_extended_json`).
fn wrapper(value: &Value, loc: &Loc<'_>) -> Result<Bson> {
    let mut diag = Diag::new(false);
    match crate::values::convert(value, &CompilerConfig::default(), &mut diag, 0) {
        Some(bson) => Ok(bson),
        None => {
            let message = diag.into_first().map(|err| err.message().to_owned()).unwrap_or_default();
            Err(loc.error(DecompileErrorCode::InvalidExtendedJson, message))
        }
    }
}

/// `{"$regularExpression": {"pattern": "…", "options": "…"}}`.
fn regular_expression(map: &Map<String, Value>, loc: &Loc<'_>) -> Result<Bson> {
    let malformed = || {
        loc.error(
            DecompileErrorCode::InvalidExtendedJson,
            "malformed Extended JSON $regularExpression: expected {\"pattern\": string, \"options\": string} \
             without NUL bytes",
        )
    };
    let Some(Value::Object(body)) = map.get("$regularExpression") else { return Err(malformed()) };
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

#[cfg(test)]
mod tests {
    use bson::doc;
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_wrappers_and_operators() {
        let filter = json!({
            "a": 1, "b": 3000000000i64, "c": 1.0, "d": {"$numberLong": "7"},
            "e": {"$regex": "^x", "$options": "i"},
            "f": {"$regularExpression": {"pattern": "y", "options": "si"}},
            "g": {"$in": [{"$date": "2024-01-01T00:00:00Z"}]},
        });
        let regex = Regex { pattern: "y".try_into().unwrap(), options: "is".try_into().unwrap() };
        assert_eq!(
            filter_document(&filter).unwrap(),
            doc! {
                "a": 1, "b": 3_000_000_000i64, "c": 1.0, "d": 7i64,
                "e": {"$regex": "^x", "$options": "i"},
                "f": Bson::RegularExpression(regex),
                "g": {"$in": [bson::DateTime::from_millis(1_704_067_200_000)]},
            }
        );
    }

    #[test]
    fn malformed_input_is_refused_at_its_path() {
        let err = filter_document(&json!({"a": {"$gt": {"$date": "yesterday"}}})).unwrap_err();
        assert_eq!((err.code().as_str(), err.path_string().as_str()), ("invalid_extended_json", "<filter>.a.$gt"));
        let err = filter_document(&json!({"a": {"$regularExpression": {"pattern": 1}}})).unwrap_err();
        assert_eq!(err.code(), DecompileErrorCode::InvalidExtendedJson);
        let err = filter_document(&json!([1])).unwrap_err();
        assert_eq!((err.code().as_str(), err.path_string().as_str()), ("invalid_filter", "<filter>"));
        let err = filter_document(&json!({"a": u64::MAX})).unwrap_err();
        assert_eq!((err.code().as_str(), err.path_string().as_str()), ("invalid_filter", "<filter>.a"));
    }
}
