//! Pattern operators: `like` `not_like` `ilike`, `(i)contains`, `(i)startswith`,
//! `(i)endswith`, `regex` `iregex`. Literal text is escaped exactly like Python's `re.escape`.

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
        if let Some(problem) = crate::regex::regex_problem(&text) {
            cx.error(ErrorCode::InvalidRegex, format!("invalid regular expression: {problem}"));
            return None;
        }
        if !policy.allow_backtracking
            && let Some(risk) = crate::regex::backtracking_risk(&text)
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
}
