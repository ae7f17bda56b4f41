//! `$regex` back into the string operators. A pattern is recovered as `contains`,
//! `startswith`, `endswith` (options `""`, or `"i"` for the `i…` forms), `like` (`"s"`) or
//! `ilike` (`"is"`) exactly when it is the regex the compiler emits for some text: the text
//! escaped as Python's `re.escape` does, `%` → `.*` and `_` → `.` for LIKE. Any other pattern is
//! a `regex` / `iregex` leaf, with the options `s`, `m` and `x` moved into the pattern as an
//! inline flag group (`(?s)`), which PCRE reads the same way; `u` is redundant in MongoDB and dropped.

use super::error::{Loc, Result};
use super::leaf;
use crate::operator::Operator;
use crate::spec::Spec;

/// The characters Python 3.7+ `re.escape` escapes (and the compiler's `esc`).
fn is_escaped(c: char) -> bool {
    matches!(
        c,
        '(' | ')'
            | '['
            | ']'
            | '{'
            | '}'
            | '?'
            | '*'
            | '+'
            | '-'
            | '|'
            | '^'
            | '$'
            | '\\'
            | '.'
            | '&'
            | '~'
            | '#'
            | ' '
            | '\t'
            | '\n'
            | '\r'
            | '\x0b'
            | '\x0c'
    )
}

/// The options of a pattern, as flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Flags {
    i: bool,
    m: bool,
    s: bool,
    x: bool,
}

impl Flags {
    fn parse(options: &str, loc: &Loc<'_>) -> Result<Flags> {
        let mut flags = Flags::default();
        for c in options.chars() {
            match c {
                'i' => flags.i = true,
                'm' => flags.m = true,
                's' => flags.s = true,
                'x' => flags.x = true,
                'u' => {}
                other => {
                    return Err(loc.invalid(format!(
                        "unknown regular expression option {other:?} (MongoDB knows i, m, s, x and u)"
                    )));
                }
            }
        }
        Ok(flags)
    }
}

/// The leaf matching `field` against `pattern` with `options` (`loc` is where the options are).
pub(crate) fn leaf_for(field: &str, pattern: &str, options: &str, loc: &Loc<'_>) -> Result<Spec<'static>> {
    let flags = Flags::parse(options, loc)?;
    let text = |op: Operator, text: String| Ok(leaf(op, field, Some(text.into())));
    let plain = Flags { i: flags.i, ..Flags::default() };
    if flags == plain {
        if let Some(rest) = pattern.strip_prefix('^')
            && let Some(literal) = unescape(rest)
        {
            return text(if flags.i { Operator::Istartswith } else { Operator::Startswith }, literal);
        }
        if let Some(rest) = pattern.strip_suffix('$')
            && let Some(literal) = unescape(rest)
        {
            return text(if flags.i { Operator::Iendswith } else { Operator::Endswith }, literal);
        }
        if let Some(literal) = unescape(pattern) {
            return text(if flags.i { Operator::Icontains } else { Operator::Contains }, literal);
        }
    }
    if flags == (Flags { s: true, ..plain })
        && let Some(like) = like_text(pattern)
    {
        return text(if flags.i { Operator::Ilike } else { Operator::Like }, like);
    }
    text(if flags.i { Operator::Iregex } else { Operator::Regex }, inline(flags, pattern))
}

/// The `not_like` leaf when `$not` holds exactly the regex `not_like` compiles to.
pub(crate) fn not_like(field: &str, pattern: &str, options: &str) -> Option<Spec<'static>> {
    (options == "s").then(|| like_text(pattern)).flatten().map(|like| leaf(Operator::NotLike, field, Some(like.into())))
}

/// `pattern` with the options other than `i` as a leading inline flag group.
fn inline(flags: Flags, pattern: &str) -> String {
    let letters: String = [(flags.m, 'm'), (flags.s, 's'), (flags.x, 'x')]
        .into_iter()
        .filter_map(|(on, letter)| on.then_some(letter))
        .collect();
    if letters.is_empty() { pattern.to_owned() } else { format!("(?{letters}){pattern}") }
}

