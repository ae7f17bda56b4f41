//! Pattern operators: `like` `not_like` `ilike`, `(i)contains`, `(i)startswith`,
//! `(i)endswith`, `regex` `iregex`. Literal text is escaped exactly like Python's `re.escape`.

use super::char_class;
use crate::compile::LeafCx;
use crate::error::ErrorCode;
use crate::operator::Operator;
use crate::out::Out;

pub(crate) fn compile<W: Out>(op: Operator, field: &str, cx: &mut LeafCx<'_, '_, '_>, w: &mut W) -> Option<()> {
    let text = cx.text(op)?;
    if matches!(op, Operator::Regex | Operator::Iregex) {
        let policy = &cx.config().regex;
        if text.len() > policy.max_len {
            let message = format!("the pattern is {} bytes long; at most {} are allowed", text.len(), policy.max_len);
            cx.error(ErrorCode::RegexTooLong, message);
            return None;
        }
        if let Some(problem) = regex_problem(&text) {
            cx.error(ErrorCode::InvalidRegex, format!("invalid regular expression: {problem}"));
            return None;
        }
        if !policy.allow_backtracking
            && let Some(risk) = super::backtracking::backtracking_risk(&text)
        {
            cx.error(ErrorCode::UnsafeRegex, format!("unsafe regular expression: {risk}"));
            return None;
        }
    }
    let options = match op {
        Operator::Icontains | Operator::Istartswith | Operator::Iendswith | Operator::Iregex => "i",
        Operator::Like | Operator::NotLike => "s",
        Operator::Ilike => "is",
        _ => "",
    };
    w.begin("");
    w.begin(field);
    if op == Operator::NotLike {
        w.begin("$not");
    }
    w.string_with("$regex", |out| write_pattern(op, &text, out));
    w.string("$options", options);
    if op == Operator::NotLike {
        w.end();
    }
    w.end();
    w.end();
    Some(())
}

/// The regular expression for `text` under `op`.
fn write_pattern(op: Operator, text: &str, out: &mut Vec<u8>) {
    match op {
        Operator::Contains | Operator::Icontains => push_escaped(out, text),
        Operator::Startswith | Operator::Istartswith => {
            out.push(b'^');
            push_escaped(out, text);
        }
        Operator::Endswith | Operator::Iendswith => {
            push_escaped(out, text);
            out.push(b'$');
        }
        Operator::Like | Operator::NotLike | Operator::Ilike => push_like(out, text),
        _ => out.extend_from_slice(text.as_bytes()),
    }
}

/// Appends `text` escaped exactly like Python 3.7+ `re.escape` (only ASCII characters are
/// special, so working on bytes keeps UTF-8 intact).
fn push_escaped(out: &mut Vec<u8>, text: &str) {
    for &byte in text.as_bytes() {
        if matches!(
            byte,
            b'(' | b')'
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'?'
                | b'*'
                | b'+'
                | b'-'
                | b'|'
                | b'^'
                | b'$'
                | b'\\'
                | b'.'
                | b'&'
                | b'~'
                | b'#'
                | b' '
                | b'\t'
                | b'\n'
                | b'\r'
                | b'\x0b'
                | b'\x0c'
        ) {
            out.push(b'\\');
        }
        out.push(byte);
    }
}

/// `^` + escaped text with `%` → `.*` and `_` → `.` + `$`.
fn push_like(out: &mut Vec<u8>, pattern: &str) {
    out.push(b'^');
    for piece in pattern.split_inclusive(['%', '_']) {
        match piece.as_bytes().last() {
            Some(b'%') => {
                push_escaped(out, &piece[..piece.len() - 1]);
                out.extend_from_slice(b".*");
            }
            Some(b'_') => {
                push_escaped(out, &piece[..piece.len() - 1]);
                out.push(b'.');
            }
            _ => push_escaped(out, piece),
        }
    }
    out.push(b'$');
}

/// Why a user regex is refused, if it is.
///
/// MongoDB uses PCRE, which no Rust crate implements, so the check is deliberately lenient: a
/// pattern must parse with fancy-regex's PCRE-like parser (lookaround, backreferences, atomic
/// groups, possessive quantifiers; an unclosed group or class is refused there), and must not
/// hold the mistakes that parser lets through and PCRE refuses: a reversed class range such as
/// `[z-a]`, a class bounding a range (`[\d-z]`), a count such as `{2,1}`, a `[` inside a class
/// that opens no POSIX class.
pub(crate) fn regex_problem(pattern: &str) -> Option<String> {
    if pattern.contains('\0') {
        return Some("the pattern contains a NUL byte".to_owned());
    }
    let tree = match fancy_regex::Expr::parse_tree(pattern) {
        Ok(tree) => tree,
        Err(err) => return Some(err.to_string()),
    };
    if let Some(problem) = text_problem(pattern) {
        return Some(problem.to_owned());
    }
    class_problem(&tree.expr).map(str::to_owned)
}

