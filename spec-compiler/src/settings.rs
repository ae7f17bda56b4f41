//! Compiler settings as the npm and pip packages receive them: one JSON object, read into
//! [`CompilerConfig`] by serde, so every runtime accepts exactly the same settings. Keys may
//! be spelled as in Rust (`max_depth`, what Python passes) or in camelCase (`maxDepth`, what
//! JavaScript passes); `null` means "not set". Every problem is `invalid_option` at
//! `settings.<key>` (nested: `settings.regex.<key>`), in the spelling the caller used.

use serde_json::{Map, Value};

use crate::config::{CompilerConfig, ConfigError};
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

impl CompilerConfig {
    /// The settings of a JSON object (see the module docs); `null` gives the defaults. Keys
    /// that belong to a package (the npm package's `output`) are its to remove first.
    pub fn from_settings(settings: &Value) -> Result<CompilerConfig, SpecError> {
        let object = match settings {
            Value::Null => return Ok(CompilerConfig::default()),
            Value::Object(object) => object,
            _ => return Err(invalid(&[], "settings must be an object")),
        };
        let mut normal = normalise(object, &KEYS, &[])?;
        if let Some(regex) = normal.get_mut("regex") {
            let Value::Object(policy) = regex else {
                return Err(invalid(&[spelled(object, "regex")], "regex must be an object"));
            };
            *regex = Value::Object(normalise(policy, &REGEX_KEYS, &["regex"])?);
        }
        let config: CompilerConfig = serde_path_to_error::deserialize(Value::Object(normal)).map_err(|err| {
            let keys: Vec<String> =
                err.path()
                    .iter()
                    .filter_map(|segment| match segment {
                        serde_path_to_error::Segment::Map { key }
                        | serde_path_to_error::Segment::Enum { variant: key } => Some(key.clone()),
                        _ => None,
                    })
                    .collect();
            let first = keys.first().map(|k| spelled(object, k).to_owned());
            let mut path: Vec<String> = first.into_iter().collect();
            if let (Some(nested), Value::Object(regex)) =
                (keys.get(1), object.get(spelled(object, "regex")).unwrap_or(&Value::Null))
            {
                path.push(spelled(regex, nested).to_owned());
            }
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            invalid(&path, err.inner().to_string())
        })?;
        config.validate().map_err(|err: ConfigError| invalid(&[spelled(object, err.setting())], err.to_string()))?;
        Ok(config)
    }
}
