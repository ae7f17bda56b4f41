//! Error collection with a cheap path stack, shared by parsing and compiling.
//!
//! The walkers push a segment when they descend and pop it when they return; the path is turned
//! into owned [`PathSegment`]s only when an error is reported, so a valid spec never allocates
//! for paths.

use crate::error::{ErrorCode, PathSegment, SpecError};

/// One step of the current path, borrowed where possible.
#[derive(Debug, Clone)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Owned(String),
    Index(usize),
}

/// Collects errors; in fail-fast mode the first error asks every walker to stop.
pub(crate) struct Diag<'a> {
    path: Vec<Seg<'a>>,
    errors: Vec<SpecError>,
    collect_all: bool,
}

impl<'a> Diag<'a> {
    pub(crate) fn new(collect_all: bool) -> Self {
        Diag { path: Vec::with_capacity(8), errors: Vec::new(), collect_all }
    }

    /// True when the walk should stop: fail-fast mode and an error was already reported.
    pub(crate) fn stop(&self) -> bool {
        !self.collect_all && !self.errors.is_empty()
    }

    /// True in `validate` mode, where every error is collected.
    pub(crate) fn collects_all(&self) -> bool {
        self.collect_all
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub(crate) fn push(&mut self, segment: Seg<'a>) {
        self.path.push(segment);
    }

    pub(crate) fn pop(&mut self) {
        self.path.pop();
    }

    /// Runs `f` with `segment` pushed on the path.
    pub(crate) fn at<T>(&mut self, segment: Seg<'a>, f: impl FnOnce(&mut Self) -> T) -> T {
        self.push(segment);
        let result = f(self);
        self.pop();
        result
    }

    /// Reports an error at the current path (unless one was already reported in fail-fast mode).
    pub(crate) fn error(&mut self, code: ErrorCode, message: impl Into<String>) {
        if self.stop() {
            return;
        }
        let path = self.path.iter().map(to_public).collect();
        self.errors.push(SpecError::new(code, path, message));
    }

    /// Reports `err` (whose path is relative to the current position) below the current path.
    pub(crate) fn error_below(&mut self, err: SpecError) {
        let depth = self.path.len();
        self.path.extend(err.path().iter().map(|segment| match segment {
            PathSegment::Key(key) => Seg::Owned(key.clone()),
            PathSegment::Index(index) => Seg::Index(*index),
        }));
        self.error(err.code(), err.message());
        self.path.truncate(depth);
    }

    /// Reports an error at the current path extended by `key`.
    pub(crate) fn error_at_key(&mut self, key: &'a str, code: ErrorCode, message: impl Into<String>) {
        self.at(Seg::Key(key), |d| d.error(code, message));
    }

    pub(crate) fn into_errors(self) -> Vec<SpecError> {
        self.errors
    }

    /// The first error, if any.
    pub(crate) fn into_first(self) -> Option<SpecError> {
        self.errors.into_iter().next()
    }

    /// Re-roots the current path (used to report option errors under `"options"`).
    pub(crate) fn with_root(collect_all: bool, root: &'a str) -> Self {
        let mut diag = Diag::new(collect_all);
        diag.push(Seg::Key(root));
        diag
    }
}

fn to_public(segment: &Seg<'_>) -> PathSegment {
    match segment {
        Seg::Key(key) => PathSegment::Key((*key).to_owned()),
        Seg::Owned(key) => PathSegment::Key(key.clone()),
        Seg::Index(index) => PathSegment::Index(*index),
    }
}

/// A short English name of a JSON value's type, for messages.
pub(crate) fn json_type_name(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A short English name of a BSON value's type, for messages.
pub(crate) fn bson_type_name(value: &bson::Bson) -> &'static str {
    use bson::Bson;
    match value {
        Bson::Null => "null",
        Bson::Boolean(_) => "a boolean",
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => "a number",
        Bson::Decimal128(_) => "a decimal",
        Bson::String(_) => "a string",
        Bson::Array(_) => "a list",
        Bson::Document(_) => "an object",
        Bson::DateTime(_) => "a date",
        Bson::ObjectId(_) => "an ObjectId",
        Bson::Binary(_) => "binary data",
        _ => "an unsupported BSON value",
    }
}
