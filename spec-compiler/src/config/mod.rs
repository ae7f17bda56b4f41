//! Compiler settings: resource limits and the optional field whitelist, and the cap on the
//! depth limit that keeps every compiled filter within what MongoDB accepts.

pub(crate) mod json;
pub(crate) mod prepared;
pub(crate) mod schema;
mod schema_json;

use serde::{Deserialize, Deserializer, de::Error as _};

use self::schema::FieldSchema;
use crate::operator::Operator;

/// Longest accepted field path, in bytes.
pub const MAX_FIELD_PATH_LEN: usize = 1024;

/// The most levels of nesting MongoDB accepts in a document, and so in a compiled filter: the
/// filter document is level 1, each document or array inside it adds one.
pub const MAX_FILTER_DEPTH: usize = 100;

/// The largest accepted [`CompilerConfig::max_depth`].
///
/// Every `and`, `or` and `not` adds two levels to the filter (`{"$and": [ … ]}`: a document and
/// an array), so a leaf at spec depth `d` starts at level `2d - 1`. The deepest leaf whose shape
/// does not depend on the size of its value, `disjoint` with a GeometryCollection of
/// MultiPolygons (`{"$nor": [{f: {"$geoIntersects": {"$geometry": {"geometries": [{"coordinates":
/// [[[[lng, lat]]]]}]}}}}]}`), takes 12 levels: at depth 45 it ends at level 2 × 45 + 10 = 100.
/// Values can nest further (a nested object under `=`); a leaf that would take the filter past
/// [`MAX_FILTER_DEPTH`] is `too_deep` at its `val`.
pub const MAX_DEPTH_LIMIT: usize = 45;

/// The default [`CompilerConfig::max_string_len`]: 64 KiB.
pub const DEFAULT_MAX_STRING_LEN: usize = 64 * 1024;

/// The default [`CompilerConfig::max_spec_len`]: 16 MiB, MongoDB's largest document (a larger
/// spec could not become a filter anyway).
pub const DEFAULT_MAX_SPEC_LEN: usize = 16 * 1024 * 1024;

/// The default [`RegexPolicy::max_len`].
pub const DEFAULT_MAX_PATTERN_LEN: usize = 4096;

/// What the `regex` and `iregex` operators may do. By default they are allowed, patterns are
/// at most [`DEFAULT_MAX_PATTERN_LEN`] bytes, and a pattern that can backtrack catastrophically
/// (nested unbounded repetitions such as `(a+)+`, or an unbounded repetition over alternatives
/// that can start alike such as `(a|ab)*`) is refused: MongoDB runs patterns with a
/// backtracking engine against every document it scans.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RegexPolicy {
    /// Whether `regex` and `iregex` may be used at all (`regex_not_allowed` when not).
    pub enabled: bool,
    /// Longest pattern, in bytes (`regex_too_long`).
    pub max_len: usize,
    /// Accept patterns that can backtrack catastrophically (`unsafe_regex` when not).
    pub allow_backtracking: bool,
}

impl Default for RegexPolicy {
    fn default() -> Self {
        RegexPolicy { enabled: true, max_len: DEFAULT_MAX_PATTERN_LEN, allow_backtracking: false }
    }
}

impl RegexPolicy {
    /// No regex operators.
    pub fn disabled() -> Self {
        RegexPolicy { enabled: false, ..RegexPolicy::default() }
    }

    /// Patterns of at most `bytes` bytes.
    pub fn with_max_len(mut self, bytes: usize) -> Self {
        self.max_len = bytes;
        self
    }

    /// Accepts patterns that can backtrack catastrophically (for trusted callers only).
    pub fn allowing_backtracking(mut self) -> Self {
        self.allow_backtracking = true;
        self
    }
}

