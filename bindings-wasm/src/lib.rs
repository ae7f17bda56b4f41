//! WebAssembly exports of `cqrs-mongo-spec` for the npm package. No compiler logic lives here:
//! only argument conversion ([`convert`]), result formatting and errors ([`error`]). Specs and
//! options arrive as JSON text: the package's JS layer (`js/api.mjs`) serialises JS values, so
//! one string crosses the boundary instead of one call per value.
#![forbid(unsafe_code)]

mod convert;
mod error;
mod settings;

use bson::Bson;
use cqrs_mongo_spec::{
    Compiler, ErrorCode, ExtJsonFormat, FieldSchema, PathSegment, SpecError, parse_options_json,
    parse_options_json_utf16,
};
use js_sys::JsString;
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;

pub use error::set_spec_error_class;
use settings::{Output, Settings};

/// The spec and options arguments: JSON text (options may be absent).
struct Args {
    spec: Value,
    options: Option<Value>,
}

impl Args {
    fn parse(compiler: &Compiler, spec_json: &JsValue, options_json: &JsValue) -> Result<Args, SpecError> {
        let spec = json_text(spec_json, Arg::Spec(compiler))?.unwrap_or_default();
        let options = json_text(options_json, Arg::Other("options"))?;
        Ok(Args { spec, options })
    }
}

/// Which argument a JSON text is: the spec (parsed by its compiler, which refuses oversized
/// text before parsing it) or another one, below its root key (and possibly absent).
#[derive(Clone, Copy)]
enum Arg<'c> {
    Spec(&'c Compiler),
    Other(&'static str),
}

/// Parses a JSON text argument. `as_string` replaces a lone surrogate with U+FFFD; when the
/// text holds one, the code units are read as they are, so the compiler reports the lone
/// surrogate where it is.
fn json_text(value: &JsValue, arg: Arg<'_>) -> Result<Option<Value>, SpecError> {
    if matches!(arg, Arg::Other(_)) && (value.is_undefined() || value.is_null()) {
        return Ok(None);
    }
    let Some(text) = value.as_string() else {
        let message = "expected JSON text (a string); use compile for objects";
        let path = match arg {
            Arg::Spec(_) => Vec::new(),
            Arg::Other(root) => vec![PathSegment::Key(root.to_owned())],
        };
        return Err(SpecError::new(ErrorCode::InvalidJson, path, message));
    };
    if text.contains(char::REPLACEMENT_CHARACTER) {
        let js: &JsString = value.unchecked_ref();
        if !js.is_valid_utf16() {
            let units: Vec<u16> = js.iter().collect();
            let parsed = match arg {
                Arg::Spec(compiler) => compiler.parse_spec_json_utf16(&units),
                Arg::Other(_) => parse_options_json_utf16(&units),
            };
            return parsed.map(Some);
        }
    }
    let parsed = match arg {
        Arg::Spec(compiler) => compiler.parse_spec_json(&text),
        Arg::Other(_) => parse_options_json(&text),
    };
    parsed.map(Some)
}

/// Spec JSON and optional options JSON to the result as Extended JSON text (relaxed by default,
/// canonical with `output: "canonical"`).
#[wasm_bindgen(js_name = compileJson)]
pub fn compile_json(spec_json: JsValue, options_json: JsValue, settings: JsValue) -> Result<String, JsValue> {
    let run = || {
        let settings = Settings::from_js(&settings)?;
        let format = match settings.output() {
            Output::Relaxed => ExtJsonFormat::Relaxed,
            Output::Canonical => ExtJsonFormat::Canonical,
            Output::Js => {
                let path = vec![PathSegment::Key("settings".into()), PathSegment::Key("output".into())];
                return Err(SpecError::new(
                    ErrorCode::InvalidOption,
                    path,
                    "compileJson returns text: use relaxed or canonical",
                ));
            }
        };
        let compiler = settings.compiler()?;
        let args = Args::parse(&compiler, &spec_json, &options_json)?;
        compiler.compile_query_extjson(&args.spec, args.options.as_ref(), format)
    };
    run().map_err(|e| error::to_js(&e))
}

/// Like `compileJson`, with the result as plain JS values (`Date`, `BigInt` for Int64, …).
#[wasm_bindgen(js_name = compileJs)]
pub fn compile_js(spec_json: JsValue, options_json: JsValue, settings: JsValue) -> Result<JsValue, JsValue> {
    let run = || {
        let compiler = Settings::from_js(&settings)?.compiler()?;
        let args = Args::parse(&compiler, &spec_json, &options_json)?;
        let empty = Value::Object(Default::default());
        let query = compiler.compile_query(&args.spec, Some(args.options.as_ref().unwrap_or(&empty)))?;
        Ok(convert::bson_to_js(&Bson::Document(query.to_document())))
    };
    run().map_err(|e: SpecError| error::to_js(&e))
}

/// Every error of a spec and its options (JSON text), as `{code, path, message}` objects.
#[wasm_bindgen(js_name = validateJson)]
pub fn validate_json(spec_json: JsValue, options_json: JsValue, settings: JsValue) -> Result<js_sys::Array, JsValue> {
    let compiler = Settings::from_js(&settings).and_then(|s| s.compiler()).map_err(|e| error::to_js(&e))?;
    let errors = match Args::parse(&compiler, &spec_json, &options_json) {
        Ok(args) => compiler.validate_query(&args.spec, args.options.as_ref()),
        Err(err) => vec![err],
    };
    Ok(errors.iter().map(error::to_plain).collect())
}

/// A field schema (JSON text) as react-querybuilder's `fields` array (JSON text).
#[wasm_bindgen(js_name = querybuilderFieldsJson)]
pub fn querybuilder_fields_json(schema_json: JsValue) -> Result<String, JsValue> {
    let run = || {
        let value = json_text(&schema_json, Arg::Other("schema"))?.unwrap_or_default();
        Ok(FieldSchema::from_json(&value)?.querybuilder_fields().to_string())
    };
    run().map_err(|e: SpecError| error::to_js(&e))
}

/// The compiler's fixed limits the JS layer applies while it writes JS values as JSON text:
/// `{maxJsonDepth}`, the deepest nesting of lists and objects the parser accepts.
#[wasm_bindgen]
pub fn limits() -> Result<JsValue, JsValue> {
    let limits = serde_json::json!({ "maxJsonDepth": cqrs_mongo_spec::input::MAX_JSON_DEPTH });
    limits.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(JsValue::from)
}

/// Metadata of every operator: name, family, value shape, aliases, support, description.
#[wasm_bindgen]
pub fn operators() -> Result<JsValue, JsValue> {
    cqrs_mongo_spec::operators().serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(JsValue::from)
}
