//! Pattern operators: `like` `not_like` `ilike`, `(i)contains`, `(i)startswith`,
//! `(i)endswith`, `regex` `iregex`. Literal text is escaped exactly like Python's `re.escape`.

use bson::{Bson, Document};

use super::field_op;
use crate::compile::LeafCx;
use crate::diag::bson_type_name;
use crate::error::ErrorCode;
use crate::operator::Operator;

/// Longest accepted `regex` pattern, in bytes.
const MAX_PATTERN_LEN: usize = 4096;

pub(crate) fn compile(op: Operator, field: &str, cx: &mut LeafCx<'_, '_, '_>) -> Option<Document> {
    let text = match cx.value()? {
        Bson::String(text) => text,
        other => {
            cx.error(
                ErrorCode::InvalidValue,
                format!("{:?} expects a string, got {}", op.name(), bson_type_name(&other)),
            );
            return None;
        }
    };
    let (pattern, options) = match op {
        Operator::Contains => (escape(&text), ""),
        Operator::Icontains => (escape(&text), "i"),
        Operator::Startswith => (format!("^{}", escape(&text)), ""),
        Operator::Istartswith => (format!("^{}", escape(&text)), "i"),
        Operator::Endswith => (format!("{}$", escape(&text)), ""),
        Operator::Iendswith => (format!("{}$", escape(&text)), "i"),
        Operator::Like | Operator::NotLike => (like_to_regex(&text), "s"),
        Operator::Ilike => (like_to_regex(&text), "is"),
        _ => {
            if let Some(problem) = regex_problem(&text) {
                cx.error(ErrorCode::InvalidRegex, format!("invalid regular expression: {problem}"));
                return None;
            }
            (text, if op == Operator::Iregex { "i" } else { "" })
        }
    };
    let mut regex = Document::new();
    regex.insert("$regex", pattern);
    regex.insert("$options", options);
    Some(if op == Operator::NotLike {
        field_op(field, "$not", Bson::Document(regex))
    } else {
        let mut outer = Document::new();
        outer.insert(field, regex);
        outer
    })
}

/// Escapes the characters Python 3.7+ `re.escape` escapes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    push_escaped(&mut out, text);
    out
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        if matches!(
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
        ) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// `^` + escaped text with `%` → `.*` and `_` → `.` + `$`.
fn like_to_regex(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    out.push('^');
    for (index, piece) in pattern.split(['%', '_']).enumerate() {
        if index > 0 {
            // The separator that preceded this piece.
            let separator_at = pattern_separator(pattern, index);
            out.push_str(if separator_at == '%' { ".*" } else { "." });
        }
        push_escaped(&mut out, piece);
    }
    out.push('$');
    out
}

/// The `n`-th (1-based) `%` or `_` of the pattern.
fn pattern_separator(pattern: &str, n: usize) -> char {
    pattern.chars().filter(|c| *c == '%' || *c == '_').nth(n - 1).expect("split produced a piece after a separator")
}

/// Why a user regex is refused, if it is. Patterns are checked with a backtracking,
/// PCRE-like parser (lookaround and backreferences are accepted).
fn regex_problem(pattern: &str) -> Option<String> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Some(format!("the pattern is longer than {MAX_PATTERN_LEN} bytes"));
    }
    if pattern.contains('\0') {
        return Some("the pattern contains a NUL byte".to_owned());
    }
    fancy_regex::Regex::new(pattern).err().map(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
