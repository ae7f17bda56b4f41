//! One pass over JSON text that keeps the path of every value, to find the problems serde_json
//! reports without a path, or not at all: nesting beyond [`MAX_JSON_DEPTH`](super::MAX_JSON_DEPTH),
//! integer literals outside Int64 (serde_json, without its `arbitrary_precision` feature, turns
//! an integer beyond the u64 range into the nearest double without a word), and strings that
//! are not valid Unicode: a `\ud800` escape without its pair (legal JSON, but no Unicode scalar
//! value), or a lone surrogate in the UTF-16 text of a JS or Python string (`marks`).
//!
//! The pass is iterative (no recursion, so no depth can overflow the stack) and only tokenises:
//! it does not check the grammar, which serde_json has done or will report. It stops at the
//! first problem, or at a byte that cannot start a token.

use crate::error::PathSegment;

/// What is wrong at [`Found::path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Problem {
    /// A list or object opened inside [`MAX_JSON_DEPTH`](super::MAX_JSON_DEPTH) others.
    TooDeep,
    /// An integer literal (no fraction, no exponent) outside `[-2^63, 2^63)`.
    IntegerOutOfRange(String),
    /// A lone surrogate code unit in a string; `in_key` when the string is an object key (the
    /// path is then that of the object).
    LoneSurrogate { unit: u16, in_key: bool },
}

/// The first problem in the text, where it is, and the byte offset it starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Found {
    pub(super) problem: Problem,
    pub(super) path: Vec<PathSegment>,
    pub(super) offset: usize,
}

/// An open list or object: the index of its current item, or the text of its current key.
enum Frame {
    List { index: usize },
    Object { key: Option<(usize, usize)>, expects_key: bool },
}

struct Scanner<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
    frames: Vec<Frame>,
    max_depth: usize,
    marks: &'t [Mark],
}

/// A lone surrogate of UTF-16 text, replaced by U+FFFD at `offset` of the UTF-8 text scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Mark {
    pub(super) offset: usize,
    pub(super) unit: u16,
}

/// How a string token ends.
enum StringEnd {
    /// Just past its closing quote.
    At(usize),
    /// At a lone surrogate starting at `offset`.
    Lone { unit: u16, offset: usize },
}

/// The first problem of `text`, if any; `marks` (sorted) are lone surrogates of the original
/// UTF-16 text.
pub(super) fn first_problem(text: &str, max_depth: usize, marks: &[Mark]) -> Option<Found> {
    let mut scanner = Scanner { text, bytes: text.as_bytes(), at: 0, frames: Vec::new(), max_depth, marks };
    scanner.run()
}

