//! Results as plain JS values (`output: "js"`): Date for dates, BigInt for Int64, string for
//! Decimal128 and ObjectId, Uint8Array for binary data. (Inputs arrive as JSON text; see
//! `js/api.mjs`.)

use bson::Bson;
use js_sys::{Array, BigInt, Date, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

/// BSON to plain JS values: Date for dates, BigInt for Int64, string for Decimal128 and
/// ObjectId, Uint8Array for binary data.
pub(crate) fn bson_to_js(value: &Bson) -> JsValue {
    match value {
        Bson::Document(doc) => {
            // Every key an own data property, as JSON.parse makes them: assigning would call
            // the inherited `__proto__` setter (and any setter on Object.prototype) instead.
            let object = Object::new();
            let descriptor = data_descriptor();
            for (key, item) in doc {
                let _ = Reflect::set(&descriptor, &JsValue::from_str("value"), &bson_to_js(item));
                let _ = Reflect::define_property(&object, &JsValue::from_str(key), &descriptor);
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

/// `{writable, enumerable, configurable: true}` without a prototype (so nothing inherited, such
/// as a polluted `Object.prototype.get`, is read as part of the descriptor); `value` is set per key.
fn data_descriptor() -> Object {
    let descriptor = Object::create(JsValue::NULL.unchecked_ref());
    for flag in ["writable", "enumerable", "configurable"] {
        let _ = Reflect::set(&descriptor, &JsValue::from_str(flag), &JsValue::TRUE);
    }
    descriptor
}
