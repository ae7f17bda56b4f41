//! Patterns a backtracking engine (MongoDB's PCRE, Python's `re`) can take exponential time
//! on: a quantified expression inside another unbounded quantifier (`(a+)+`, `(\w+\s?)*`), and
//! an unbounded quantifier over alternatives that can start with the same character (`(a|ab)*`,
//! `(\d|\w)+`). The pattern is parsed with fancy-regex's PCRE-like parser (its tree keeps every
//! construct, lookaround and backreferences included); single-character classes are resolved
//! to character ranges ([`char_class`]) to decide overlaps.
//!
//! The analysis is conservative in one direction only: a refused pattern really has one of
//! these shapes. Atomic groups and possessive quantifiers cannot backtrack into and are exempt.
//! Polynomial shapes (`.*.*x`, `\d+\d+$`) are accepted: their cost grows with a power of the
//! input length, not exponentially.

use fancy_regex::Expr;

use super::char_class::{self, Class, Ranges};

/// Why `pattern` can backtrack catastrophically, or `None`. A pattern that does not parse is
/// `None` here (the syntax check reports it).
pub(crate) fn backtracking_risk(pattern: &str) -> Option<String> {
    let tree = fancy_regex::Expr::parse_tree(&pcre_classes(pattern)).ok()?;
    risk(&tree.expr)
}

/// `pattern` with the class escapes PCRE and fancy-regex read differently replaced by a class
/// the analysis leaves unknown: PCRE's `\h` is horizontal space (fancy-regex: a hex digit), its
/// `\v` vertical space (fancy-regex: the one character VT).
fn pcre_classes(pattern: &str) -> std::borrow::Cow<'_, str> {
    if !pattern.contains(['h', 'H', 'v', 'V']) {
        return pattern.into();
    }
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '\\' {
            match chars.next() {
                Some('h' | 'H' | 'v' | 'V') => out.push_str("pZ"),
                Some(next) => out.push(next),
                None => {}
            }
        }
    }
    out.into()
}

fn risk(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Repeat { child, hi, .. } => {
            if *hi > 1 {
                if let Some(inner) = repeated_inside(child)
                    && (*hi == usize::MAX || inner == usize::MAX)
                {
                    return Some(
                        "a repeated group contains another repetition (as in (a+)+): it can take exponential time"
                            .into(),
                    );
                }
                if *hi == usize::MAX && overlapping_alternatives(child) {
                    return Some(
                        "a repetition over alternatives that can start alike (as in (a|ab)*): it can take exponential time"
                            .into(),
                    );
                }
            }
            risk(child)
        }
        Expr::Concat(items) | Expr::Alt(items) => items.iter().find_map(risk),
        Expr::Group(inner) => risk(inner),
        Expr::LookAround(inner, _) => risk(inner),
        // Nothing inside an atomic group is backtracked into.
        Expr::AtomicGroup(_) => None,
        _ => None,
    }
}

/// The largest `hi` of a repetition inside `expr` that can match more than once and consumes
/// input, outside atomic groups; `None` when there is none.
fn repeated_inside(expr: &Expr) -> Option<usize> {
    match expr {
        Expr::Repeat { child, hi, .. } => {
            let here = (*hi > 1 && consumes(child)).then_some(*hi);
            here.into_iter().chain(repeated_inside(child)).max()
        }
        Expr::Concat(items) | Expr::Alt(items) => items.iter().filter_map(repeated_inside).max(),
        Expr::Group(inner) => repeated_inside(inner),
        Expr::LookAround(inner, _) => repeated_inside(inner),
        _ => None,
    }
}

/// Whether `expr` always consumes at least one character.
fn consumes(expr: &Expr) -> bool {
    match expr {
        Expr::Any { .. } | Expr::Delegate { .. } | Expr::GeneralNewline { .. } => true,
        Expr::Literal { val, .. } => !val.is_empty(),
        Expr::LiteralBytes { bytes, .. } => !bytes.is_empty(),
        Expr::Concat(items) => items.iter().any(consumes),
        Expr::Alt(items) => items.iter().all(consumes),
        Expr::Group(inner) => consumes(inner),
        Expr::AtomicGroup(inner) => consumes(inner),
        Expr::Repeat { child, lo, .. } => *lo > 0 && consumes(child),
        _ => false,
    }
}

