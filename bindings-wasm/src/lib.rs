//! WebAssembly exports of `cqrs-mongo-spec` for the npm package. No compiler logic lives here:
//! only argument conversion (`convert`), result formatting and errors (`error`). Specs and
//! options arrive as JSON text: the package's JS layer (`js/api.mjs`) serialises JS values, so
//! one string crosses the boundary instead of one call per value.
#![forbid(unsafe_code)]

mod convert;
mod decompile;
mod error;
mod matches;
mod settings;

use bson::Bson;
use cqrs_mongo_spec::{
    Compiler, ErrorCode, ExtJsonFormat, FieldSchema, PathSegment, SpecError, parse_json, parse_json_utf16,
};
use js_sys::JsString;
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;

pub use decompile::decompile_json;
pub use error::{set_decompile_error_class, set_spec_error_class};
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
/// surrogate where it is. The errors of another argument are below its root key.
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
    let js: &JsString = value.unchecked_ref();
    let units = || js.iter().collect::<Vec<u16>>();
    let lone = may_hold_lone_surrogate(&text) && !js.is_valid_utf16();
    match arg {
        Arg::Spec(compiler) if lone => compiler.parse_spec_json_utf16(&units()),
        Arg::Spec(compiler) => compiler.parse_spec_json(&text),
        Arg::Other(root) => {
            let parsed = if lone { parse_json_utf16(&units()) } else { parse_json(&text) };
            parsed.map_err(|err| {
                let path = std::iter::once(PathSegment::Key(root.to_owned())).chain(err.path().iter().cloned());
                SpecError::new(err.code(), path.collect(), err.message())
            })
        }
    }
    .map(Some)
}

/// Whether a string `as_string` copied may have had a lone surrogate (which it replaces with
/// U+FFFD, bytes EF BF BD): a byte search, where `str::contains(char)` runs a substring search.
pub(crate) fn may_hold_lone_surrogate(text: &str) -> bool {
    text.as_bytes().contains(&0xEF) && text.contains(char::REPLACEMENT_CHARACTER)
}

/// A compiler prepared once from its settings (`new Compiler(settings)` in the package's JS
/// layer, which wraps this class): refused settings throw here.
#[wasm_bindgen(js_name = Compiler)]
pub struct WasmCompiler {
    compiler: Compiler,
    output: Output,
}

#[wasm_bindgen(js_class = Compiler)]
impl WasmCompiler {
    /// The compiler for the settings (a plain object, or undefined for the defaults).
    #[wasm_bindgen(constructor)]
    pub fn new(settings: JsValue) -> Result<WasmCompiler, JsValue> {
        let build = || {
            let settings = Settings::from_js(&settings)?;
            let output = settings.output();
            Ok(WasmCompiler { compiler: settings.compiler()?, output })
        };
        build().map_err(|e: SpecError| error::to_js(&e))
    }

    /// Spec JSON and optional options JSON to the result as Extended JSON text (relaxed by
    /// default, canonical with `output: "canonical"`).
    #[wasm_bindgen(js_name = compileJson)]
    pub fn compile_json(&self, spec_json: JsValue, options_json: JsValue) -> Result<String, JsValue> {
        let run = || {
            let format = match self.output {
                Output::Relaxed => ExtJsonFormat::Relaxed,
                Output::Canonical => ExtJsonFormat::Canonical,
                Output::Js => {
                    let path = vec![PathSegment::Key("settings".into()), PathSegment::Key("output".into())];
                    let message = "compileJson returns text: use relaxed or canonical";
                    return Err(SpecError::new(ErrorCode::InvalidOption, path, message));
                }
            };
            let args = Args::parse(&self.compiler, &spec_json, &options_json)?;
            self.compiler.compile_query_extjson(&args.spec, args.options.as_ref(), format)
        };
        run().map_err(|e| error::to_js(&e))
    }