/// Settings of a [`Compiler`](crate::Compiler). `Default` gives the documented limits and no
/// whitelist.
///
/// ```
/// use cqrs_mongo_spec::{Compiler, CompilerConfig, ErrorCode};
/// let compiler = Compiler::new(CompilerConfig::default().allow_fields(["status", "customer.*"]));
/// let ok = serde_json::json!({"op": "=", "attr": "customer.name", "val": "Ann"});
/// assert!(compiler.compile(&ok).is_ok());
/// let denied = serde_json::json!({"op": "=", "attr": "password", "val": "x"});
/// assert_eq!(compiler.compile(&denied).unwrap_err().code(), ErrorCode::FieldNotAllowed);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CompilerConfig {
    /// Deepest allowed nesting of nodes (the root is depth 1). Default 32, at most
    /// [`MAX_DEPTH_LIMIT`]: [`Compiler::try_new`](crate::Compiler::try_new) refuses more, and
    /// deserialising refuses it too.
    #[serde(deserialize_with = "capped_max_depth")]
    pub max_depth: usize,
    /// Most nodes (leaves and groups) in one spec. Default 1 000.
    pub max_nodes: usize,
    /// Longest list anywhere in a value. Default 10 000.
    pub max_list_len: usize,
    /// When set, only these fields may be used: exact paths, or `prefix.*` for any path below
    /// `prefix`.
    pub allowed_fields: Option<Vec<String>>,
    /// When set, only these operators (names or aliases) may be used (`operator_not_allowed`).
    pub allowed_operators: Option<Vec<String>>,
    /// Operators (names or aliases) that may not be used (`operator_not_allowed`).
    pub denied_operators: Vec<String>,
    /// What the regex operators may do.
    pub regex: RegexPolicy,
    /// Longest string anywhere in a value, in bytes (`string_too_long`). Default 64 KiB.
    pub max_string_len: usize,
    /// Largest specification, in bytes of JSON text (a parsed value counts as its compact JSON
    /// text would), `spec_too_large`. Default 16 MiB. JSON text longer than this is refused
    /// before it is parsed ([`Compiler::parse_spec_json`](crate::Compiler::parse_spec_json)).
    pub max_spec_len: usize,
    /// The fields specs may use, with their types, operators, values and stored paths.
    pub schema: Option<FieldSchema>,
}

impl Default for CompilerConfig {
    fn default() -> Self {
        CompilerConfig {
            max_depth: 32,
            max_nodes: 1_000,
            max_list_len: 10_000,
            allowed_fields: None,
            allowed_operators: None,
            denied_operators: Vec::new(),
            regex: RegexPolicy::default(),
            max_string_len: DEFAULT_MAX_STRING_LEN,
            max_spec_len: DEFAULT_MAX_SPEC_LEN,
            schema: None,
        }
    }
}

impl CompilerConfig {
    /// Restricts the fields a spec may use (exact paths and `prefix.*` patterns).
    pub fn allow_fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_fields = Some(fields.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the nesting limit (at most [`MAX_DEPTH_LIMIT`]; see [`CompilerConfig::validate`]).
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Sets the node-count limit.
    pub fn with_max_nodes(mut self, max_nodes: usize) -> Self {
        self.max_nodes = max_nodes;
        self
    }

    /// Sets the list-length limit.
    pub fn with_max_list_len(mut self, max_list_len: usize) -> Self {
        self.max_list_len = max_list_len;
        self
    }

    /// Only these operators (names or aliases) may be used.
    pub fn allow_operators<I, S>(mut self, operators: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_operators = Some(operators.into_iter().map(Into::into).collect());
        self
    }

    /// These operators (names or aliases) may not be used.
    pub fn deny_operators<I, S>(mut self, operators: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.denied_operators = operators.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the regex policy.
    pub fn with_regex(mut self, regex: RegexPolicy) -> Self {
        self.regex = regex;
        self
    }

    /// Sets the longest accepted string value, in bytes.
    pub fn with_max_string_len(mut self, bytes: usize) -> Self {
        self.max_string_len = bytes;
        self
    }

    /// Compiles against `schema` (see [`FieldSchema`]).
    pub fn with_schema(mut self, schema: FieldSchema) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Sets the largest accepted specification, in bytes of JSON text.
    pub fn with_max_spec_len(mut self, bytes: usize) -> Self {
        self.max_spec_len = bytes;
        self
    }

    /// Checks the settings: `max_depth` may not exceed [`MAX_DEPTH_LIMIT`], and the operator
    /// lists may only name operators.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_depth > MAX_DEPTH_LIMIT {
            return Err(ConfigError::MaxDepthAboveLimit { max_depth: self.max_depth });
        }
        if let Some(message) = self.schema.as_ref().and_then(FieldSchema::problem) {
            return Err(ConfigError::InvalidSchema { message });
        }
        let lists = [
            ("allowed_operators", self.allowed_operators.as_deref().unwrap_or_default()),
            ("denied_operators", &self.denied_operators),
        ];
        for (setting, names) in lists {
            if let Some(name) = names.iter().find(|name| Operator::parse(name).is_none()) {
                return Err(ConfigError::UnknownOperator { setting, name: name.clone() });
            }
        }
        Ok(())
    }