/// Whether an alternation directly under a repetition has two branches that can begin with
/// the same character (or a branch that can match nothing, which overlaps every other).
fn overlapping_alternatives(expr: &Expr) -> bool {
    match expr {
        Expr::Group(inner) => overlapping_alternatives(inner),
        Expr::Alt(branches) => {
            let firsts: Vec<Option<Ranges>> = branches.iter().map(first_chars).collect();
            firsts.iter().enumerate().any(|(i, a)| {
                firsts[i + 1..].iter().any(|b| match (a, b) {
                    (Some(a), Some(b)) => a.intersects(b),
                    // Unknown first characters (a backreference, an empty branch): assume overlap.
                    _ => true,
                })
            })
        }
        _ => false,
    }
}

/// The characters `expr` can begin with; `None` when unknown (or when it can match nothing).
fn first_chars(expr: &Expr) -> Option<Ranges> {
    match expr {
        Expr::Any { .. } | Expr::GeneralNewline { .. } => Some(Ranges::any()),
        Expr::Literal { val, casei } => val.chars().next().map(|c| Ranges::of_char(c, *casei)),
        Expr::Delegate { inner, casei, .. } => class_ranges(inner, *casei),
        Expr::Group(inner) => first_chars(inner),
        Expr::AtomicGroup(inner) => first_chars(inner),
        Expr::Concat(items) => {
            // Skip leading zero-width assertions; an optional item adds its own first characters.
            let mut acc: Option<Ranges> = None;
            for item in items {
                if matches!(item, Expr::Assertion(_)) {
                    continue;
                }
                let here = first_chars(item)?;
                acc = Some(match acc {
                    Some(acc) => acc.union(here),
                    None => here,
                });
                if consumes(item) {
                    return acc;
                }
            }
            None
        }
        Expr::Alt(branches) => {
            branches.iter().map(first_chars).try_fold(Ranges::default(), |acc, b| Some(acc.union(b?)))
        }
        Expr::Repeat { child, .. } => first_chars(child),
        _ => None,
    }
}

/// The characters of a class (`[a-z]`, `\d`); `None` when they are not resolved, which is
/// always the case for a case-insensitive class.
fn class_ranges(class: &str, case_insensitive: bool) -> Option<Ranges> {
    match char_class::read(class) {
        Class::Known(ranges) if !case_insensitive => Some(ranges),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::backtracking_risk;

    #[test]
    fn catastrophic_shapes_are_refused() {
        for pattern in [
            "(a+)+$",
            "^(a+)+$",
            "(a*)*b",
            "(\\w+\\s?)*$",
            "((ab)*)+",
            "(a|a)*b",
            "(a|ab)*c",
            "(\\d|\\w)+x",
            "(?i)(A|a)+$",
            "(.*a){2,}",
            "([a-z]+)*@",
            "(x+x+)+y",
            "^(([a-z])+.)+[A-Z]([a-z])+$",
            "(?=(a+)+)b",
            // PCRE's \v is vertical space and holds \n, its \h horizontal space and holds \t.
            "(\\v|\\n)+$",
            "(\\h|\\t)+$",
            "([\\h]|\\t)+$",
            // PCRE reads `&&` in a class as characters.
            "([a&&b]|&)+$",
        ] {
            assert!(backtracking_risk(pattern).is_some(), "{pattern} should be refused");
        }
    }

    #[test]
    fn linear_and_polynomial_patterns_pass() {
        for pattern in [
            "^abc",
            "a+b+c+",
            "^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$",
            "(ab)+",
            "(a|b)*c",
            "(cat|dog)+",
            "\\d+\\d+$",
            ".*.*x",
            "(a{1,3}){1,3}",
            "(?>a+)+b",
            "(a++)+b",
            "^urgent",
            "(\\d{3}-)?\\d{4}",
            "x(a|b|c)*y",
            "([a-c]|[d-f])+$",
            "([[:digit:]]|[[:alpha:]])+$",
            "(\\\\h|a)+$",
        ] {
            assert_eq!(backtracking_risk(pattern), None, "{pattern} should pass");
        }
    }

    #[test]
    fn unparsable_patterns_are_left_to_the_syntax_check() {
        assert_eq!(backtracking_risk("(a+"), None);
    }
}
