//! Turning a spec's JSON `val` into BSON: numbers the pymongo way, Extended JSON wrappers,
//! literal-only objects, and `value_type` casts.

mod cast;
mod datetime;
mod extjson;
mod interval;
mod value_type;

use bson::{Bson, Document};
use serde_json::Value;

pub(crate) use extjson::{document_value, may_start_document_value, single_document_value};
pub use value_type::ValueType;

use crate::config::CompilerConfig;
use crate::diag::{Diag, Seg};
use crate::error::ErrorCode;

/// BSON refuses documents nested deeper than this; so do we, before recursing further.
const MAX_VALUE_DEPTH: usize = 100;

/// Encodes a JSON integer as pymongo would: Int32 when it fits, else Int64.
pub(crate) fn int(value: i64) -> Bson {
    match i32::try_from(value) {
        Ok(small) => Bson::Int32(small),
        Err(_) => Bson::Int64(value),
    }
}

/// Converts a JSON number; `None` for integers beyond the Int64 range.
pub(crate) fn number(n: &serde_json::Number) -> Option<Bson> {
    if let Some(i) = n.as_i64() {
        Some(int(i))
    } else if n.is_u64() {
        None
    } else {
        n.as_f64().map(Bson::Double)
    }
}

/// Converts `val` to BSON and applies `value_type`; `None` means an error was reported.
pub(crate) fn convert_val(
    value: &Value,
    value_type: Option<ValueType>,
    config: &CompilerConfig,
    diag: &mut Diag<'_>,
) -> Option<Bson> {
    let converted = convert(value, config, diag, 0)?;
    match value_type {
        None => Some(converted),
        Some(value_type) => cast::cast(converted, value_type, config, diag),
    }
}

/// The message of `string_too_long`.
pub(crate) fn string_too_long(len: usize, max: usize) -> String {
    format!("a string of {len} bytes is longer than the {max} bytes allowed")
}

/// Converts a JSON value to a BSON literal (no casts).
pub(crate) fn convert(value: &Value, config: &CompilerConfig, diag: &mut Diag<'_>, depth: usize) -> Option<Bson> {
    match value {
        Value::Null => Some(Bson::Null),
        Value::Bool(b) => Some(Bson::Boolean(*b)),
        Value::String(s) => {
            if s.len() > config.max_string_len {
                diag.error(ErrorCode::StringTooLong, string_too_long(s.len(), config.max_string_len));
                return None;
            }
            Some(Bson::String(s.clone()))
        }
        Value::Number(n) => {
            let converted = number(n);
            if converted.is_none() {
                diag.error(ErrorCode::InvalidValue, crate::input::integer_out_of_range_message(&n.to_string()));
            }
            converted
        }
        Value::Array(items) => {
            if depth >= MAX_VALUE_DEPTH {
                diag.error(ErrorCode::TooDeep, format!("a value nests deeper than {MAX_VALUE_DEPTH} levels"));
                return None;
            }
            if items.len() > config.max_list_len {
                diag.error(
                    ErrorCode::ListTooLong,
                    format!("a list has {} items; the limit is {}", items.len(), config.max_list_len),
                );
                return None;
            }
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for (index, item) in items.iter().enumerate() {
                match diag.at(Seg::Index(index), |diag| convert(item, config, diag, depth + 1)) {
                    Some(bson) => out.push(bson),
                    None => ok = false,
                }
                if diag.stop() {
                    return None;
                }
            }
            ok.then_some(Bson::Array(out))
        }
        Value::Object(map) => {
            if extjson::is_wrapper(map) {
                return extjson::decode(map, diag);
            }
            if depth >= MAX_VALUE_DEPTH {
                diag.error(ErrorCode::TooDeep, format!("a value nests deeper than {MAX_VALUE_DEPTH} levels"));
                return None;
            }
            let mut out = Document::new();
            let mut ok = true;
            for (key, item) in map {
                diag.push(Seg::Owned(key.clone()));
                if let Some(problem) = literal_key_problem(key) {
                    diag.error(ErrorCode::InvalidValue, problem);
                    ok = false;
                } else if let Some(bson) = convert(item, config, diag, depth + 1) {
                    out.insert(key.clone(), bson);
                } else {
                    ok = false;
                }
                diag.pop();
                if diag.stop() {
                    return None;
                }
            }
            ok.then_some(Bson::Document(out))
        }
    }
}

/// Why an object key may not appear in a literal value.
fn literal_key_problem(key: &str) -> Option<&'static str> {
    if key.starts_with('$') {
        Some("object keys in values may not start with '$' (they would act as query operators)")
    } else if key.contains('\0') {
        Some("object keys in values may not contain a NUL byte")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn conv(value: Value) -> Result<Bson, (ErrorCode, String)> {
        let mut diag = Diag::new(false);
        let config = CompilerConfig::default();
        match convert(&value, &config, &mut diag, 0) {
            Some(bson) => Ok(bson),
            None => {
                let err = diag.into_first().unwrap();
                Err((err.code(), err.path_string()))
            }
        }
    }

    #[test]
    fn numbers_follow_pymongo() {
        assert_eq!(conv(json!(5)), Ok(Bson::Int32(5)));
        assert_eq!(conv(json!(2147483648i64)), Ok(Bson::Int64(2147483648)));
        assert_eq!(conv(json!(-2147483648i64)), Ok(Bson::Int32(i32::MIN)));
        assert_eq!(conv(json!(1.0)), Ok(Bson::Double(1.0)));
        assert_eq!(conv(json!(u64::MAX)).unwrap_err().0, ErrorCode::InvalidValue);
    }

    #[test]
    fn objects_are_literals_without_operators() {
        assert_eq!(conv(json!({"a": [1, "x"]})), Ok(Bson::Document(bson::doc! {"a": [1, "x"]})));
        assert_eq!(conv(json!({"a": {"$gt": 1}})), Err((ErrorCode::InvalidValue, "<root>.a.$gt".to_owned())));
    }

    #[test]
    fn long_lists_are_refused() {
        let items: Vec<u32> = (0..10_001).collect();
        assert_eq!(conv(json!(items)).unwrap_err().0, ErrorCode::ListTooLong);
    }

    #[test]
    fn deep_values_are_refused_without_recursing_forever() {
        let mut value = json!(1);
        for _ in 0..120 {
            value = json!([value]);
        }
        assert_eq!(conv(value).unwrap_err().0, ErrorCode::TooDeep);
    }
}
