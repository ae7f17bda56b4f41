//! Compiler settings: resource limits and the optional field whitelist.

use serde::Deserialize;

/// Longest accepted field path, in bytes.
pub const MAX_FIELD_PATH_LEN: usize = 1024;

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
    /// Deepest allowed nesting of nodes (the root is depth 1). Default 32.
    pub max_depth: usize,
    /// Most nodes (leaves and groups) in one spec. Default 1 000.
    pub max_nodes: usize,
    /// Longest list anywhere in a value. Default 10 000.
    pub max_list_len: usize,
    /// When set, only these fields may be used: exact paths, or `prefix.*` for any path below
    /// `prefix`.
    pub allowed_fields: Option<Vec<String>>,
}

impl Default for CompilerConfig {
    fn default() -> Self {
        CompilerConfig { max_depth: 32, max_nodes: 1_000, max_list_len: 10_000, allowed_fields: None }
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

    /// Sets the nesting limit.
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

    /// True when the whitelist (if any) admits `path`.
    pub(crate) fn field_allowed(&self, path: &str) -> bool {
        let Some(allowed) = &self.allowed_fields else {
            return true;
        };
        allowed.iter().any(|pattern| match pattern.strip_suffix(".*") {
            Some(prefix) => path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.') && rest.len() > 1),
            None => pattern == path,
        })
    }
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
}
