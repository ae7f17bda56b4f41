//! Compiler settings as the npm and pip packages receive them: one JSON object, read into
//! [`CompilerConfig`] setting by setting, so every runtime accepts exactly the same settings. Keys may
//! be spelled as in Rust (`max_depth`, what Python passes) or in camelCase (`maxDepth`, what
//! JavaScript passes); `null` means "not set". Every problem is `invalid_option` at
//! `settings.<key>` (nested: `settings.regex.<key>`), in the spelling the caller used.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::schema_json::read_schema;
use crate::config::{CompilerConfig, ConfigError, RegexPolicy};
use crate::error::{ErrorCode, PathSegment, SpecError};

/// The settings keys, in Rust spelling with the camelCase one.
const KEYS: [(&str, &str); 10] = [
    ("max_depth", "maxDepth"),
    ("max_nodes", "maxNodes"),
    ("max_list_len", "maxListLen"),
    ("allowed_fields", "allowedFields"),
    ("allowed_operators", "allowedOperators"),
    ("denied_operators", "deniedOperators"),
    ("regex", "regex"),
    ("max_string_len", "maxStringLen"),
    ("max_spec_len", "maxSpecLen"),
    ("schema", "schema"),
];

/// The keys of the `regex` policy.
const REGEX_KEYS: [(&str, &str); 3] =
    [("enabled", "enabled"), ("max_len", "maxLen"), ("allow_backtracking", "allowBacktracking")];

fn invalid(path: &[&str], message: impl Into<String>) -> SpecError {
    let mut segments = vec![PathSegment::Key("settings".into())];
    segments.extend(path.iter().map(|key| PathSegment::Key((*key).to_owned())));
    SpecError::new(ErrorCode::InvalidOption, segments, message)
}

/// Rewrites an object's keys to the Rust spelling (dropping `null`s); an unknown key, or one
/// given in both spellings, is an error at that key.
fn normalise(
    object: &Map<String, Value>,
    keys: &[(&'static str, &'static str)],
    at: &[&str],
) -> Result<Map<String, Value>, SpecError> {
    let mut out = Map::new();
    for (key, value) in object {
        let Some(&(rust, _)) = keys.iter().find(|(rust, camel)| key == rust || key == camel) else {
            let names: Vec<&str> = keys.iter().map(|(_, camel)| *camel).collect();
            let path: Vec<&str> = at.iter().copied().chain([key.as_str()]).collect();
            return Err(invalid(&path, format!("unknown setting {key:?}; settings are {}", names.join(", "))));
        };
        if value.is_null() {
            continue;
        }
        if out.insert(rust.to_owned(), value.clone()).is_some() {
            let path: Vec<&str> = at.iter().copied().chain([key.as_str()]).collect();
            return Err(invalid(&path, format!("{key:?} is given twice (in two spellings)")));
        }
    }
    Ok(out)
}

/// The key the caller used for setting `rust` (for error paths).
fn spelled<'a>(object: &'a Map<String, Value>, rust: &'a str) -> &'a str {
    let camel = KEYS.iter().chain(REGEX_KEYS.iter()).find(|(r, _)| *r == rust).map_or(rust, |(_, c)| c);
    if object.contains_key(camel) { camel } else { rust }
}

/// `value` read as a `T`, or `invalid_option` at `path` with serde's message.
fn read<'a, T: Deserialize<'a>>(value: &'a Value, path: &[&str]) -> Result<T, SpecError> {
    T::deserialize(value).map_err(|err| invalid(path, err.to_string()))
}

/// The regex policy of a (normalised) `regex` object; `object` is its object as the caller
/// spelled it, for error paths.
fn regex_policy(normal: &Map<String, Value>, object: &Map<String, Value>) -> Result<RegexPolicy, SpecError> {
    let mut policy = RegexPolicy::default();
    for (key, value) in normal {
        let path = ["regex", spelled(object, key)];
        match key.as_str() {
            "enabled" => policy.enabled = read(value, &path)?,
            "max_len" => policy.max_len = read(value, &path)?,
            _ => policy.allow_backtracking = read(value, &path)?,
        }
    }
    Ok(policy)
}

impl CompilerConfig {
    /// The settings of a JSON object (see the module docs); `null` gives the defaults. Keys
    /// that belong to a package (the npm package's `output`) are its to remove first.
    pub fn from_settings(settings: &Value) -> Result<CompilerConfig, SpecError> {
        let object = match settings {
            Value::Null => return Ok(CompilerConfig::default()),
            Value::Object(object) => object,
            _ => return Err(invalid(&[], "settings must be an object")),
        };
        let mut config = CompilerConfig::default();
        // Each setting is read on its own, so every problem is reported at its own key.
        for (key, value) in &normalise(object, &KEYS, &[])? {
            let path = [spelled(object, key)];
            match key.as_str() {
                "max_depth" => config.max_depth = read(value, &path)?,
                "max_nodes" => config.max_nodes = read(value, &path)?,
                "max_list_len" => config.max_list_len = read(value, &path)?,
                "allowed_fields" => config.allowed_fields = Some(read(value, &path)?),
                "allowed_operators" => config.allowed_operators = Some(read(value, &path)?),
                "denied_operators" => config.denied_operators = read(value, &path)?,
                "max_string_len" => config.max_string_len = read(value, &path)?,
                "max_spec_len" => config.max_spec_len = read(value, &path)?,
                "regex" => {
                    let Value::Object(policy) = value else {
                        return Err(invalid(&path, "regex must be an object"));
                    };
                    config.regex = regex_policy(&normalise(policy, &REGEX_KEYS, &["regex"])?, policy)?;
                }
                _ => {
                    let at = [PathSegment::Key("settings".into()), PathSegment::Key(path[0].to_owned())];
                    config.schema = Some(read_schema(value, &at)?);
                }
            }
        }
        config.validate().map_err(|err: ConfigError| invalid(&[spelled(object, err.setting())], err.to_string()))?;
        Ok(config)
    }
}
