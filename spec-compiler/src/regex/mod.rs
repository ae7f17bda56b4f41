//! The checks a user's regular expression gets before it goes to MongoDB, which runs it with
//! PCRE: the syntax check ([`regex_problem`]), the backtracking analysis
//! ([`backtracking_risk`]), and the character classes both read as PCRE does ([`char_class`]).

mod backtracking;
pub(crate) mod char_class;
#[cfg(test)]
mod oracle;

pub(crate) use backtracking::backtracking_risk;

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
