//! The one error type of the compiler: a stable code, a path into the spec, and a message.

use std::fmt;

use serde::{Serialize, Serializer};

/// What went wrong, as a stable identifier that is the same in Rust, JavaScript and Python.
///
/// [`ErrorCode::as_str`] gives the snake_case string (`"invalid_value"`) that the bindings
/// expose as `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A spec or options string is not valid JSON.
    InvalidJson,
    /// A node is not an object, or has keys of the wrong JSON type.
    InvalidNode,
    /// A required key (`op`, `attr`, `val`, `conditions`) is missing.
    MissingField,
    /// A node has a key the specification format does not define.
    UnknownKey,
    /// `op` names no operator.
    UnknownOperator,
    /// A known operator that has no exact MongoDB equivalent.
    UnsupportedOperator,
    /// `and` / `or` / `not` without any condition.
    EmptyGroup,
    /// `val` has the wrong shape for the operator.
    InvalidValue,
    /// `val` cannot be converted to the requested `value_type`.
    InvalidCast,
    /// `value_type` names no known type.
    UnknownValueType,
    /// A malformed Extended JSON wrapper such as `{"$date": "yesterday"}`.
    InvalidExtendedJson,
    /// A field path is empty, has an empty segment, starts a segment with `$`, holds NUL or is too long.
    InvalidFieldPath,
    /// A field path is not in the configured whitelist.
    FieldNotAllowed,
    /// A `regex` / `iregex` pattern does not parse.
    InvalidRegex,
    /// More than one text-search clause, or one below `not`.
    InvalidTextSearch,
    /// The spec nests deeper than the configured limit.
    TooDeep,
    /// The spec has more nodes than the configured limit.
    TooManyNodes,
    /// A list is longer than the configured limit.
    ListTooLong,
    /// A query option is malformed.
    InvalidOption,
    /// The operator is not allowed by the compiler's operator lists.
    OperatorNotAllowed,
    /// The regex operators are switched off.
    RegexNotAllowed,
    /// A regex pattern is longer than the configured limit.
    RegexTooLong,
    /// A regex pattern can backtrack catastrophically (`(a+)+`, `(a|ab)*`).
    UnsafeRegex,
    /// A string value is longer than the configured limit.
    StringTooLong,
    /// The specification is larger than the configured limit.
    SpecTooLarge,
    /// A `value_type` that is not the cast the schema gives the field.
    ValueTypeMismatch,
    /// A value outside the schema's enumerated values of the field.
    ValueNotAllowed,
    /// A comparison of two fields inside `elem_match`, or (with a schema) of two fields of
    /// different types.
    InvalidFieldComparison,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 28] = [
        ErrorCode::InvalidJson,
        ErrorCode::InvalidNode,
        ErrorCode::MissingField,
        ErrorCode::UnknownKey,
        ErrorCode::UnknownOperator,
        ErrorCode::UnsupportedOperator,
        ErrorCode::EmptyGroup,
        ErrorCode::InvalidValue,
        ErrorCode::InvalidCast,
        ErrorCode::UnknownValueType,
        ErrorCode::InvalidExtendedJson,
        ErrorCode::InvalidFieldPath,
        ErrorCode::FieldNotAllowed,
        ErrorCode::InvalidRegex,
        ErrorCode::InvalidTextSearch,
        ErrorCode::TooDeep,
        ErrorCode::TooManyNodes,
        ErrorCode::ListTooLong,
        ErrorCode::InvalidOption,
        ErrorCode::OperatorNotAllowed,
        ErrorCode::RegexNotAllowed,
        ErrorCode::RegexTooLong,
        ErrorCode::UnsafeRegex,
        ErrorCode::StringTooLong,
        ErrorCode::SpecTooLarge,
        ErrorCode::ValueTypeMismatch,
        ErrorCode::ValueNotAllowed,
        ErrorCode::InvalidFieldComparison,
    ];

    /// The stable snake_case name of the code.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidNode => "invalid_node",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::UnknownKey => "unknown_key",
            ErrorCode::UnknownOperator => "unknown_operator",
            ErrorCode::UnsupportedOperator => "unsupported_operator",
            ErrorCode::EmptyGroup => "empty_group",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::InvalidCast => "invalid_cast",
            ErrorCode::UnknownValueType => "unknown_value_type",
            ErrorCode::InvalidExtendedJson => "invalid_extended_json",
            ErrorCode::InvalidFieldPath => "invalid_field_path",
            ErrorCode::FieldNotAllowed => "field_not_allowed",
            ErrorCode::InvalidRegex => "invalid_regex",
            ErrorCode::InvalidTextSearch => "invalid_text_search",
            ErrorCode::TooDeep => "too_deep",
            ErrorCode::TooManyNodes => "too_many_nodes",
            ErrorCode::ListTooLong => "list_too_long",
            ErrorCode::InvalidOption => "invalid_option",
            ErrorCode::OperatorNotAllowed => "operator_not_allowed",
            ErrorCode::RegexNotAllowed => "regex_not_allowed",
            ErrorCode::RegexTooLong => "regex_too_long",
            ErrorCode::UnsafeRegex => "unsafe_regex",
            ErrorCode::StringTooLong => "string_too_long",
            ErrorCode::SpecTooLarge => "spec_too_large",
            ErrorCode::ValueTypeMismatch => "value_type_mismatch",
            ErrorCode::ValueNotAllowed => "value_not_allowed",
            ErrorCode::InvalidFieldComparison => "invalid_field_comparison",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One step of a [`SpecError`] path: an object key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum PathSegment {
    /// An object key, such as `"conditions"` or `"val"`.
    Key(String),
    /// A list index.
    Index(usize),
}

