//! A filter given as Extended JSON (canonical or relaxed) into a BSON document, and the input
//! errors of filter text. Numbers follow the compiler's rule (an integer is Int32, or Int64
//! beyond 32 bits; a fraction or exponent is Double); the value wrappers are decoded by the
//! compiler's own reader, plus `$regularExpression` (the canonical form of `{field: /re/}`), as
//! in documents ([`bson_from_json`](crate::bson_from_json)); the walk here adds MongoDB's
//! nesting limit and the decompiler's codes. Any other object, `$regex`/`$options` included, is
//! a document of the filter.

use bson::{Bson, Document};
use serde_json::Value;

use super::error::{DecompileError, DecompileErrorCode, Loc, Result};
use crate::error::{ErrorCode, SpecError};

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
        // A wrapper, decoded as in documents (the compiler's reader, plus `$regularExpression`).
        Value::Object(map) => match crate::values::document_value(map) {
            Some(decoded) => decoded.map_err(|message| loc.error(DecompileErrorCode::InvalidExtendedJson, message))?,
            None => {
                loc.check_depth()?;
                let mut out = Document::new();
                for (key, item) in map {
                    out.insert(key.clone(), convert(item, &loc.key(key))?);
                }
                Bson::Document(out)
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use bson::{Regex, doc};
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