/// A range of a class of `expr` that PCRE refuses (`[z-a]`, `[\\d-z]`).
fn class_problem(expr: &fancy_regex::Expr) -> Option<&'static str> {
    match expr {
        fancy_regex::Expr::Delegate { inner, .. } => match char_class::read(inner) {
            char_class::Class::ReversedRange => Some("invalid character class range, the start must be <= the end"),
            char_class::Class::NonLiteralBound => Some("invalid character class range, a class cannot bound a range"),
            _ => None,
        },
        _ => expr.children_iter().find_map(class_problem),
    }
}

/// What the pattern's text holds that PCRE refuses or reads otherwise than fancy-regex: a count
/// `{m,n}` with `m > n` (PCRE refuses one anywhere, also after another quantifier where
/// fancy-regex reads it as text), and a `[` inside a class that opens no POSIX class (PCRE reads
/// a character, fancy-regex a nested class: the checks would analyse another pattern than the
/// one MongoDB runs).
fn text_problem(pattern: &str) -> Option<&'static str> {
    let bytes = pattern.as_bytes();
    let number = |at: &mut usize| -> Option<u64> {
        let start = *at;
        while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
            *at += 1;
        }
        (*at > start).then(|| pattern[start..*at].parse().unwrap_or(u64::MAX))
    };
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'[' => {
                // A `]` first (after `^`) is a character; the class ends at the next `]`.
                at += 1;
                at += usize::from(bytes.get(at) == Some(&b'^'));
                at += usize::from(bytes.get(at) == Some(&b']'));
                while let Some(&b) = bytes.get(at) {
                    at += 1;
                    match b {
                        b'\\' => at += 1,
                        b']' => break,
                        b'[' => match char_class::posix_class(&pattern[at..]) {
                            Some((len, _)) => at += len,
                            None => return Some("a '[' inside a character class must be escaped as '\\['"),
                        },
                        _ => {}
                    }
                }
            }
            b'{' => {
                at += 1;
                let lo = number(&mut at);
                if bytes.get(at) == Some(&b',') {
                    at += 1;
                    if let (Some(lo), Some(hi), Some(b'}')) = (lo, number(&mut at), bytes.get(at))
                        && lo > hi
                    {
                        return Some("invalid repetition count range, the start must be <= the end");
                    }
                }
            }
            _ => at += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escape(text: &str) -> String {
        let mut out = Vec::new();
        push_escaped(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    fn like_to_regex(text: &str) -> String {
        let mut out = Vec::new();
        push_like(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_python() {
        assert_eq!(escape("AB.1"), "AB\\.1");
        assert_eq!(escape("a b-c"), "a\\ b\\-c");
        assert_eq!(escape("100% done_ok"), "100%\\ done_ok");
        assert_eq!(escape("é&~#"), "é\\&\\~\\#");
        assert_eq!(escape("\t\n\r\x0b\x0c"), "\\\t\\\n\\\r\\\x0b\\\x0c");
    }

    #[test]
    fn like_patterns() {
        assert_eq!(like_to_regex("%urgent%"), "^.*urgent.*$");
        assert_eq!(like_to_regex("under_score"), "^under.score$");
        assert_eq!(like_to_regex("A+B-%"), "^A\\+B\\-.*$");
        assert_eq!(like_to_regex(""), "^$");
        assert_eq!(like_to_regex("_%_"), "^..*.$");
    }

    #[test]
    fn regex_validation() {
        assert!(regex_problem("^(AB|CD)-\\d+$").is_none());
        assert!(regex_problem("(?=ab)a").is_none());
        assert!(regex_problem("(unclosed").is_some());
        assert!(regex_problem("[z-a]").is_some());
        assert!(regex_problem("[abc").is_some());
        assert!(regex_problem("a{2,1}").is_some());
        for pcre in ["(?<!x)y", "(?P<n>x)\\1", "a++", "\\p{L}+", "(?i)abc", "(?>ab)c"] {
            assert!(regex_problem(pcre).is_none(), "{pcre}");
        }
    }
}
