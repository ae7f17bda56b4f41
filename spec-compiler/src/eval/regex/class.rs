//! One-character classes as PCRE (without Unicode properties) reads them: `\d`, `\s`, `\w`
//! are ASCII; bracket classes are read by the compiler's `char_class` reader, with the Perl
//! classes inside them spelled as the POSIX classes they equal; a case-insensitive class matches
//! a character when any of its case forms is in the (positive) class.

use crate::regex::char_class::{self, Class as Read, Ranges};

/// A class the matcher tests characters against.
#[derive(Debug, Clone)]
pub(super) struct CharClass {
    /// The class without its negation.
    ranges: Ranges,
    negated: bool,
    casei: bool,
    /// The answers for ASCII, precomputed.
    ascii: u128,
}

impl CharClass {
    /// The class fancy-regex hands over as `inner` (`\d`, `[a-z]`, `[^\n]`), or `None` when it
    /// is not resolved (Unicode properties, an escape the reader does not know).
    pub(super) fn new(inner: &str, casei: bool) -> Option<CharClass> {
        let (text, negated) = match perl(inner) {
            Some(posix) => (posix.to_owned(), false),
            None => {
                let body = inner.strip_prefix('[')?;
                match body.strip_prefix('^') {
                    Some(rest) => (format!("[{}", spell_perl_classes(rest)), true),
                    None => (format!("[{}", spell_perl_classes(body)), false),
                }
            }
        };
        let Read::Known(ranges) = char_class::read(&text) else { return None };
        let mut class = CharClass { ranges, negated, casei, ascii: 0 };
        for c in 0u8..128 {
            if class.test(char::from(c)) {
                class.ascii |= 1 << c;
            }
        }
        Some(class)
    }

    pub(super) fn matches(&self, c: char) -> bool {
        if c.is_ascii() { self.ascii & (1 << c as u32) != 0 } else { self.test(c) }
    }

    fn test(&self, c: char) -> bool {
        self.ranges.intersects(&Ranges::of_char(c, self.casei)) != self.negated
    }
}

/// `\d` `\s` `\w` and their negations as bracket classes.
fn perl(inner: &str) -> Option<&'static str> {
    Some(match inner {
        "\\d" => "[[:digit:]]",
        "\\D" => "[[:^digit:]]",
        "\\s" => "[[:space:]]",
        "\\S" => "[[:^space:]]",
        "\\w" => "[[:word:]]",
        "\\W" => "[[:^word:]]",
        _ => return None,
    })
}

/// The rest of a bracket class (after `[` and `^`) with `\d` … `\W` spelled as POSIX classes
/// (PCRE's `\s` is `[:space:]`, with the vertical tab).
fn spell_perl_classes(body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 16);
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(next) = chars.next() else {
            out.push(c);
            break;
        };
        match perl(&format!("\\{next}")) {
            Some(posix) => out.push_str(&posix[1..posix.len() - 1]),
            None => {
                out.push(c);
                out.push(next);
            }
        }
    }
    out
}

/// Whether `c` is a word character for `\b` (ASCII, as PCRE without Unicode properties).
pub(super) fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether two characters are equal ignoring case (simple one-to-one case mappings).
pub(super) fn same_ignoring_case(a: char, b: char) -> bool {
    fn single(mut chars: impl Iterator<Item = char>) -> Option<char> {
        let first = chars.next()?;
        chars.next().is_none().then_some(first)
    }
    a == b
        || single(a.to_lowercase()).is_some_and(|x| Some(x) == single(b.to_lowercase()))
        || single(a.to_uppercase()).is_some_and(|x| Some(x) == single(b.to_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(inner: &str, casei: bool) -> CharClass {
        CharClass::new(inner, casei).unwrap_or_else(|| panic!("{inner} resolves"))
    }

    #[test]
    fn perl_classes_are_ascii() {
        let digit = class("\\d", false);
        assert!(digit.matches('7') && !digit.matches('٣')); // Arabic-Indic three is not \d in PCRE
        let space = class("\\s", false);
        assert!(space.matches('\u{b}') && space.matches('\r') && !space.matches('\u{a0}'));
        let word = class("\\W", false);
        assert!(word.matches('-') && word.matches('é') && !word.matches('_'));
    }

    #[test]
    fn bracket_classes_with_perl_classes_inside() {
        let c = class("[\\d_-]", false);
        assert!(c.matches('5') && c.matches('_') && c.matches('-') && !c.matches('a'));
        let not_space = class("[^\\s]", false);
        assert!(not_space.matches('x') && !not_space.matches(' '));
        let escaped_backslash = class("[\\\\d]", false);
        assert!(escaped_backslash.matches('\\') && escaped_backslash.matches('d') && !escaped_backslash.matches('1'));
    }

    #[test]
    fn case_insensitive_classes_fold_before_negating() {
        let upper = class("[A-C]", true);
        assert!(upper.matches('b') && !upper.matches('d'));
        let not_a = class("[^a]", true);
        assert!(!not_a.matches('A') && !not_a.matches('a') && not_a.matches('b'));
        assert!(class("[é]", true).matches('É'));
    }

    #[test]
    fn unicode_properties_are_not_resolved() {
        assert!(CharClass::new("\\p{l}", false).is_none());
        assert!(CharClass::new("[\\p{L}a]", false).is_none());
    }

    #[test]
    fn case_folding_of_single_characters() {
        assert!(same_ignoring_case('k', 'K') && same_ignoring_case('\u{212A}', 'k')); // Kelvin sign
        assert!(same_ignoring_case('ſ', 's') && !same_ignoring_case('a', 'b'));
    }
}