/// The text whose escaped form is exactly `pattern`, if there is one.
fn unescape(pattern: &str) -> Option<String> {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().filter(|&next| is_escaped(next))?),
            c if is_escaped(c) => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// The LIKE text whose regex (`^` + escaped text with `%` → `.*`, `_` → `.` + `$`) is `pattern`.
fn like_text(pattern: &str) -> Option<String> {
    let body = pattern.strip_prefix('^')?.strip_suffix('$')?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().filter(|&next| is_escaped(next))?),
            '.' if chars.next_if_eq(&'*').is_some() => out.push('%'),
            '.' => out.push('_'),
            // A literal % or _ has no LIKE spelling: the compiler turns them into wildcards.
            '%' | '_' => return None,
            c if is_escaped(c) => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn recovered(pattern: &str, options: &str) -> serde_json::Value {
        leaf_for("f", pattern, options, &Loc::ROOT).unwrap().to_json()
    }

    #[test]
    fn substring_forms_come_back_with_their_text() {
        assert_eq!(recovered("AB\\.1", ""), json!({"op": "contains", "attr": "f", "val": "AB.1"}));
        assert_eq!(recovered("^a\\ b\\-c", "i"), json!({"op": "istartswith", "attr": "f", "val": "a b-c"}));
        assert_eq!(recovered("100%\\ done_ok$", ""), json!({"op": "endswith", "attr": "f", "val": "100% done_ok"}));
        assert_eq!(recovered("", ""), json!({"op": "contains", "attr": "f", "val": ""}));
        assert_eq!(recovered("^", ""), json!({"op": "startswith", "attr": "f", "val": ""}));
        // An escaped dollar at the end is text, not an anchor.
        assert_eq!(recovered("a\\$", ""), json!({"op": "contains", "attr": "f", "val": "a$"}));
    }

    #[test]
    fn like_forms_come_back_with_their_pattern() {
        assert_eq!(recovered("^.*urgent.*$", "s"), json!({"op": "like", "attr": "f", "val": "%urgent%"}));
        assert_eq!(recovered("^under.score$", "is"), json!({"op": "ilike", "attr": "f", "val": "under_score"}));
        assert_eq!(recovered("^A\\+B\\-.*$", "s"), json!({"op": "like", "attr": "f", "val": "A+B-%"}));
        assert_eq!(recovered("^..*.$", "s"), json!({"op": "like", "attr": "f", "val": "_%_"}));
        assert_eq!(recovered("^$", "s"), json!({"op": "like", "attr": "f", "val": ""}));
        assert_eq!(not_like("f", "^a.*$", "s").unwrap().to_json(), json!({"op": "not_like", "attr": "f", "val": "a%"}));
        assert_eq!(not_like("f", "^a.*$", "is"), None);
    }

    #[test]
    fn other_patterns_stay_regular_expressions() {
        assert_eq!(recovered("^abc$", ""), json!({"op": "regex", "attr": "f", "val": "^abc$"}));
        assert_eq!(recovered("a+b", "i"), json!({"op": "iregex", "attr": "f", "val": "a+b"}));
        assert_eq!(recovered("^a%$", "s"), json!({"op": "regex", "attr": "f", "val": "(?s)^a%$"}));
        assert_eq!(recovered("^a.**$", "si"), json!({"op": "iregex", "attr": "f", "val": "(?s)^a.**$"}));
        assert_eq!(recovered("abc", "xmu"), json!({"op": "regex", "attr": "f", "val": "(?mx)abc"}));
        let err = leaf_for("f", "a", "q", &Loc::ROOT).unwrap_err();
        assert_eq!(err.code().as_str(), "invalid_filter");
    }
}
