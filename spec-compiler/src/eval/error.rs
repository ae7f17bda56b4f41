//! The one error type of in-memory evaluation: a stable code, a path into the filter, a message.

use std::fmt;

use bson::{Bson, Document};
use serde::{Serialize, Serializer};

use crate::decompile::display_filter_path;
use crate::error::PathSegment;

/// Why a filter cannot be evaluated in memory, as a stable snake_case identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EvalErrorCode {
    /// An operator only the server can evaluate: `$text` (it needs the collection's text index
    /// and its stemming), `$near` / `$nearSphere` (they sort), `$where` (JavaScript), geometry
    /// this evaluator does not resolve (shapes wider than a hemisphere).
    NeedsServer,
    /// An operator this evaluator does not know (a typo, or one it does not implement).
    UnknownOperator,
    /// A filter MongoDB refuses too: `$and` without a list, `$options` without `$regex`, a
    /// non-integer `$size`, an expression object holding a non-operator key, a filter nested
    /// deeper than MongoDB's 200 levels, … Also a document nested that deep where the evaluation
    /// reaches past its 200th level (the path is then `<root>`): no server holds one.
    InvalidFilter,
    /// A regular expression that does not parse.
    InvalidRegex,
    /// A valid PCRE construct the matcher does not implement (backreferences, lookbehind, `\p{…}`
    /// classes, `\Q…\E`, recursion, …): refused rather than guessed.
    UnsupportedRegex,
    /// A regular expression took more steps on one string than the budget allows.
    RegexTooComplex,
    /// BSON bytes given as the document ([`Matcher::matches_raw`](crate::Matcher::matches_raw))
    /// that do not decode where the evaluation reads them (the path is then `<root>`).
    InvalidDocument,
}

impl EvalErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [EvalErrorCode; 7] = [
        EvalErrorCode::NeedsServer,
        EvalErrorCode::UnknownOperator,
        EvalErrorCode::InvalidFilter,
        EvalErrorCode::InvalidRegex,
        EvalErrorCode::UnsupportedRegex,
        EvalErrorCode::RegexTooComplex,
        EvalErrorCode::InvalidDocument,
    ];

    /// The stable snake_case name of the code.
    pub const fn as_str(self) -> &'static str {
        match self {
            EvalErrorCode::NeedsServer => "needs_server",
            EvalErrorCode::UnknownOperator => "unknown_operator",
            EvalErrorCode::InvalidFilter => "invalid_filter",
            EvalErrorCode::InvalidRegex => "invalid_regex",
            EvalErrorCode::UnsupportedRegex => "unsupported_regex",
            EvalErrorCode::RegexTooComplex => "regex_too_complex",
            EvalErrorCode::InvalidDocument => "invalid_document",
        }
    }
}

impl fmt::Display for EvalErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EvalErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A filter that cannot be evaluated in memory, with the path of the offending key in the
/// filter (`<filter>.$or[1].name.$regex`, shown as decompile shows paths into a filter).
///
/// ```
/// use cqrs_mongo_spec::{matches, EvalErrorCode};
/// let filter = bson::doc! {"$or": [{"a": 1}, {"$text": {"$search": "coffee"}}]};
/// let err = matches(&filter, &bson::doc! {"a": 1}).unwrap_err();
/// assert_eq!(err.code(), EvalErrorCode::NeedsServer);
/// assert_eq!(err.path_string(), "<filter>.$or[1].$text");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("at {}: {message}", display_filter_path(.path))]
pub struct EvalError {
    code: EvalErrorCode,
    path: Vec<PathSegment>,
    message: String,
}

impl EvalError {
    /// Creates an error.
    pub fn new(code: EvalErrorCode, path: Vec<PathSegment>, message: impl Into<String>) -> Self {
        EvalError { code, path, message: message.into() }
    }

    /// The stable error code.
    pub fn code(&self) -> EvalErrorCode {
        self.code
    }

    /// Where in the filter the error is: keys and list indexes from the root.
    pub fn path(&self) -> &[PathSegment] {
        &self.path
    }

