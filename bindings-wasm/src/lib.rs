//! WebAssembly exports of `cqrs-mongo-spec` for the npm package. No compiler logic lives here:
//! only argument conversion ([`convert`]), result formatting and errors ([`error`]). Specs and
//! options arrive as JSON text: the package's JS layer (`js/api.mjs`) serialises JS values, so
//! one string crosses the boundary instead of one call per value.
#![forbid(unsafe_code)]

mod convert;
mod error;

use bson::Bson;
use cqrs_mongo_spec::{
    Compiler, CompilerConfig, ConfigError, ErrorCode, ExtJsonFormat, PathSegment, SpecError, parse_json,
    parse_options_json,
};
use serde::{Deserialize, Serialize};
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

const SETTINGS_KEYS: [&str; 5] = ["output", "allowedFields", "maxDepth", "maxNodes", "maxListLen"];

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

    /// The compiler for these settings; a setting the compiler refuses (`maxDepth` above the
    /// cap) is `invalid_option` at its key.
    fn compiler(&self) -> Result<Compiler, SpecError> {
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
        Compiler::try_new(config).map_err(|err| {
            let key = match err {
                ConfigError::MaxDepthAboveLimit { .. } => "maxDepth",
                _ => err.setting(),
            };
            let path = vec![PathSegment::Key("settings".into()), PathSegment::Key(key.into())];
            SpecError::new(ErrorCode::InvalidOption, path, err.to_string())
        })
    }
}

/// The spec and options arguments: JSON text (options may be absent).
struct Args {
    spec: Value,
    options: Option<Value>,
}

impl Args {
    fn parse(spec_json: &JsValue, options_json: &JsValue) -> Result<Args, SpecError> {
        let spec = parse_json(&text(spec_json, None)?.unwrap_or_default())?;
        let options = text(options_json, Some("options"))?.map(|t| parse_options_json(&t)).transpose()?;
        Ok(Args { spec, options })
    }
}

fn text(value: &JsValue, root: Option<&str>) -> Result<Option<String>, SpecError> {
    if root.is_some() && (value.is_undefined() || value.is_null()) {
        return Ok(None);
    }
    value.as_string().map(Some).ok_or_else(|| {
        SpecError::new(
            ErrorCode::InvalidJson,
            root_path(root),
            "expected JSON text (a string); use compile for objects",
        )
    })
}

fn root_path(root: Option<&str>) -> Vec<PathSegment> {
    root.map(|r| vec![PathSegment::Key(r.to_owned())]).unwrap_or_default()
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
        let args = Args::parse(&spec_json, &options_json)?;
        compiler.compile_query_extjson(&args.spec, args.options.as_ref(), format)
    };
    run().map_err(|e| error::to_js(&e))
}

/// Like `compileJson`, with the result as plain JS values (`Date`, `BigInt` for Int64, …).
#[wasm_bindgen(js_name = compileJs)]
pub fn compile_js(spec_json: JsValue, options_json: JsValue, settings: JsValue) -> Result<JsValue, JsValue> {
    let run = || {
        let compiler = Settings::from_js(&settings)?.compiler()?;
        let args = Args::parse(&spec_json, &options_json)?;
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
    let errors = match Args::parse(&spec_json, &options_json) {
        Ok(args) => compiler.validate_query(&args.spec, args.options.as_ref()),
        Err(err) => vec![err],
    };
    Ok(errors.iter().map(error::to_plain).collect())
}

/// Metadata of every operator: name, family, value shape, aliases, support, description.
#[wasm_bindgen]
pub fn operators() -> Result<JsValue, JsValue> {
    cqrs_mongo_spec::operators().serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(JsValue::from)
}
