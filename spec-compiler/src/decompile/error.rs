//! The error of [`decompile`](crate::decompile()): a stable code, the path into the *filter*
//! (keys and array indexes from its root) and a message.
//!
//! The path is built the jsonschema-rs way: a [`Loc`] is a parent-linked list passed down the
//! recursion, so it cannot get out of step with the walk, and it is turned into owned segments
//! only when an error is reported. It also counts the levels of nesting, which bounds the walk.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::config::MAX_FILTER_DEPTH;
use crate::error::PathSegment;

/// Why a filter cannot be turned into a specification, as a stable identifier that is the same
/// in Rust, JavaScript and Python ([`as_str`](Self::as_str)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecompileErrorCode {
    /// The filter text is not JSON.
    InvalidJson,
    /// A malformed Extended JSON wrapper (`{"$date": "yesterday"}`).
    InvalidExtendedJson,
    /// Not a valid MongoDB filter: an unknown `$` operator, `$and` without a list, `$in` without
    /// an array, `$options` without `$regex`, a field holding both operators and plain keys.
    InvalidFilter,
    /// A valid filter whose meaning a specification cannot express: `$where`, `$expr` other than
    /// a comparison of two fields, `$mod`, `$size` other than 0, `$type` other than
    /// null/object/array, `$near`, a comparison with a regular expression, an empty filter.
    UnsupportedFilter,
    /// The filter nests more than MongoDB's 100 levels.
    TooDeep,
}

impl DecompileErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [DecompileErrorCode; 5] = [
        DecompileErrorCode::InvalidJson,
        DecompileErrorCode::InvalidExtendedJson,
        DecompileErrorCode::InvalidFilter,
        DecompileErrorCode::UnsupportedFilter,
        DecompileErrorCode::TooDeep,
    ];

    /// The stable snake_case name of the code.
    pub const fn as_str(self) -> &'static str {
        match self {
            DecompileErrorCode::InvalidJson => "invalid_json",
            DecompileErrorCode::InvalidExtendedJson => "invalid_extended_json",
            DecompileErrorCode::InvalidFilter => "invalid_filter",
            DecompileErrorCode::UnsupportedFilter => "unsupported_filter",
            DecompileErrorCode::TooDeep => "too_deep",
        }
    }
}

impl fmt::Display for DecompileErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DecompileErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A filter that cannot be decompiled.
///
/// ```
/// use cqrs_mongo_spec::{decompile, DecompileErrorCode};
/// let err = decompile(&bson::doc! {"$or": [{"a": 1}, {"$where": "this.a > 1"}]}).unwrap_err();
/// assert_eq!(err.code(), DecompileErrorCode::UnsupportedFilter);
/// assert_eq!(err.path_string(), "<filter>.$or[1].$where");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("at {}: {message}", display_filter_path(.path))]
pub struct DecompileError {
    code: DecompileErrorCode,
    path: Vec<PathSegment>,
    message: String,
}

impl DecompileError {
    /// Creates an error; mostly useful to the bindings and to tests.
    pub fn new(code: DecompileErrorCode, path: Vec<PathSegment>, message: impl Into<String>) -> Self {
        DecompileError { code, path, message: message.into() }
    }

    /// The stable error code.
    pub fn code(&self) -> DecompileErrorCode {
        self.code
    }

    /// Where in the filter the error is: keys and array indexes from its root.
    pub fn path(&self) -> &[PathSegment] {
        &self.path
    }

    /// The path as `<filter>.$or[1].$where`; a key holding a dot or a character other than a
    /// letter, digit, `_` or `$` is quoted: `<filter>["items.sku"].$gt`.
    pub fn path_string(&self) -> String {
        display_filter_path(&self.path)
    }

    /// The human-readable explanation, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// `<filter>.a["b.c"][0]`.
pub fn display_filter_path(path: &[PathSegment]) -> String {
    let mut out = String::from("<filter>");
    for segment in path {
        match segment {
            PathSegment::Key(key)
                if !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || "_$".contains(c)) =>
            {
                out.push('.');
                out.push_str(key);
            }
            PathSegment::Key(key) => {
                out.push('[');
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(']');
            }
            PathSegment::Index(index) => {
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
        }
    }
    out
}

pub(crate) type Result<T> = std::result::Result<T, DecompileError>;

/// Where the walk is in the filter: a parent-linked list of keys and indexes, and the level of
/// nesting (the filter document is level 1; each document or array inside adds one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Loc<'a> {
    parent: Option<&'a Loc<'a>>,
    step: Step<'a>,
    depth: usize,
}

#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

impl<'a> Loc<'a> {
    /// The root of the filter (level 1).
    pub(crate) const ROOT: Loc<'static> = Loc { parent: None, step: Step::Root, depth: 1 };

    /// The value under `key` of the document at `self` (one level deeper).
    pub(crate) fn key(&'a self, key: &'a str) -> Loc<'a> {
        Loc { parent: Some(self), step: Step::Key(key), depth: self.depth + 1 }
    }

    /// The item at `index` of the array at `self` (one level deeper).
    pub(crate) fn index(&'a self, index: usize) -> Loc<'a> {
        Loc { parent: Some(self), step: Step::Index(index), depth: self.depth + 1 }
    }

    /// Refuses a document or array nested deeper than MongoDB's 100 levels.
    pub(crate) fn check_depth(&self) -> Result<()> {
        if self.depth > MAX_FILTER_DEPTH {
            return Err(self.error(
                DecompileErrorCode::TooDeep,
                format!("the filter nests deeper than MongoDB's {MAX_FILTER_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    /// The path from the root to here.
    pub(crate) fn path(&self) -> Vec<PathSegment> {
        let mut segments = Vec::with_capacity(self.depth);
        let mut at = Some(self);
        while let Some(loc) = at {
            match loc.step {
                Step::Root => {}
                Step::Key(key) => segments.push(PathSegment::Key(key.to_owned())),
                Step::Index(index) => segments.push(PathSegment::Index(index)),
            }
            at = loc.parent;
        }
        segments.reverse();
        segments
    }

    /// An error at this place.
    pub(crate) fn error(&self, code: DecompileErrorCode, message: impl Into<String>) -> DecompileError {
        DecompileError::new(code, self.path(), message)
    }

    /// `invalid_filter` here.
    pub(crate) fn invalid(&self, message: impl Into<String>) -> DecompileError {
        self.error(DecompileErrorCode::InvalidFilter, message)
    }

    /// `unsupported_filter` here.
    pub(crate) fn unsupported(&self, message: impl Into<String>) -> DecompileError {
        self.error(DecompileErrorCode::UnsupportedFilter, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_walk_and_quote_dotted_keys() {
        let root = Loc::ROOT;
        let or = root.key("$or");
        let item = or.index(1);
        let field = item.key("items.sku");
        let op = field.key("$gt");
        assert_eq!(op.depth, 5);
        let err = op.unsupported("x");
        assert_eq!(err.path_string(), "<filter>.$or[1][\"items.sku\"].$gt");
        assert_eq!(err.to_string(), "at <filter>.$or[1][\"items.sku\"].$gt: x");
        assert_eq!(serde_json::to_value(&err).unwrap()["path"], serde_json::json!(["$or", 1, "items.sku", "$gt"]));
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let mut names: Vec<_> = DecompileErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DecompileErrorCode::ALL.len());
    }
}