    /// The path as `<filter>.$or[1].$text`; a key holding a dot or another character than a
    /// letter, digit, `_` or `$` is quoted: `<filter>["items.sku"].$gt`.
    pub fn path_string(&self) -> String {
        display_filter_path(&self.path)
    }

    /// The human-readable explanation, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The longest path of keys and indexes into a filter: twice MongoDB's 100 levels of nesting.
const MAX_FILTER_PATH: usize = 200;

/// The deepest nesting of documents and arrays evaluated, the top-level document being level 1:
/// MongoDB's BSON limit (`BSONDepth::kDefaultMaxAllowableDepth`), past which the server refuses
/// any BSON (no command, filter or reply carries it; it stores at most 180 levels and documents
/// 100). Every recursion over a filter or a document counts its levels against it, so no input
/// can exhaust the stack (in WebAssembly that would abort the module).
pub(crate) const MAX_DEPTH: usize = 200;

/// An evaluation reached a document or array nested deeper than [`MAX_DEPTH`] in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooDeep;

impl From<TooDeep> for EvalError {
    fn from(TooDeep: TooDeep) -> Self {
        EvalError::new(
            EvalErrorCode::InvalidFilter,
            Vec::new(),
            format!(
                "the document nests documents and arrays more than {MAX_DEPTH} levels deep, which MongoDB refuses \
                 (BSON depth limit): it is not evaluated"
            ),
        )
    }
}

/// Why an evaluation stopped, boxed: the evaluation's functions return `Result<bool, Failure>`
/// in two registers, the error being rare.
pub(crate) type Failure = Box<EvalError>;

impl From<TooDeep> for Failure {
    fn from(too_deep: TooDeep) -> Self {
        Box::new(too_deep.into())
    }
}

/// `level + 1`, the level of a document or array entered from one at `level`, or [`TooDeep`]
/// past [`MAX_DEPTH`].
pub(crate) fn deeper(level: usize) -> Result<usize, TooDeep> {
    within(level + 1)
}

/// `level`, or [`TooDeep`] past [`MAX_DEPTH`] (for a document or array at `level`).
pub(crate) fn within(level: usize) -> Result<usize, TooDeep> {
    if level > MAX_DEPTH { Err(TooDeep) } else { Ok(level) }
}

/// Refuses a filter that nests documents and arrays deeper than [`MAX_DEPTH`] levels, walking it
/// with an explicit stack (no recursion), before anything else reads it.
pub(crate) fn check_filter_depth(filter: &Document) -> Result<(), EvalError> {
    enum Children<'a> {
        Doc(bson::document::Iter<'a>),
        Arr(std::iter::Enumerate<std::slice::Iter<'a, Bson>>),
    }
    fn children(value: &Bson) -> Option<Children<'_>> {
        match value {
            Bson::Document(doc) => Some(Children::Doc(doc.iter())),
            Bson::Array(items) => Some(Children::Arr(items.iter().enumerate())),
            Bson::JavaScriptCodeWithScope(code) => Some(Children::Doc(code.scope.iter())),
            _ => None,
        }
    }
    // One iterator per level (the top-level document is level 1) and the place of each level's
    // current child (owned only for a refusal's path).
    let mut stack = Vec::with_capacity(8);
    stack.push(Children::Doc(filter.iter()));
    let mut places: Vec<Result<usize, &str>> = Vec::with_capacity(8);
    while let Some(top) = stack.last_mut() {
        let next = match top {
            Children::Doc(iter) => iter.next().map(|(key, value)| (Err(key.as_str()), value)),
            Children::Arr(iter) => iter.next().map(|(index, value)| (Ok(index), value)),
        };
        let Some((place, value)) = next else {
            stack.pop();
            places.pop();
            continue;
        };
        let Some(inner) = children(value) else { continue };
        places.push(place);
        if stack.len() >= MAX_DEPTH {
            let path = places
                .iter()
                .map(|place| match place {
                    Ok(index) => PathSegment::Index(*index),
                    Err(key) => PathSegment::Key((*key).to_owned()),
                })
                .collect();
            return Err(EvalError::new(
                EvalErrorCode::InvalidFilter,
                path,
                format!(
                    "the filter nests documents and arrays more than {MAX_DEPTH} levels deep (MongoDB's BSON limit)"
                ),
            ));
        }
        stack.push(inner);
    }
    Ok(())
}

/// Where the parser is in the filter: a parent-linked list, so no push/pop can get out of step.
#[derive(Clone, Copy)]
pub(crate) enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl<'a> At<'a> {
    pub(crate) fn key(&'a self, key: &'a str) -> At<'a> {
        At::Key(self, key)
    }

