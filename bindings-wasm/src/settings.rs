//! The third argument of every function: output format, whitelist and limits, read key by key
//! from a plain JS object (the JS layer copies the caller's object first). Every problem is
//! `invalid_option` at `settings.<key>`; values are type-checked here rather than by
//! serde-wasm-bindgen, whose error messages format the offending JS value (and recurse forever
//! on a cyclic one).

use cqrs_mongo_spec::{Compiler, CompilerConfig, ConfigError, ErrorCode, PathSegment, SpecError};
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

const SETTINGS_KEYS: [&str; 5] = ["output", "allowedFields", "maxDepth", "maxNodes", "maxListLen"];

#[derive(Debug, Default)]
pub(crate) struct Settings {
    output: Option<Output>,
    allowed_fields: Option<Vec<String>>,
    max_depth: Option<usize>,
    max_nodes: Option<usize>,
    max_list_len: Option<usize>,
}

fn invalid(key: Option<&str>, message: String) -> SpecError {
    let mut path = vec![PathSegment::Key("settings".into())];
    path.extend(key.map(|key| PathSegment::Key(key.to_owned())));
    SpecError::new(ErrorCode::InvalidOption, path, message)
}

/// A count setting: a non-negative integral number.
fn count(value: &JsValue) -> Option<usize> {
    let number = value.as_f64()?;
    (number >= 0.0 && number.fract() == 0.0 && number <= 2f64.powi(53)).then_some(number as usize)
}

/// A list of strings.
fn strings(value: &JsValue) -> Option<Vec<String>> {
    if !Array::is_array(value) {
        return None;
    }
    let items: &Array = value.unchecked_ref();
    items.iter().map(|item| item.as_string()).collect()
}

impl Settings {
    pub(crate) fn from_js(value: &JsValue) -> Result<Settings, SpecError> {
        if value.is_undefined() || value.is_null() {
            return Ok(Settings::default());
        }
        if !value.is_object() {
            return Err(invalid(None, "settings must be an object".into()));
        }
        let object: &Object = value.unchecked_ref();
        let mut settings = Settings::default();
        for key in Object::keys(object).iter().filter_map(|k| k.as_string()) {
            let Some(&name) = SETTINGS_KEYS.iter().find(|name| **name == key) else {
                let message = format!("unknown setting {key:?}; settings are {}", SETTINGS_KEYS.join(", "));
                return Err(invalid(Some(&key), message));
            };
            let item = Reflect::get(object, &JsValue::from_str(name))
                .map_err(|_| invalid(Some(name), format!("{name} cannot be read")))?;
            if item.is_undefined() || item.is_null() {
                continue;
            }
            let bad = |what: &str| invalid(Some(name), format!("{name} must be {what}"));
            match name {
                "output" => {
                    settings.output = Some(match item.as_string().as_deref() {
                        Some("relaxed") => Output::Relaxed,
                        Some("canonical") => Output::Canonical,
                        Some("js") => Output::Js,
                        _ => return Err(bad("\"relaxed\", \"canonical\" or \"js\"")),
                    })
                }
                "allowedFields" => {
                    settings.allowed_fields = Some(strings(&item).ok_or_else(|| bad("a list of strings"))?)
                }
                _ => {
                    let number = Some(count(&item).ok_or_else(|| bad("a non-negative integer"))?);
                    match name {
                        "maxDepth" => settings.max_depth = number,
                        "maxNodes" => settings.max_nodes = number,
                        _ => settings.max_list_len = number,
                    }
                }
            }
        }
        Ok(settings)
    }

    pub(crate) fn output(&self) -> Output {
        self.output.unwrap_or_default()
    }

    /// The compiler for these settings; a setting the compiler refuses (`maxDepth` above the
    /// cap) is `invalid_option` at its key.
    pub(crate) fn compiler(&self) -> Result<Compiler, SpecError> {
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
            invalid(Some(key), err.to_string())
        })
    }
}