    /// The depth limit the walkers apply: `max_depth`, never more than [`MAX_DEPTH_LIMIT`] (the
    /// fields are public, so a config may reach a walker without [`validate`](Self::validate)).
    pub(crate) fn depth_limit(&self) -> usize {
        self.max_depth.min(MAX_DEPTH_LIMIT)
    }

    /// True when the schema and the whitelist (if any) admit `path`.
    pub(crate) fn field_allowed(&self, path: &str) -> bool {
        self.schema.as_ref().is_none_or(|schema| schema.field(path).is_some()) && self.whitelist_allows(path)
    }

    /// True when the whitelist (if any) admits `path`.
    pub(crate) fn whitelist_allows(&self, path: &str) -> bool {
        let Some(allowed) = &self.allowed_fields else {
            return true;
        };
        allowed.iter().any(|pattern| match pattern.strip_suffix(".*") {
            Some(prefix) => path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.') && rest.len() > 1),
            None => pattern == path,
        })
    }
}

/// A setting of [`CompilerConfig`] that no compiler may use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_depth` is above [`MAX_DEPTH_LIMIT`].
    #[error(
        "max_depth {max_depth} is above {MAX_DEPTH_LIMIT}: deeper specifications compile to filters nesting more \
         than {MAX_FILTER_DEPTH} levels, which MongoDB refuses"
    )]
    MaxDepthAboveLimit {
        /// The refused setting.
        max_depth: usize,
    },
    /// The schema is unusable.
    #[error("schema: {message}")]
    InvalidSchema {
        /// What is wrong.
        message: String,
    },
    /// An operator list names no operator.
    #[error("{setting} names {name:?}, which is not an operator")]
    UnknownOperator {
        /// `allowed_operators` or `denied_operators`.
        setting: &'static str,
        /// The name.
        name: String,
    },
}

impl ConfigError {
    /// The name of the setting at fault, as spelled in [`CompilerConfig`] (`"max_depth"`).
    pub fn setting(&self) -> &'static str {
        match self {
            ConfigError::MaxDepthAboveLimit { .. } => "max_depth",
            ConfigError::UnknownOperator { setting, .. } => setting,
            ConfigError::InvalidSchema { .. } => "schema",
        }
    }
}

fn capped_max_depth<'de, D: Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    let max_depth = usize::deserialize(deserializer)?;
    CompilerConfig { max_depth, ..CompilerConfig::default() }.validate().map_err(D::Error::custom)?;
    Ok(max_depth)
}