    /// The filter alone as Extended JSON text (the compiler's output format): what `compile`
    /// parses when no options are given, building the pipeline's copy only when it is read.
    #[wasm_bindgen(js_name = compileFilterJson)]
    pub fn compile_filter_json(&self, spec_json: JsValue) -> Result<String, JsValue> {
        let run = || {
            let format = match self.output {
                Output::Canonical => ExtJsonFormat::Canonical,
                Output::Relaxed | Output::Js => ExtJsonFormat::Relaxed,
            };
            let args = Args::parse(&self.compiler, &spec_json, &JsValue::UNDEFINED)?;
            Ok(cqrs_mongo_spec::to_extjson_string(&self.compiler.compile_raw(&args.spec)?, format))
        };
        run().map_err(|e: SpecError| error::to_js(&e))
    }

    /// Like `compileJson`, with the result as plain JS values (`Date`, `BigInt` for Int64, …).
    #[wasm_bindgen(js_name = compileJs)]
    pub fn compile_js(&self, spec_json: JsValue, options_json: JsValue) -> Result<JsValue, JsValue> {
        let run = || {
            let args = Args::parse(&self.compiler, &spec_json, &options_json)?;
            let empty = Value::Object(Default::default());
            let query = self.compiler.compile_query(&args.spec, Some(args.options.as_ref().unwrap_or(&empty)))?;
            Ok(convert::bson_to_js(&Bson::Document(query.to_document())))
        };
        run().map_err(|e: SpecError| error::to_js(&e))
    }

    /// Every error of a spec and its options (JSON text), as `{code, path, message}` objects.
    #[wasm_bindgen(js_name = validateJson)]
    pub fn validate_json(&self, spec_json: JsValue, options_json: JsValue) -> js_sys::Array {
        let errors = match Args::parse(&self.compiler, &spec_json, &options_json) {
            Ok(args) => self.compiler.validate_query(&args.spec, args.options.as_ref()),
            Err(err) => vec![err],
        };
        errors.iter().map(error::to_plain).collect()
    }

    /// The compiler's field schema as react-querybuilder's `fields` (JSON text); without one,
    /// `invalid_option` at `settings.schema`.
    #[wasm_bindgen(js_name = querybuilderFieldsJson)]
    pub fn querybuilder_fields_json(&self) -> Result<String, JsValue> {
        match &self.compiler.config().schema {
            Some(schema) => Ok(schema.querybuilder_fields().to_string()),
            None => {
                let path = vec![PathSegment::Key("settings".into()), PathSegment::Key("schema".into())];
                Err(error::to_js(&SpecError::new(ErrorCode::InvalidOption, path, "this compiler has no field schema")))
            }
        }
    }

    /// What the JS layer applies while it writes JS values as JSON text: `{maxJsonDepth,
    /// maxSpecLen, maxListLen, maxNodes, output}`.
    pub fn limits(&self) -> Result<JsValue, JsValue> {
        let config = self.compiler.config();
        let output = match self.output {
            Output::Relaxed => "relaxed",
            Output::Canonical => "canonical",
            Output::Js => "js",
        };
        let limits = serde_json::json!({
            "maxJsonDepth": cqrs_mongo_spec::input::MAX_JSON_DEPTH,
            "maxSpecLen": config.max_spec_len,
            "maxListLen": config.max_list_len,
            "maxNodes": config.max_nodes,
            "output": output,
        });
        limits.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(JsValue::from)
    }
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
/// `{maxJsonDepth, maxSpecLen}`: the deepest nesting of lists and objects the parser accepts and
/// the default largest text.
#[wasm_bindgen]
pub fn limits() -> Result<JsValue, JsValue> {
    let limits = serde_json::json!({
        "maxJsonDepth": cqrs_mongo_spec::input::MAX_JSON_DEPTH,
        "maxSpecLen": cqrs_mongo_spec::DEFAULT_MAX_SPEC_LEN,
    });
    limits.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(JsValue::from)
}

/// Metadata of every operator: name, family, value shape, aliases, support, description.
#[wasm_bindgen]
pub fn operators() -> Result<JsValue, JsValue> {
    cqrs_mongo_spec::operators().serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(JsValue::from)
}