impl Scanner<'_> {
    fn run(&mut self) -> Option<Found> {
        while let Some(&byte) = self.bytes.get(self.at) {
            match byte {
                b' ' | b'\t' | b'\n' | b'\r' => self.at += 1,
                b'{' | b'[' => {
                    if self.frames.len() >= self.max_depth {
                        return Some(self.found(Problem::TooDeep, true));
                    }
                    self.frames.push(if byte == b'{' {
                        Frame::Object { key: None, expects_key: true }
                    } else {
                        Frame::List { index: 0 }
                    });
                    self.at += 1;
                }
                b'}' | b']' => {
                    self.frames.pop();
                    self.at += 1;
                }
                b',' => {
                    match self.frames.last_mut() {
                        Some(Frame::List { index }) => *index += 1,
                        Some(Frame::Object { key, expects_key }) => {
                            *key = None;
                            *expects_key = true;
                        }
                        None => {}
                    }
                    self.at += 1;
                }
                b':' => {
                    if let Some(Frame::Object { expects_key, .. }) = self.frames.last_mut() {
                        *expects_key = false;
                    }
                    self.at += 1;
                }
                b'"' => {
                    let start = self.at;
                    let in_key = matches!(self.frames.last(), Some(Frame::Object { expects_key: true, .. }));
                    let end = match self.string_end()? {
                        StringEnd::At(end) => end,
                        StringEnd::Lone { unit, offset } => {
                            let mut found = self.found(Problem::LoneSurrogate { unit, in_key }, !in_key);
                            found.offset = offset;
                            return Some(found);
                        }
                    };
                    if let Some(Frame::Object { key, expects_key: true }) = self.frames.last_mut() {
                        *key = Some((start, end));
                    }
                    self.at = end;
                }
                b'-' | b'0'..=b'9' => {
                    let start = self.at;
                    while self.bytes.get(self.at).is_some_and(|b| is_number_byte(*b)) {
                        self.at += 1;
                    }
                    let literal = &self.text[start..self.at];
                    if is_integer_outside_int64(literal) {
                        self.at = start;
                        return Some(self.found(Problem::IntegerOutOfRange(literal.to_owned()), true));
                    }
                }
                b't' | b'f' | b'n' => {
                    while self.bytes.get(self.at).is_some_and(u8::is_ascii_alphabetic) {
                        self.at += 1;
                    }
                }
                _ => return None,
            }
        }
        None
    }

    /// Where the string starting at `self.at` (its opening quote) ends, or its first lone
    /// surrogate; `None` when it is not terminated or holds a malformed escape.
    fn string_end(&self) -> Option<StringEnd> {
        let mut at = self.at + 1;
        loop {
            match self.bytes.get(at)? {
                b'"' => return Some(StringEnd::At(at + 1)),
                b'\\' if self.bytes.get(at + 1) == Some(&b'u') => {
                    let unit = self.hex4(at + 2)?;
                    match unit {
                        0xD800..=0xDBFF if self.low_surrogate_escape(at + 6) => at += 12,
                        0xD800..=0xDFFF => return Some(StringEnd::Lone { unit, offset: at }),
                        _ => at += 6,
                    }
                }
                b'\\' => at += 2,
                0xEF if !self.marks.is_empty() => match self.marks.binary_search_by_key(&at, |mark| mark.offset) {
                    Ok(index) => return Some(StringEnd::Lone { unit: self.marks[index].unit, offset: at }),
                    Err(_) => at += 1,
                },
                _ => at += 1,
            }
        }
    }

    /// The four hex digits at `at` as a code unit.
    fn hex4(&self, at: usize) -> Option<u16> {
        let digits = self.text.get(at..at + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u16::from_str_radix(digits, 16).ok()
    }

    /// True when `\uDC00`..`\uDFFF` (the second half of a pair) starts at `at`.
    fn low_surrogate_escape(&self, at: usize) -> bool {
        self.bytes.get(at) == Some(&b'\\')
            && self.bytes.get(at + 1) == Some(&b'u')
            && self.hex4(at + 2).is_some_and(|unit| (0xDC00..=0xDFFF).contains(&unit))
    }

    /// The problem at the value starting at `self.at`; `value` is false for an object key,
    /// which is reported at the object holding it.
    fn found(&self, problem: Problem, value: bool) -> Found {
        let open = if value { self.frames.len() } else { self.frames.len().saturating_sub(1) };
        let path = self.frames[..open]
            .iter()
            .filter_map(|frame| match frame {
                Frame::List { index } => Some(PathSegment::Index(*index)),
                Frame::Object { key: Some((start, end)), .. } => Some(PathSegment::Key(self.key(*start, *end))),
                Frame::Object { key: None, .. } => None,
            })
            .collect();
        Found { problem, path, offset: self.at }
    }

    /// The decoded text of the key whose quoted form is `text[start..end]`.
    fn key(&self, start: usize, end: usize) -> String {
        let quoted = &self.text[start..end];
        serde_json::from_str(quoted).unwrap_or_else(|_| quoted.trim_matches('"').to_owned())
    }
}

