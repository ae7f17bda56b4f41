//! Input the compiler reads before it sees a spec: JSON text, parsed with exact errors, and the
//! rules the npm and pip packages apply when they turn JS and Python values into the same JSON.
//!
//! serde_json parses at most [`MAX_JSON_DEPTH`] nested lists and objects and reports the 128th
//! as a syntax error without a path; it turns an integer literal beyond the u64 range into a
//! double; it reports a `\ud800` escape without its pair as a syntax error. Here every such
//! problem becomes a typed [`SpecError`] with the path of the offending value, found by one
//! iterative pass over the text; the JS and Python conversions apply the same rules, so a spec
//! fails the same way whatever its form. JS and Python strings are UTF-16 at heart and may hold
//! lone surrogates, which UTF-8 cannot: [`parse_json_utf16`] takes their code units as they are.
//!
//! Documents to evaluate a filter on arrive the same way, as Extended JSON:
//! [`document_from_extended_json`] reads their text straight into BSON.

mod document;
mod scan;

use serde_json::Value;

pub use document::{bson_from_extended_json, bson_from_json, document_from_extended_json};

use crate::error::{ErrorCode, PathSegment, SpecError};
use scan::{Found, Mark, Problem};

/// The most lists and objects that may be open around a value (serde_json's recursion limit):
/// the 128th nested list or object is `too_deep`, at its own path.
pub const MAX_JSON_DEPTH: usize = 127;

/// Parses a specification given as JSON text. Syntax errors are `invalid_json`; nesting beyond
/// [`MAX_JSON_DEPTH`] is `too_deep` at the path of the first list or object too many; an
/// integer literal (no fraction, no exponent) outside Int64 is `invalid_value` at its path; so is
/// a string holding a lone surrogate escape (`"\ud800"`: legal JSON, but not Unicode), at the
/// path of the string, or of the object for a key. These input errors come before any error of
/// the spec itself.
///
/// ```
/// let err = cqrs_mongo_spec::parse_json(&format!("{{\"val\": {}1{}}}", "[".repeat(200), "]".repeat(200))).unwrap_err();
/// assert_eq!(err.code(), cqrs_mongo_spec::ErrorCode::TooDeep);
/// assert_eq!(err.path().len(), 127);
/// ```
pub fn parse_json(text: &str) -> Result<Value, SpecError> {
    parse(text, &[])
}

/// Parses query options given as JSON text; error paths start with `"options"`.
pub fn parse_options_json(text: &str) -> Result<Value, SpecError> {
    parse(text, &options_root())
}

/// [`parse_json`] for text given as UTF-16 code units (a JS or Python string), which may hold
/// lone surrogates: inside a string they are `invalid_value` at its path, as their escapes are.
pub fn parse_json_utf16(units: &[u16]) -> Result<Value, SpecError> {
    parse_utf16(units, &[])
}

/// [`parse_options_json`] for text given as UTF-16 code units.
pub fn parse_options_json_utf16(units: &[u16]) -> Result<Value, SpecError> {
    parse_utf16(units, &options_root())
}

/// The `invalid_value` error of a string (or, with `in_key`, an object key) holding the lone
/// surrogate `unit`: at the path of the string, or of the object holding the key.
pub fn lone_surrogate(path: Vec<PathSegment>, unit: u16, in_key: bool) -> SpecError {
    let what = if in_key { "an object key" } else { "a string" };
    SpecError::new(
        ErrorCode::InvalidValue,
        path,
        format!("{what} that is not valid Unicode: lone surrogate \\u{unit:04x}"),
    )
}

/// The first code unit of `units` that is a surrogate without its pair.
pub fn first_lone_surrogate(units: &[u16]) -> Option<u16> {
    char::decode_utf16(units.iter().copied()).find_map(|decoded| decoded.err().map(|err| err.unpaired_surrogate()))
}

fn options_root() -> [PathSegment; 1] {
    [PathSegment::Key("options".to_owned())]
}

fn parse_utf16(units: &[u16], root: &[PathSegment]) -> Result<Value, SpecError> {
    let mut text = String::with_capacity(units.len());
    let mut marks = Vec::new();
    for decoded in char::decode_utf16(units.iter().copied()) {
        match decoded {
            Ok(c) => text.push(c),
            Err(err) => {
                marks.push(Mark { offset: text.len(), unit: err.unpaired_surrogate() });
                text.push(char::REPLACEMENT_CHARACTER);
            }
        }
    }
    parse_marked(&text, root, &marks)
}