    pub(crate) fn index(&'a self, index: usize) -> At<'a> {
        At::Index(self, index)
    }

    pub(crate) fn path(&self) -> Vec<PathSegment> {
        let mut out = Vec::new();
        let mut at = self;
        loop {
            match at {
                At::Root => break,
                At::Key(parent, key) => {
                    out.push(PathSegment::Key((*key).to_owned()));
                    at = parent;
                }
                At::Index(parent, index) => {
                    out.push(PathSegment::Index(*index));
                    at = parent;
                }
            }
        }
        out.reverse();
        out
    }

    /// Refuses a filter nested deeper than any MongoDB accepts (it refuses documents of more
    /// than 100 levels), before the recursion could exhaust the stack.
    pub(crate) fn check_depth(&self) -> Result<(), EvalError> {
        let mut depth = 0;
        let mut at = self;
        while let At::Key(parent, _) | At::Index(parent, _) = at {
            depth += 1;
            if depth > MAX_FILTER_PATH {
                return Err(self.invalid(format!("the filter nests more than {MAX_FILTER_PATH} keys and indexes deep")));
            }
            at = parent;
        }
        Ok(())
    }

    pub(crate) fn error(&self, code: EvalErrorCode, message: impl Into<String>) -> EvalError {
        EvalError::new(code, self.path(), message)
    }

    pub(crate) fn invalid(&self, message: impl Into<String>) -> EvalError {
        self.error(EvalErrorCode::InvalidFilter, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case() {
        let mut names: Vec<_> = EvalErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EvalErrorCode::ALL.len());
    }

    #[test]
    fn deeply_nested_filters_are_refused_not_overflowing() {
        let mut filter = bson::doc! {"a": 1};
        for _ in 0..5000 {
            filter = bson::doc! {"$and": [filter]};
        }
        let err = crate::eval::matches(&filter, &bson::doc! {}).unwrap_err();
        assert_eq!(err.code(), EvalErrorCode::InvalidFilter);
        let mut expr = bson::Bson::Int32(1);
        for _ in 0..5000 {
            expr = bson::Bson::Array(vec![expr]);
        }
        let err = crate::eval::matches(&bson::doc! {"$expr": expr}, &bson::doc! {}).unwrap_err();
        assert_eq!(err.code(), EvalErrorCode::InvalidFilter);
    }

    #[test]
    fn paths_are_built_from_the_parent_links() {
        let root = At::Root;
        let or = root.key("$or");
        let second = or.index(1);
        let err = second.key("name").invalid("bad");
        assert_eq!(err.to_string(), "at <filter>.$or[1].name: bad");
        assert_eq!(serde_json::to_value(&err).unwrap()["path"], serde_json::json!(["$or", 1, "name"]));
    }

    /// SEMANTICS.md's table of evaluation codes is `EvalErrorCode::ALL`, in order.
    #[test]
    fn the_semantics_page_lists_every_code_in_order() {
        let page = include_str!("../../SEMANTICS.md");
        let section = page.split("\n## Evaluating in memory\n").nth(1).expect("the section exists");
        let section = section.split("\n## ").next().unwrap();
        let table = section.split("| code | when |").nth(1).expect("the section has a code table");
        let documented: Vec<&str> = table
            .lines()
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .filter_map(|row| row.split('`').nth(1))
            .collect();
        let declared: Vec<&str> = EvalErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(documented, declared);
    }
}