/// Formats a path the way the legacy validator did: `<root>.conditions[2].val`.
pub fn display_path(path: &[PathSegment]) -> String {
    let mut out = String::from("<root>");
    for segment in path {
        match segment {
            PathSegment::Key(key) => {
                out.push('.');
                out.push_str(key);
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

/// An error in a specification or in query options.
///
/// ```
/// use cqrs_mongo_spec::{compile, ErrorCode};
/// let spec = serde_json::json!({"op": "and", "conditions": [
///     {"op": "=", "attr": "a", "val": 1},
///     {"op": "between", "attr": "qty", "val": "ten"},
/// ]});
/// let err = compile(&spec).unwrap_err();
/// assert_eq!(err.code(), ErrorCode::InvalidValue);
/// assert_eq!(err.path_string(), "<root>.conditions[1].val");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("at {}: {message}", display_path(.path))]
pub struct SpecError {
    code: ErrorCode,
    path: Vec<PathSegment>,
    message: String,
}

impl SpecError {
    /// Creates an error; mostly useful to the bindings and to tests.
    pub fn new(code: ErrorCode, path: Vec<PathSegment>, message: impl Into<String>) -> Self {
        SpecError { code, path, message: message.into() }
    }

    /// The stable error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// Where in the spec (or, starting with `"options"`, in the options) the error is.
    pub fn path(&self) -> &[PathSegment] {
        &self.path
    }

    /// The path as `<root>.conditions[2].val`.
    pub fn path_string(&self) -> String {
        display_path(&self.path)
    }

    /// The human-readable explanation, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_shows_path_and_message() {
        let err = SpecError::new(
            ErrorCode::InvalidValue,
            vec![PathSegment::Key("conditions".into()), PathSegment::Index(2), PathSegment::Key("val".into())],
            "between expects a list of two values, got a string",
        );
        assert_eq!(err.to_string(), "at <root>.conditions[2].val: between expects a list of two values, got a string");
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn serializes_path_as_keys_and_numbers() {
        let err =
            SpecError::new(ErrorCode::TooDeep, vec![PathSegment::Key("condition".into()), PathSegment::Index(0)], "x");
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["code"], "too_deep");
        assert_eq!(json["path"], serde_json::json!(["condition", 0]));
    }
}