/// The `too_deep` error of a list or object nested inside [`MAX_JSON_DEPTH`] others (or of a
/// cyclic JS or Python value), at `path`.
pub fn too_deep(path: Vec<PathSegment>) -> SpecError {
    SpecError::new(
        ErrorCode::TooDeep,
        path,
        format!("the input nests more than {MAX_JSON_DEPTH} lists and objects inside each other (or is cyclic)"),
    )
}

/// The `invalid_value` error of an integer outside Int64 (`literal` is its decimal text), at
/// `path`: in JSON text, a Python `int` or a JS `BigInt`.
pub fn integer_out_of_range(path: Vec<PathSegment>, literal: &str) -> SpecError {
    SpecError::new(ErrorCode::InvalidValue, path, integer_out_of_range_message(literal))
}

pub(crate) fn integer_out_of_range_message(literal: &str) -> String {
    format!("the integer {literal} does not fit in 64 bits (Int64 holds -2^63 to 2^63 - 1)")
}

/// Parses JSON text found inside a spec (a `json` cast); error paths are relative to it.
pub(crate) fn parse_nested(text: &str) -> Result<Value, SpecError> {
    parse(text, &[])
}

fn parse(text: &str, root: &[PathSegment]) -> Result<Value, SpecError> {
    parse_marked(text, root, &[])
}

/// Parses `text`; `marks` are lone surrogates of the UTF-16 original, replaced by U+FFFD in
/// `text`, so the text may never be accepted as it is when there are any.
fn parse_marked(text: &str, root: &[PathSegment], marks: &[Mark]) -> Result<Value, SpecError> {
    let problem = || scan::first_problem(text, MAX_JSON_DEPTH, marks);
    match serde_json::from_str::<Value>(text) {
        Ok(value) if marks.is_empty() && !scan::may_hold_large_integer(text) => Ok(value),
        Ok(value) => match problem() {
            Some(found) => Err(error(found, root)),
            None if marks.is_empty() => Ok(value),
            None => Err(SpecError::new(ErrorCode::InvalidJson, root.to_vec(), "not valid JSON: a lone surrogate")),
        },
        Err(err) => {
            let at = error_offset(text, &err);
            match problem() {
                Some(found) if found.offset < at => Err(error(found, root)),
                _ => Err(SpecError::new(ErrorCode::InvalidJson, root.to_vec(), format!("not valid JSON: {err}"))),
            }
        }
    }
}

fn error(found: Found, root: &[PathSegment]) -> SpecError {
    let path = root.iter().cloned().chain(found.path).collect();
    match found.problem {
        Problem::TooDeep => too_deep(path),
        Problem::IntegerOutOfRange(literal) => integer_out_of_range(path, &literal),
        Problem::LoneSurrogate { unit, in_key } => lone_surrogate(path, unit, in_key),
    }
}

/// The byte offset serde_json stopped at (its column counts bytes from the start of the line).
fn error_offset(text: &str, err: &serde_json::Error) -> usize {
    if err.line() == 0 {
        return text.len();
    }
    let line_start = text.split_inclusive('\n').take(err.line() - 1).map(str::len).sum::<usize>();
    line_start + err.column()
}

/// Whether `value` written as compact JSON would be longer than `limit` bytes. Stops as soon as
/// it is; strings count their UTF-8 bytes and quotes (escapes are not counted), numbers their
/// decimal digits. Recursive down to [`MAX_JSON_DEPTH`] levels (no allocation for the specs one
/// meets), iterative below, so a value nested any depth cannot exhaust the stack.
pub(crate) fn json_len_exceeds(value: &Value, limit: usize) -> bool {
    if limit == usize::MAX {
        return false; // no limit: nothing to count
    }
    let mut left = limit;
    exceeds(value, &mut left, 0)
}

/// Takes `bytes` from `left`; true when they do not fit.
fn take(left: &mut usize, bytes: usize) -> bool {
    match left.checked_sub(bytes) {
        Some(rest) => {
            *left = rest;
            false
        }
        None => true,
    }
}

/// A value's own bytes, not counting its children: brackets, commas, keys with quotes and colon.
#[inline]
fn own_bytes(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => number_len(n),
        Value::String(s) => s.len() + 2,
        Value::Array(items) => 2 + items.len().saturating_sub(1),
        Value::Object(map) => 2 + map.len().saturating_sub(1) + map.keys().map(|key| key.len() + 3).sum::<usize>(),
    }
}

