//! Results as plain JS values (`output: "js"`): Date for dates, BigInt for Int64, string for
//! Decimal128 and ObjectId, Uint8Array for binary data. (Inputs arrive as JSON text; see
//! `js/api.mjs`.)

use bson::Bson;
use js_sys::{Array, BigInt, Date, Object, Reflect, Uint8Array};
use wasm_bindgen::JsValue;

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