fn is_number_byte(byte: u8) -> bool {
    matches!(byte, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
}

/// True for an integer literal (optional `-`, digits only) that does not fit in an `i64`.
fn is_integer_outside_int64(literal: &str) -> bool {
    let digits = literal.strip_prefix('-').unwrap_or(literal);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && literal.parse::<i64>().is_err()
}

/// True when the text may hold an integer literal outside Int64: a run of 19 or more digits
/// outside strings (`i64::MAX` has 19). A quick test that lets the path-keeping pass run only
/// for the rare texts that need it.
pub(super) fn may_hold_large_integer(text: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    let mut digits = 0;
    for &byte in text.as_bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'0'..=b'9' => {
                digits += 1;
                if digits >= 19 {
                    return true;
                }
            }
            b'"' => {
                in_string = true;
                digits = 0;
            }
            _ => digits = 0,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of(text: &str, max_depth: usize) -> Option<String> {
        first_problem(text, max_depth, &[]).map(|found| crate::error::display_path(&found.path))
    }

    #[test]
    fn reports_the_first_container_beyond_the_depth() {
        assert_eq!(path_of("[[[]]]", 3), None);
        assert_eq!(path_of("[[[[]]]]", 3).as_deref(), Some("<root>[0][0][0]"));
        assert_eq!(path_of(r#"{"a": 1, "b": [1, {"c": {}}]}"#, 3).as_deref(), Some("<root>.b[1].c"));
        assert_eq!(path_of(r#"[0, "]]]", [[{"\"k\u0041": [5]}]]]"#, 4).as_deref(), Some("<root>[2][0][0].\"kA"));
    }

    #[test]
    fn stops_at_bytes_that_start_no_token() {
        assert_eq!(first_problem("[x, [[[[", 2, &[]), None);
        assert_eq!(first_problem("\"unterminated", 2, &[]), None);
        assert_eq!(first_problem("", 2, &[]), None);
    }

    #[test]
    fn reports_integer_literals_outside_int64_at_their_path() {
        let found = first_problem(r#"{"a": [1, {"b": 18446744073709551616}]}"#, 127, &[]).unwrap();
        assert_eq!(found.problem, Problem::IntegerOutOfRange("18446744073709551616".into()));
        assert_eq!(crate::error::display_path(&found.path), "<root>.a[1].b");
        assert_eq!(first_problem("[9223372036854775807, -9223372036854775808]", 127, &[]), None);
        let below = first_problem("[-9223372036854775809]", 127, &[]).unwrap();
        assert_eq!(below.problem, Problem::IntegerOutOfRange("-9223372036854775809".into()));
        assert_eq!(first_problem("[1e400, 18446744073709551616.5, 1E20, \"18446744073709551616\"]", 127, &[]), None);
        let top = first_problem(" 99999999999999999999", 127, &[]).unwrap();
        assert_eq!((top.path.len(), top.offset), (0, 1));
    }

    #[test]
    fn reports_lone_surrogate_escapes_in_values_and_keys() {
        let lone = |text: &str| {
            let found = first_problem(text, 127, &[]).unwrap();
            (found.problem, crate::error::display_path(&found.path), found.offset)
        };
        let value = Problem::LoneSurrogate { unit: 0xD800, in_key: false };
        assert_eq!(lone(r#"{"val": "ab\ud800"}"#), (value.clone(), "<root>.val".into(), 11));
        assert_eq!(lone(r#"{"val": ["ok", "\ud800\u0041"]}"#).1, "<root>.val[1]");
        let key = Problem::LoneSurrogate { unit: 0xDC00, in_key: true };
        assert_eq!(lone(r#"{"val": {"a": 1, "\udc00": 2}}"#), (key, "<root>.val".into(), 18));
        assert_eq!(lone(r#"[{"\uD800": 1}]"#).1, "<root>[0]");
        assert_eq!(first_problem(r#"["\ud83d\ude00", "\\ud800", "\u00e9"]"#, 127, &[]), None);
        assert_eq!(first_problem(r#"["\ud80"]"#, 127, &[]), None, "a malformed escape is left to serde_json");
    }

    #[test]
    fn reports_marked_lone_surrogates_inside_strings_only() {
        let text = "{\"a\": \"x\u{FFFD}\", \"\u{FFFD}\": 1}";
        let marks = [Mark { offset: 8, unit: 0xDBFF }];
        let found = first_problem(text, 127, &marks).unwrap();
        assert_eq!(found.problem, Problem::LoneSurrogate { unit: 0xDBFF, in_key: false });
        assert_eq!(crate::error::display_path(&found.path), "<root>.a");
        let key = [Mark { offset: 15, unit: 0xDC01 }];
        let found = first_problem(text, 127, &key).unwrap();
        assert_eq!((found.problem, found.path.len()), (Problem::LoneSurrogate { unit: 0xDC01, in_key: true }, 0));
        assert_eq!(first_problem("[1, \u{FFFD}]", 127, &[Mark { offset: 4, unit: 0xD800 }]), None);
    }

    #[test]
    fn the_quick_test_sees_long_digit_runs_outside_strings_only() {
        assert!(!may_hold_large_integer(r#"{"a": 9223372036854775, "b": "18446744073709551616"}"#));
        assert!(!may_hold_large_integer(r#"{"\"18446744073709551616": 1}"#));
        assert!(may_hold_large_integer(r#"{"a": 1234567890123456789}"#));
        assert!(may_hold_large_integer("[0.12345678901234567890]"), "false positives only cost a scan");
    }

    #[test]
    fn offsets_point_at_the_problem() {
        let found = first_problem("[[ [", 2, &[]).unwrap();
        assert_eq!((found.problem, found.offset), (Problem::TooDeep, 3));
    }
}