fn exceeds(value: &Value, left: &mut usize, depth: usize) -> bool {
    // Scalars are counted in place and taken from `left` once per container: most of a spec's
    // values are scalars, and this pass runs on every compile of a `Value`.
    #[inline(always)]
    fn scalar(item: &Value) -> Option<usize> {
        match item {
            Value::Null | Value::Bool(true) => Some(4),
            Value::Bool(false) => Some(5),
            Value::Number(n) => Some(number_len(n)),
            Value::String(s) => Some(s.len() + 2),
            Value::Array(_) | Value::Object(_) => None,
        }
    }
    match value {
        Value::Array(items) if depth < MAX_JSON_DEPTH => {
            let mut bytes = 2 + items.len().saturating_sub(1);
            for item in items {
                match scalar(item) {
                    Some(n) => bytes += n,
                    None if exceeds(item, left, depth + 1) => return true,
                    None => {}
                }
            }
            take(left, bytes)
        }
        Value::Object(map) if depth < MAX_JSON_DEPTH => {
            let mut bytes = 2 + map.len().saturating_sub(1);
            for (key, item) in map {
                bytes += key.len() + 3;
                match scalar(item) {
                    Some(n) => bytes += n,
                    None if exceeds(item, left, depth + 1) => return true,
                    None => {}
                }
            }
            take(left, bytes)
        }
        Value::Array(_) | Value::Object(_) => exceeds_iteratively(value, left),
        scalar => take(left, own_bytes(scalar)),
    }
}

fn exceeds_iteratively(value: &Value, left: &mut usize) -> bool {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        if take(left, own_bytes(value)) {
            return true;
        }
        match value {
            Value::Array(items) => pending.extend(items.iter()),
            Value::Object(map) => pending.extend(map.values()),
            _ => {}
        }
    }
    false
}

