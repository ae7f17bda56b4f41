//! `decompile`: a MongoDB filter (Extended JSON text) back into a specification, by
//! [`cqrs_mongo_spec::decompile_str`]. The package's JS layer writes filter objects as JSON text
//! first (`js/api.mjs`), as it does for specs.

use cqrs_mongo_spec::{DecompileError, DecompileErrorCode, decompile_str, decompile_utf16};
use js_sys::JsString;
use serde_json::{Number, Value, json};
use wasm_bindgen::prelude::*;

use crate::error;

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Filter JSON text to the specification's JSON text, exactly as Rust prints it. With
/// `js_numbers`, the numbers a JS number cannot carry with their type are wrappers instead
/// (`js_number`), so the text parsed by `JSON.parse` compiles back to the same filter.
#[wasm_bindgen(js_name = decompileJson)]
pub fn decompile_json(filter_json: JsValue, js_numbers: bool) -> Result<String, JsValue> {
    let run = || {
        let Some(text) = filter_json.as_string() else {
            let message = "expected JSON text (a string); use decompile for objects";
            return Err(DecompileError::new(DecompileErrorCode::InvalidJson, Vec::new(), message));
        };
        // `as_string` replaces a lone surrogate with U+FFFD: then the code units are read as
        // they are, so the lone surrogate is reported where it is.
        let js: &JsString = filter_json.unchecked_ref();
        let spec = if crate::may_hold_lone_surrogate(&text) && !js.is_valid_utf16() {
            decompile_utf16(&js.iter().collect::<Vec<u16>>())?
        } else {
            decompile_str(&text)?
        };
        let mut json = spec.to_json();
        if js_numbers {
            with_js_numbers(&mut json);
        }
        Ok(json.to_string())
    };
    run().map_err(|e| error::decompile_to_js(&e))
}

/// Replaces every number of a spec's JSON (numbers occur only in values) that [`js_number`]
/// wraps.
fn with_js_numbers(value: &mut Value) {
    match value {
        Value::Number(number) => {
            if let Some(wrapper) = js_number(number) {
                *value = wrapper;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(with_js_numbers),
        Value::Object(map) => map.values_mut().for_each(with_js_numbers),
        _ => {}
    }
}

/// The wrapper for a number a JS number cannot carry with its type, as the package writes JS
/// numbers (an integer up to 2^53 as Int32/Int64, anything else as Double): an integer beyond
/// ±(2^53 − 1) is `{"$numberLong": "…"}` (it would be rounded), and a Double with an integral
/// value, `-0.0` and values beyond 2^53 included, `{"$numberDouble": "1.0"}` (as a plain number
/// it would be read as an integer from the spec's JSON text, by `compileJson` and the Rust and
/// Python compilers alike).
fn js_number(number: &Number) -> Option<Value> {
    if let Some(int) = number.as_i64() {
        return (int.unsigned_abs() > MAX_SAFE_INTEGER).then(|| json!({"$numberLong": int.to_string()}));
    }
    if number.is_u64() {
        return Some(json!({"$numberLong": number.to_string()}));
    }
    let double = number.as_f64()?;
    let integral = double.is_finite() && double.fract() == 0.0;
    integral.then(|| json!({"$numberDouble": number.to_string()}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_a_js_number_cannot_carry_are_wrapped() {
        let mut spec = json!({"op": "in", "attr": "a", "val": [
            1, 9007199254740991i64, 9007199254740992i64, -9007199254740993i64, 1.0, -0.0, 0.5,
            9007199254740992.0, 1e300, {"k": [2.0]}, {"$numberLong": "5"},
        ]});
        with_js_numbers(&mut spec);
        assert_eq!(
            spec["val"],
            json!([
                1, 9007199254740991i64, {"$numberLong": "9007199254740992"}, {"$numberLong": "-9007199254740993"},
                {"$numberDouble": "1.0"}, {"$numberDouble": "-0.0"}, 0.5,
                {"$numberDouble": "9007199254740992.0"}, {"$numberDouble": "1e+300"},
                {"k": [{"$numberDouble": "2.0"}]}, {"$numberLong": "5"},
            ])
        );
    }
}
