//! The third argument of every function: the output format, read here, and the compiler
//! settings, handed to the core as they are ([`CompilerConfig::from_settings`], the same reader
//! the pip package uses) through their JSON text. Every problem is `invalid_option` at
//! `settings.<key>`.

use cqrs_mongo_spec::{Compiler, CompilerConfig, ErrorCode, PathSegment, SpecError};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// How results are returned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Output {
    /// Relaxed Extended JSON: plain JSON numbers, `{"$date": "…"}` (the default).
    #[default]
    Relaxed,
    /// Canonical Extended JSON: every type explicit (`{"$numberInt": "1"}`).
    Canonical,
    /// Plain JS values: `Date`, `BigInt` for Int64.
    Js,
}

#[derive(Debug, Default)]
pub(crate) struct Settings {
    output: Option<Output>,
    config: CompilerConfig,
}

fn invalid(key: Option<&str>, message: String) -> SpecError {
    let mut path = vec![PathSegment::Key("settings".into())];
    path.extend(key.map(|key| PathSegment::Key(key.to_owned())));
    SpecError::new(ErrorCode::InvalidOption, path, message)
}

/// A value JSON text cannot carry faithfully (`NaN` becomes `null`, a function disappears):
/// refused rather than silently dropped.
fn not_json(value: &JsValue) -> Option<&'static str> {
    if value.as_f64().is_some_and(|n| !n.is_finite()) {
        return Some("a finite number");
    }
    if value.is_function() || value.is_symbol() || value.is_bigint() {
        return Some("a JSON value");
    }
    None
}

impl Settings {
    /// Reads the (plain, copied) settings object: `output` here, everything else by the core
    /// ([`CompilerConfig::from_settings`]) from its JSON text.
    pub(crate) fn from_js(value: &JsValue) -> Result<Settings, SpecError> {
        if value.is_undefined() || value.is_null() {
            return Ok(Settings::default());
        }
        if !value.is_object() || Array::is_array(value) {
            return Err(invalid(None, "settings must be an object".into()));
        }
        let object: &Object = value.unchecked_ref();
        for key in Object::keys(object).iter().filter_map(|k| k.as_string()) {
            let item = Reflect::get(object, &JsValue::from_str(&key))
                .map_err(|_| invalid(Some(&key), format!("{key} cannot be read")))?;
            if let Some(what) = not_json(&item) {
                return Err(invalid(Some(&key), format!("{key} must be {what}")));
            }
        }
        let text = js_sys::JSON::stringify(value)
            .ok()
            .and_then(|text| text.as_string())
            .ok_or_else(|| invalid(None, "settings must be JSON-compatible (no cycles)".into()))?;
        // The core's parser (not `serde_json::from_str` here, a second copy of serde_json's
        // number parsing in the module); its input errors are below `settings`.
        let mut parsed = cqrs_mongo_spec::parse_json(&text).map_err(|err| {
            let path = std::iter::once(PathSegment::Key("settings".into())).chain(err.path().iter().cloned());
            SpecError::new(ErrorCode::InvalidOption, path.collect(), err.message())
        })?;
        // `output` is the package's own setting; the rest is the compiler's.
        let given = parsed.as_object_mut().and_then(|object| object.remove("output"));
        let output = match given.as_ref() {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(name)) if name == "relaxed" => Some(Output::Relaxed),
            Some(serde_json::Value::String(name)) if name == "canonical" => Some(Output::Canonical),
            Some(serde_json::Value::String(name)) if name == "js" => Some(Output::Js),
            Some(_) => {
                return Err(invalid(Some("output"), "output must be \"relaxed\", \"canonical\" or \"js\"".into()));
            }
        };
        Ok(Settings { output, config: CompilerConfig::from_settings(&parsed)? })
    }

    pub(crate) fn output(&self) -> Output {
        self.output.unwrap_or_default()
    }

    /// The compiler for these settings; settings the core refuses ([`Compiler::try_new`]) are
    /// `invalid_option` at their key.
    pub(crate) fn compiler(self) -> Result<Compiler, SpecError> {
        Compiler::try_new(self.config).map_err(|err| invalid(Some(err.setting()), err.to_string()))
    }
}
