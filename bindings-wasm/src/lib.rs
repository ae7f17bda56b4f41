//! WebAssembly exports of `cqrs-mongo-spec` for the npm package. No compiler logic lives here:
//! only argument conversion ([`convert`]), result formatting and errors ([`error`]).
#![forbid(unsafe_code)]

mod convert;
mod error;

use bson::Bson;
use cqrs_mongo_spec::{Compiler, CompilerConfig, ErrorCode, ExtJsonFormat, PathSegment, SpecError};
use serde::Deserialize;
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;

pub use error::set_spec_error_class;

/// How results are returned.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Output {
    /// Relaxed Extended JSON: plain JSON numbers, `{"$date": "…"}` (the default).
    #[default]
    Relaxed,
    /// Canonical Extended JSON: every type explicit (`{"$numberInt": "1"}`).
    Canonical,
    /// Plain JS values: `Date`, `BigInt` for Int64.
    Js,
}

/// The third argument of every function.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Settings {
    output: Option<Output>,
    allowed_fields: Option<Vec<String>>,
    max_depth: Option<usize>,
    max_nodes: Option<usize>,
    max_list_len: Option<usize>,
}

impl Settings {
    fn from_js(value: &JsValue) -> Result<Settings, SpecError> {
        if value.is_undefined() || value.is_null() {
            return Ok(Settings::default());
        }
        let at = |key: Option<String>, message: String| {
            let mut path = vec![PathSegment::Key("settings".into())];
            path.extend(key.map(PathSegment::Key));
            SpecError::new(ErrorCode::InvalidOption, path, message)
        };
        if !value.is_object() {
            return Err(at(None, "settings must be an object".into()));
        }
        // serde-wasm-bindgen only looks up known fields, so a typo would pass silently.
        let object: &js_sys::Object = value.unchecked_ref();
        for key in js_sys::Object::keys(object).iter().filter_map(|k| k.as_string()) {
            if !SETTINGS_KEYS.contains(&key.as_str()) {
                let message = format!("unknown setting {key:?}; settings are {}", SETTINGS_KEYS.join(", "));
                return Err(at(Some(key), message));
            }
        }
        serde_wasm_bindgen::from_value(value.clone()).map_err(|err| at(None, err.to_string()))
    }

    fn output(&self) -> Output {
        self.output.unwrap_or_default()
    }

    fn compiler(&self) -> Compiler {
        let mut config = CompilerConfig::default();
        if let Some(fields) = &self.allowed_fields {
            config = config.allow_fields(fields.iter().cloned());
        }
        if let Some(max_depth) = self.max_depth {
            config = config.with_max_depth(max_depth);
        }
        if let Some(max_nodes) = self.max_nodes {
            config = config.with_max_nodes(max_nodes);
        }
        if let Some(max_list_len) = self.max_list_len {
            config = config.with_max_list_len(max_list_len);
        }
        Compiler::new(config)
    }
}

const SETTINGS_KEYS: [&str; 5] = ["output", "allowedFields", "maxDepth", "maxNodes", "maxListLen"];

/// A spec or options argument: a JSON string, or a JS value (absent → `None`).
fn json_arg(value: &JsValue, compiler: &Compiler, root: Option<&str>) -> Result<Option<Value>, SpecError> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    match value.as_string() {
        Some(text) => serde_json::from_str(&text).map(Some).map_err(|err| {
            let path = root.map(|r| vec![PathSegment::Key(r.to_owned())]).unwrap_or_default();
            SpecError::new(ErrorCode::InvalidJson, path, format!("not valid JSON: {err}"))
        }),
        None => convert::js_to_json(value, compiler.config().max_list_len, root).map(Some),
    }
}

/// The result as Extended JSON text. Without options the pipeline is just the `$match` stage,
/// so the filter is compiled straight to BSON bytes and written twice (the fast path).
fn result_json(
    compiler: &Compiler,
    spec: &Value,
    options: Option<&Value>,
    format: ExtJsonFormat,
) -> Result<String, SpecError> {
    if let Some(options) = options {
        return Ok(compiler.compile_query(spec, Some(options))?.to_extjson_string(format));
    }
    let filter = cqrs_mongo_spec::to_extjson_string(&compiler.compile_raw(spec)?, format);
    Ok(format!("{{\"filter\":{filter},\"pipeline\":[{{\"$match\":{filter}}}]}}"))
}

fn json_format(output: Output) -> ExtJsonFormat {
    if output == Output::Canonical { ExtJsonFormat::Canonical } else { ExtJsonFormat::Relaxed }
}