/// Why a field path is rejected, or `None` when it is valid.
///
/// A path is a non-empty dotted string of at most [`MAX_FIELD_PATH_LEN`] bytes whose segments
/// are non-empty, do not start with `$` and hold no NUL byte.
pub(crate) fn field_path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("a field path may not be empty");
    }
    if path.len() > MAX_FIELD_PATH_LEN {
        return Some("a field path may be at most 1024 bytes long");
    }
    // One pass over the bytes (this runs for every field of every spec). A NUL byte is reported
    // before a segment's problem, wherever it is.
    let mut segment_problem = None;
    let mut at_segment_start = true;
    for &byte in path.as_bytes() {
        match byte {
            0 => return Some("a field path may not contain a NUL byte"),
            b'.' if at_segment_start => {
                segment_problem = segment_problem.or(Some("a field path may not have an empty segment"));
            }
            b'.' => at_segment_start = true,
            b'$' if at_segment_start => {
                segment_problem = segment_problem.or(Some("a field path segment may not start with '$'"));
                at_segment_start = false;
            }
            _ => at_segment_start = false,
        }
    }
    if at_segment_start {
        return segment_problem.or(Some("a field path may not have an empty segment"));
    }
    segment_problem
}

/// Like [`field_path_problem`] for one segment (a key), which also may not contain a dot.
pub(crate) fn key_problem(key: &str) -> Option<&'static str> {
    if key.contains('.') {
        return Some("a key may not contain '.'");
    }
    field_path_problem(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(field_path_problem("customer.name"), None);
        assert_eq!(field_path_problem("items.0.sku"), None);
        assert!(field_path_problem("").is_some());
        assert!(field_path_problem("a..b").is_some());
        assert!(field_path_problem(".a").is_some());
        assert!(field_path_problem("a.").is_some());
        assert!(field_path_problem("$where").is_some());
        assert!(field_path_problem("a.$b").is_some());
        assert!(field_path_problem("a\0b").is_some());
        assert!(field_path_problem(&"x".repeat(1025)).is_some());
        assert_eq!(field_path_problem(&"x".repeat(1024)), None);
        assert!(key_problem("a.b").is_some());
        assert_eq!(key_problem("a$b"), None);
    }

    /// The reading this replaced (a NUL check, then each segment in order).
    fn by_segments(path: &str) -> Option<&'static str> {
        if path.is_empty() || path.len() > MAX_FIELD_PATH_LEN {
            return field_path_problem(path);
        }
        if path.as_bytes().contains(&0) {
            return Some("a field path may not contain a NUL byte");
        }
        for segment in path.split('.') {
            if segment.is_empty() {
                return Some("a field path may not have an empty segment");
            }
            if segment.starts_with('$') {
                return Some("a field path segment may not start with '$'");
            }
        }
        None
    }

    proptest::proptest! {
        #[test]
        fn one_pass_reports_what_reading_by_segments_did(path in "[a.$\\x00é]{0,12}") {
            proptest::prop_assert_eq!(field_path_problem(&path), by_segments(&path), "{:?}", path);
        }
    }

    #[test]
    fn whitelist() {
        let config = CompilerConfig::default().allow_fields(["status", "customer.*"]);
        assert!(config.field_allowed("status"));
        assert!(!config.field_allowed("status.x"));
        assert!(config.field_allowed("customer.name"));
        assert!(config.field_allowed("customer.address.city"));
        assert!(!config.field_allowed("customer"));
        assert!(!config.field_allowed("customers.name"));
        assert!(CompilerConfig::default().field_allowed("anything"));
    }

    #[test]
    fn depth_cap() {
        assert_eq!(CompilerConfig::default().validate(), Ok(()));
        assert_eq!(CompilerConfig::default().with_max_depth(MAX_DEPTH_LIMIT).validate(), Ok(()));
        let err = CompilerConfig::default().with_max_depth(MAX_DEPTH_LIMIT + 1).validate().unwrap_err();
        assert_eq!(err.setting(), "max_depth");
        let config = CompilerConfig { max_depth: 1_000, ..CompilerConfig::default() };
        assert_eq!(config.depth_limit(), MAX_DEPTH_LIMIT);
    }
}
