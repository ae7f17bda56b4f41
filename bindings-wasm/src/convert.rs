//! Conversion between JavaScript values and the compiler's JSON / BSON values.
//!
//! Input: plain objects, arrays, strings, booleans, null and finite numbers map to JSON; a
//! `Date` becomes `{"$date": {"$numberLong": ms}}` and a `BigInt` `{"$numberLong": "…"}`, so the
//! compiler types them as BSON Date and Int64. `undefined` object properties are skipped (as
//! `JSON.stringify` does). Functions, symbols, `NaN`, infinities, other object types, cycles and
//! lists beyond the list limit are `SpecError`s with the path of the offending value.

use bson::Bson;
use cqrs_mongo_spec::{ErrorCode, PathSegment, SpecError};
use js_sys::{Array, BigInt, Date, Object, Reflect, Uint8Array};
use serde_json::{Map, Number, Value};
use wasm_bindgen::{JsCast, JsValue};

/// JS nesting deeper than this is reported as `too_deep` (it also stops cycles).
const MAX_JS_DEPTH: usize = 128;

/// Converts a JS value to JSON, reporting errors with `root` as the first path segment.
pub(crate) fn js_to_json(value: &JsValue, max_list_len: usize, root: Option<&str>) -> Result<Value, SpecError> {
    let mut path: Vec<PathSegment> = root.map(|r| PathSegment::Key(r.to_owned())).into_iter().collect();
    convert(value, &mut path, max_list_len)
}

fn fail(path: &[PathSegment], code: ErrorCode, message: impl Into<String>) -> SpecError {
    SpecError::new(code, path.to_vec(), message)
}

fn convert(value: &JsValue, path: &mut Vec<PathSegment>, max_list_len: usize) -> Result<Value, SpecError> {
    if path.len() > MAX_JS_DEPTH {
        return Err(fail(
            path,
            ErrorCode::TooDeep,
            format!("the value nests deeper than {MAX_JS_DEPTH} levels (or is cyclic)"),
        ));
    }
    if value.is_null() {
        return Ok(Value::Null);
    }
    if let Some(b) = value.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(text) = value.as_string() {
        return Ok(Value::String(text));
    }
    if let Some(n) = value.as_f64() {
        return number(n).ok_or_else(|| fail(path, ErrorCode::InvalidValue, format!("{n} is not a finite number")));
    }
    if value.is_bigint() {
        let text: String = BigInt::from(value.clone()).to_string(10).map(String::from).unwrap_or_default();
        return Ok(wrapper("$numberLong", Value::String(text)));
    }
    if let Some(date) = value.dyn_ref::<Date>() {
        let ms = date.get_time();
        if !ms.is_finite() {
            return Err(fail(path, ErrorCode::InvalidValue, "an invalid Date"));
        }
        return Ok(wrapper("$date", wrapper("$numberLong", Value::String((ms as i64).to_string()))));
    }
    if Array::is_array(value) {
        let array = Array::from(value);
        let length = array.length() as usize;
        if length > max_list_len {
            return Err(fail(
                path,
                ErrorCode::ListTooLong,
                format!("a list has {length} items; the limit is {max_list_len}"),
            ));
        }
        let mut items = Vec::with_capacity(length);
        for index in 0..length {
            path.push(PathSegment::Index(index));
            let item = array.get(index as u32);
            if item.is_undefined() {
                return Err(fail(path, ErrorCode::InvalidValue, "undefined is not a value"));
            }
            items.push(convert(&item, path, max_list_len)?);
            path.pop();
        }
        return Ok(Value::Array(items));
    }
    if is_plain_object(value) {
        let mut map = Map::new();
        for entry in Object::entries(value.unchecked_ref::<Object>()).iter() {
            let entry = Array::from(&entry);
            let key = entry.get(0).as_string().unwrap_or_default();
            let item = entry.get(1);
            if item.is_undefined() {
                continue;
            }
            path.push(PathSegment::Key(key.clone()));
            let converted = convert(&item, path, max_list_len)?;
            path.pop();
            map.insert(key, converted);
        }
        return Ok(Value::Object(map));
    }
    Err(fail(path, ErrorCode::InvalidValue, format!("{} is not a JSON value", describe(value))))
}

/// Integral numbers within ±2^53 become JSON integers (Int32/Int64 in BSON), others doubles.
fn number(n: f64) -> Option<Value> {
    if !n.is_finite() {
        return None;
    }
    if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 {
        return Some(Value::Number(Number::from(n as i64)));
    }
    Number::from_f64(n).map(Value::Number)
}

fn wrapper(key: &str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert(key.to_owned(), value);
    Value::Object(map)
}

fn is_plain_object(value: &JsValue) -> bool {
    if !value.is_object() || value.is_function() {
        return false;
    }
    let prototype = Object::get_prototype_of(value);
    prototype.is_null() || prototype == Object::get_prototype_of(&Object::new())
}

fn describe(value: &JsValue) -> &'static str {
    if value.is_undefined() {
        "undefined"
    } else if value.is_function() {
        "a function"
    } else if value.is_symbol() {
        "a symbol"
    } else {
        "this kind of object"
    }
}

/// BSON to plain JS values: Date for dates, BigInt for Int64, string for Decimal128 and
/// ObjectId, Uint8Array for binary data.
pub(crate) fn bson_to_js(value: &Bson) -> JsValue {
    match value {
        Bson::Document(doc) => {
            let object = Object::new();
            for (key, item) in doc {
                let _ = Reflect::set(&object, &JsValue::from_str(key), &bson_to_js(item));
            }
            object.into()
        }
        Bson::Array(items) => items.iter().map(bson_to_js).collect::<Array>().into(),
        Bson::String(s) => JsValue::from_str(s),
        Bson::Int32(i) => JsValue::from_f64(f64::from(*i)),
        Bson::Int64(i) => BigInt::from(*i).into(),
        Bson::Double(d) => JsValue::from_f64(*d),
        Bson::Boolean(b) => JsValue::from_bool(*b),
        Bson::DateTime(d) => Date::new(&JsValue::from_f64(d.timestamp_millis() as f64)).into(),
        Bson::Decimal128(d) => JsValue::from_str(&d.to_string()),
        Bson::ObjectId(oid) => JsValue::from_str(&oid.to_hex()),
        Bson::Binary(binary) => Uint8Array::from(binary.bytes.as_slice()).into(),
        Bson::Null => JsValue::NULL,
        other => JsValue::from_str(&other.to_string()),
    }
}