fn compile_value(spec: &JsValue, options: &JsValue, settings: &Settings) -> Result<JsValue, SpecError> {
    let compiler = settings.compiler();
    let spec = json_arg(spec, &compiler, None)?.ok_or_else(|| {
        SpecError::new(ErrorCode::InvalidNode, Vec::new(), "the specification is missing (undefined or null)")
    })?;
    let options = json_arg(options, &compiler, Some("options"))?;
    if settings.output() == Output::Js {
        let empty = Value::Object(Default::default());
        let query = compiler.compile_query(&spec, Some(options.as_ref().unwrap_or(&empty)))?;
        return Ok(convert::bson_to_js(&Bson::Document(query.to_document())));
    }
    let text = result_json(&compiler, &spec, options.as_ref(), json_format(settings.output()))?;
    Ok(js_sys::JSON::parse(&text).unwrap_or(JsValue::NULL))
}

/// Compiles a spec (JS object or JSON string) and optional query options.
#[wasm_bindgen]
pub fn compile(spec: JsValue, options: JsValue, settings: JsValue) -> Result<JsValue, JsValue> {
    let settings = Settings::from_js(&settings).map_err(|e| error::to_js(&e))?;
    compile_value(&spec, &options, &settings).map_err(|e| error::to_js(&e))
}

/// String in, string out: spec JSON and optional options JSON to the result as JSON text.
#[wasm_bindgen(js_name = compileJson)]
pub fn compile_json(spec_json: JsValue, options_json: JsValue, settings: JsValue) -> Result<String, JsValue> {
    let settings = Settings::from_js(&settings).map_err(|e| error::to_js(&e))?;
    compile_json_text(&spec_json, &options_json, &settings).map_err(|e| error::to_js(&e))
}

fn compile_json_text(spec_json: &JsValue, options_json: &JsValue, settings: &Settings) -> Result<String, SpecError> {
    let text_arg = |value: &JsValue, root: Option<&str>| -> Result<Option<String>, SpecError> {
        if root.is_some() && (value.is_undefined() || value.is_null()) {
            return Ok(None);
        }
        value.as_string().map(Some).ok_or_else(|| {
            let path = root.map(|r| vec![PathSegment::Key(r.to_owned())]).unwrap_or_default();
            SpecError::new(
                ErrorCode::InvalidJson,
                path,
                "compileJson takes JSON text (a string); use compile for objects",
            )
        })
    };
    if settings.output() == Output::Js {
        let path = vec![PathSegment::Key("settings".into()), PathSegment::Key("output".into())];
        return Err(SpecError::new(
            ErrorCode::InvalidOption,
            path,
            "compileJson returns text: output must be relaxed or canonical",
        ));
    }
    let spec_json = text_arg(spec_json, None)?.unwrap_or_default();
    let options_json = text_arg(options_json, Some("options"))?;
    let compiler = settings.compiler();
    let parse = |text: &str, root: Option<&str>| {
        serde_json::from_str::<Value>(text).map_err(|err| {
            let path = root.map(|r| vec![PathSegment::Key(r.to_owned())]).unwrap_or_default();
            let code =
                if err.to_string().contains("recursion limit") { ErrorCode::TooDeep } else { ErrorCode::InvalidJson };
            SpecError::new(code, path, format!("not valid JSON: {err}"))
        })
    };
    let spec = parse(&spec_json, None)?;
    let options = options_json.as_deref().map(|text| parse(text, Some("options"))).transpose()?;
    result_json(&compiler, &spec, options.as_ref(), json_format(settings.output()))
}

/// Every error of a spec and its options, as `{code, path, message}` objects.
#[wasm_bindgen]
pub fn validate(spec: JsValue, options: JsValue, settings: JsValue) -> Result<js_sys::Array, JsValue> {
    let settings = Settings::from_js(&settings).map_err(|e| error::to_js(&e))?;
    let compiler = settings.compiler();
    let errors = (|| {
        let Some(spec) = json_arg(&spec, &compiler, None)? else {
            return Err(SpecError::new(ErrorCode::InvalidNode, Vec::new(), "the specification is missing"));
        };
        let options = json_arg(&options, &compiler, Some("options"))?;
        Ok(compiler.validate_query(&spec, options.as_ref()))
    })()
    .unwrap_or_else(|err| vec![err]);
    Ok(errors.iter().map(error::to_plain).collect())
}

/// Metadata of every operator: name, family, value shape, aliases, support, description.
#[wasm_bindgen]
pub fn operators() -> Result<JsValue, JsValue> {
    cqrs_mongo_spec::operators().serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(JsValue::from)
}