#[inline]
fn number_len(n: &serde_json::Number) -> usize {
    let digits = |v: u64| v.checked_ilog10().map_or(1, |log| log as usize + 1);
    match (n.as_u64(), n.as_i64()) {
        (Some(u), _) => digits(u),
        (None, Some(i)) => 1 + digits(i.unsigned_abs()),
        _ => n.to_string().len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_is_that_of_compact_json_text() {
        let values = [
            serde_json::json!({"op": "and", "conditions": [{"op": "=", "attr": "a", "val": [1, -20, 3.5, null]}]}),
            serde_json::json!({"k": {"": [true, false, {}, []]}, "é": "ünïcode", "n": 18446744073709551615u64}),
            serde_json::json!("x"),
        ];
        for value in values {
            let len = serde_json::to_string(&value).unwrap().len();
            assert!(!json_len_exceeds(&value, len), "{value} fits in {len} bytes");
            assert!(json_len_exceeds(&value, len - 1), "{value} does not fit in {} bytes", len - 1);
        }
    }

    #[test]
    fn a_value_nested_any_depth_is_sized_without_exhausting_the_stack() {
        let depth = 100_000;
        let mut value = Value::Null;
        for _ in 0..depth {
            value = Value::Array(vec![value]);
        }
        assert!(!json_len_exceeds(&value, 2 * depth + 4));
        assert!(json_len_exceeds(&value, 2 * depth + 3));
        std::mem::forget(value); // dropping it would recurse as deep
    }

    fn failure(text: &str) -> (ErrorCode, String) {
        let err = parse_json(text).unwrap_err();
        (err.code(), err.path_string())
    }

    #[test]
    fn syntax_errors_are_invalid_json_at_the_root() {
        assert_eq!(failure("{\"op\": "), (ErrorCode::InvalidJson, "<root>".into()));
        assert_eq!(failure("[1,]"), (ErrorCode::InvalidJson, "<root>".into()));
        let err = parse_options_json("{").unwrap_err();
        assert_eq!((err.code(), err.path_string()), (ErrorCode::InvalidJson, "<root>.options".into()));
    }

    #[test]
    fn nesting_is_too_deep_at_the_first_container_too_many() {
        let ok = format!("{}{}", "[".repeat(MAX_JSON_DEPTH), "]".repeat(MAX_JSON_DEPTH));
        assert!(parse_json(&ok).is_ok());
        let deep = format!("{{\"a\":\n{}{}}}", "[".repeat(MAX_JSON_DEPTH), "]".repeat(MAX_JSON_DEPTH));
        let (code, path) = failure(&deep);
        assert_eq!(code, ErrorCode::TooDeep);
        assert_eq!(path, format!("<root>.a{}", "[0]".repeat(MAX_JSON_DEPTH - 1)));
    }

    #[test]
    fn integer_literals_outside_int64_are_invalid_value_at_their_path() {
        let err = parse_json(r#"{"op": ">", "attr": "a", "val": {"n": {"m": 18446744073709551616}}}"#).unwrap_err();
        assert_eq!((err.code(), err.path_string().as_str()), (ErrorCode::InvalidValue, "<root>.val.n.m"));
        assert!(err.message().contains("18446744073709551616"), "{}", err.message());
        let err = parse_options_json(r#"{"limit": 9223372036854775808}"#).unwrap_err();
        assert_eq!(err.path_string(), "<root>.options.limit");
        assert!(parse_json("[9223372036854775807, -9223372036854775808, 1e20, 1.5]").is_ok());
        // A syntax error after the integer: the integer comes first in the text.
        let err = parse_json("[18446744073709551616, ]").unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidValue);
    }

    #[test]
    fn lone_surrogates_are_invalid_value_at_the_string_or_the_object_of_the_key() {
        let at = |text: &str| {
            let err = parse_json(text).unwrap_err();
            (err.code(), err.path_string(), err.message().to_owned())
        };
        let (code, path, message) = at(r#"{"op": "=", "attr": "a", "val": "\ud800"}"#);
        assert_eq!((code, path.as_str()), (ErrorCode::InvalidValue, "<root>.val"));
        assert_eq!(message, "a string that is not valid Unicode: lone surrogate \\ud800");
        assert_eq!(at(r#"{"op": "=", "attr": "a\udfff", "val": 1}"#).1, "<root>.attr");
        let (code, path, message) = at(r#"{"op": "=", "attr": "a", "val": {"k": 1, "\udbff": 2}}"#);
        assert_eq!((code, path.as_str()), (ErrorCode::InvalidValue, "<root>.val"));
        assert!(message.starts_with("an object key"), "{message}");
        let err = parse_options_json(r#"{"order_by": ["\ud800"]}"#).unwrap_err();
        assert_eq!(err.path_string(), "<root>.options.order_by[0]");
        assert!(parse_json(r#"{"val": "\ud83d\ude00 \\ud800"}"#).is_ok());
        assert_eq!(at(r#"{"val": "\ud80x"}"#).0, ErrorCode::InvalidJson);
    }

    #[test]
    fn utf16_text_with_raw_lone_surrogates() {
        let utf16 = |text: &str, lone: Option<(usize, u16)>| {
            let mut units: Vec<u16> = text.encode_utf16().collect();
            if let Some((at, unit)) = lone {
                units.insert(at, unit);
            }
            units
        };
        let ok = utf16(r#"{"val": "é😀"}"#, None);
        assert_eq!(parse_json_utf16(&ok).unwrap(), serde_json::json!({"val": "é😀"}));
        let value = utf16(r#"{"val": [1, "x"]}"#, Some((14, 0xD800)));
        let err = parse_json_utf16(&value).unwrap_err();
        assert_eq!((err.code(), err.path_string().as_str()), (ErrorCode::InvalidValue, "<root>.val[1]"));
        let key = utf16(r#"{"val": {"k": 1}}"#, Some((10, 0xDC00)));
        let err = parse_options_json_utf16(&key).unwrap_err();
        assert_eq!((err.code(), err.path_string().as_str()), (ErrorCode::InvalidValue, "<root>.options.val"));
        let outside = utf16("[1, 2]", Some((3, 0xD800)));
        assert_eq!(parse_json_utf16(&outside).unwrap_err().code(), ErrorCode::InvalidJson);
        let escaped = utf16(r#"["\x"]"#, Some((3, 0xD800)));
        assert_eq!(parse_json_utf16(&escaped).unwrap_err().code(), ErrorCode::InvalidJson);
        assert_eq!(first_lone_surrogate(&value), Some(0xD800));
        assert_eq!(first_lone_surrogate(&ok), None);
    }

    #[test]
    fn a_syntax_error_before_the_nesting_wins() {
        let text = format!("[1 2, {}", "[".repeat(300));
        assert_eq!(failure(&text).0, ErrorCode::InvalidJson);
    }
}
