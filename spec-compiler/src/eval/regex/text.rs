//! Patterns that are text with wildcards, matched with string operations instead of the
//! backtracking machine: what the compiler emits for `contains`, `startswith`, `endswith` (and
//! their `i…` forms), `like`, `ilike` and `not_like`, and the same shapes written by hand.
//!
//! A pattern qualifies when it is, in full: an optional `^`; characters, escaped punctuation
//! (`\-`, `\.`, `\ `: a backslash before a non-alphanumeric ASCII character takes its special
//! meaning away, in PCRE as in fancy-regex), `.` and — with the `s` option only — `.*`; an
//! optional `$`. Neither `m` (the anchors would be line anchors) nor `x` (whitespace and `#`
//! would mean something else) may be set. The answers are the machine's (SEMANTICS.md), which
//! the tests check on generated patterns and strings:
//!
//! - each character is one token, matching one character: itself, or with `i` any character
//!   equal ignoring case as the machine compares them; `.` matches anything but `\n` (anything
//!   with `s`);
//! - `.*` with `s` matches any text, so the pattern is segments separated by stars, and the
//!   leftmost occurrence of each segment in turn is as good as any other;
//! - `^` anchors at the start; `$` at the end or before a final `\n`; without them the pattern
//!   may start and end anywhere.
//!
//! The tokens compared count against the same step budget as the machine (a search with `i` is
//! a scan over each start position).

use super::class::same_ignoring_case;
use super::vm::{Budget, OutOfSteps};

/// A pattern of text with wildcards.
#[derive(Debug)]
pub(super) struct Glob {
    /// `^`: the first segment starts the text.
    start: bool,
    /// `$`: the last segment ends the text (or precedes its final `\n`).
    end: bool,
    /// The segments between the stars (`.*`); at least one.
    segments: Vec<Segment>,
}

/// The text between two stars: plain characters (searched with `str::find`), or tokens
/// compared one by one.
#[derive(Debug)]
enum Segment {
    Text(String),
    Tokens(Vec<Token>),
}

impl Default for Segment {
    fn default() -> Self {
        Segment::Text(String::new())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    /// A character compared ignoring case.
    Fold(char),
    /// `.` with `s`.
    Any,
    /// `.` without `s`.
    NotNewline,
}

/// The ASCII characters a backslash makes literal in the patterns read here: every
/// non-alphanumeric printable one but `<` and `>` (which the machine refuses: fancy-regex reads
/// them as word boundaries), and the whitespace Python's `re.escape` escapes.
fn escapable(c: char) -> bool {
    (c.is_ascii_punctuation() && c != '<' && c != '>') || matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

impl Glob {
    /// The pattern as text with wildcards, or `None` when the machine has to run it. `flags`
    /// holds the option letters `i m s x` (validated).
    pub(super) fn parse(pattern: &str, flags: &str) -> Option<Glob> {
        let (casei, dotall) = (flags.contains('i'), flags.contains('s'));
        if flags.contains('m') || flags.contains('x') {
            return None;
        }
        let mut chars = pattern.chars().peekable();
        let start = chars.next_if_eq(&'^').is_some();
        let mut end = false;
        let mut segments = vec![Segment::default()];
        while let Some(c) = chars.next() {
            let token = match c {
                '\\' => match chars.next() {
                    Some(next) if escapable(next) => literal(next, casei),
                    _ => return None,
                },
                '.' if chars.peek() == Some(&'*') => {
                    chars.next();
                    if !dotall || matches!(chars.peek(), Some('*' | '+' | '?' | '{')) {
                        return None;
                    }
                    segments.push(Segment::default());
                    continue;
                }
                '.' if dotall => Token::Any,
                '.' => Token::NotNewline,
                '$' if chars.peek().is_none() => {
                    end = true;
                    continue;
                }
                '^' | '$' | '[' | ']' | '(' | ')' | '|' | '?' | '*' | '+' | '{' | '}' => return None,
                c => literal(c, casei),
            };
            segments.last_mut().expect("one segment at least").push(token);
        }
        Some(Glob { start, end, segments })
    }

    /// Whether matching may count steps (and run out of them): some segment is compared token
    /// by token.
    pub(super) fn counts_steps(&self) -> bool {
        self.segments.iter().any(|segment| matches!(segment, Segment::Tokens(_)))
    }

    /// Whether the pattern matches somewhere in `text`.
    pub(super) fn is_match(&self, text: &str, budget: &mut Budget) -> Result<bool, OutOfSteps> {
        if self.matches_to_end(text, budget)? {
            return Ok(true);
        }
        // `$` also matches before a final newline.
        match text.strip_suffix('\n') {
            Some(trimmed) if self.end => self.matches_to_end(trimmed, budget),
            _ => Ok(false),
        }
    }

    /// Whether the pattern matches in `text`, `$` meaning its very end.
    fn matches_to_end(&self, text: &str, budget: &mut Budget) -> Result<bool, OutOfSteps> {
        let segments = &self.segments;
        let len = text.len();
        let [first, rest @ ..] = segments.as_slice() else { return Ok(true) };
        if rest.is_empty() {
            return Ok(match (self.start, self.end) {
                (true, true) => first.match_at(text, 0, budget)? == Some(len),
                (true, false) => first.match_at(text, 0, budget)?.is_some(),
                (false, true) => match suffix_start(text, first.len()) {
                    Some(at) => first.match_at(text, at, budget)?.is_some(),
                    None => false,
                },
                (false, false) => first.find(text, 0, budget)?.is_some(),
            });
        }
        // Two segments or more: stars between them.
        let found = if self.start { first.match_at(text, 0, budget)? } else { first.find(text, 0, budget)? };
        let Some(mut pos) = found else { return Ok(false) };
        let (middle, limit) = match rest.split_last() {
            Some((last, middle)) if self.end => {
                let Some(at) = suffix_start(text, last.len()) else { return Ok(false) };
                if at < pos || last.match_at(text, at, budget)?.is_none() {
                    return Ok(false);
                }
                (middle, at)
            }
            _ => (rest, len),
        };
        // Each segment at its leftmost place after the previous one, before the last one.
        let bounded = &text[..limit];
        for segment in middle {
            match segment.find(bounded, pos, budget)? {
                Some(after) => pos = after,
                None => return Ok(false),
            }
        }
        Ok(true)
    }
}

impl Segment {
    fn push(&mut self, token: Token) {
        match (&mut *self, token) {
            (Segment::Text(text), Token::Char(c)) => text.push(c),
            (Segment::Text(text), _) => {
                let mut tokens: Vec<Token> = text.chars().map(Token::Char).collect();
                tokens.push(token);
                *self = Segment::Tokens(tokens);
            }
            (Segment::Tokens(tokens), _) => tokens.push(token),
        }
    }

    /// How many characters the segment matches.
    fn len(&self) -> usize {
        match self {
            Segment::Text(text) => text.chars().count(),
            Segment::Tokens(tokens) => tokens.len(),
        }
    }

    /// Where the segment ends when it matches `text` from byte `at`.
    fn match_at(&self, text: &str, at: usize, budget: &mut Budget) -> Result<Option<usize>, OutOfSteps> {
        let tokens = match self {
            Segment::Text(literal) => {
                return Ok(text[at..].starts_with(literal.as_str()).then(|| at + literal.len()));
            }
            Segment::Tokens(tokens) => tokens,
        };
        let bytes = text.as_bytes();
        let mut pos = at;
        for token in tokens {
            budget.step()?;
            let (c, width) = match bytes.get(pos) {
                None => return Ok(None),
                Some(&b) if b.is_ascii() => (char::from(b), 1),
                Some(_) => {
                    let c = text[pos..].chars().next().expect("a character starts here");
                    (c, c.len_utf8())
                }
            };
            if !token.accepts(c) {
                return Ok(None);
            }
            pos += width;
        }
        Ok(Some(pos))
    }

    /// Where the leftmost occurrence of the segment from byte `from` of `text` ends.
    fn find(&self, text: &str, from: usize, budget: &mut Budget) -> Result<Option<usize>, OutOfSteps> {
        if let Segment::Text(literal) = self {
            return Ok(find_text(&text[from..], literal).map(|at| from + at + literal.len()));
        }
        let Segment::Tokens(tokens) = self else { unreachable!("text is searched above") };
        let Some(&first) = tokens.first() else { return Ok(Some(from)) };
        // Each start where the first token may match: an ASCII byte it accepts, or any
        // character beyond ASCII (compared in full); continuation bytes start nothing.
        let bytes = text.as_bytes();
        for (at, &b) in bytes.iter().enumerate().skip(from) {
            let candidate = if b.is_ascii() { first.accepts(char::from(b)) } else { b & 0xC0 != 0x80 };
            if candidate && let Some(end) = self.match_at(text, at, budget)? {
                return Ok(Some(end));
            }
        }
        Ok(None)
    }
}

impl Token {
    fn accepts(self, c: char) -> bool {
        match self {
            Token::Char(x) => c == x,
            Token::Fold(x) if c.is_ascii() && x.is_ascii() => c.eq_ignore_ascii_case(&x),
            Token::Fold(x) => same_ignoring_case(c, x),
            Token::Any => true,
            Token::NotNewline => c != '\n',
        }
    }
}

/// Where `needle` first occurs in `haystack`: a scan for its first byte in a short haystack
/// (`str::find` prepares a two-way search, which pays off on long ones only). A match of UTF-8
/// text always starts on a character boundary.
fn find_text(haystack: &str, needle: &str) -> Option<usize> {
    const SHORT: usize = 64;
    let (hay, pin) = (haystack.as_bytes(), needle.as_bytes());
    let Some((&first, rest)) = pin.split_first() else { return Some(0) };
    if hay.len() > SHORT {
        return haystack.find(needle);
    }
    let last_start = hay.len().checked_sub(pin.len())?;
    (0..=last_start).find(|&at| hay[at] == first && &hay[at + 1..at + pin.len()] == rest)
}

/// A character of the pattern, compared ignoring case with `i`.
fn literal(c: char, casei: bool) -> Token {
    if casei { Token::Fold(c) } else { Token::Char(c) }
}

/// The byte where the last `count` characters of `text` start, if it has that many.
fn suffix_start(text: &str, count: usize) -> Option<usize> {
    if count == 0 {
        return Some(text.len());
    }
    text.char_indices().rev().nth(count - 1).map(|(at, _)| at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, flags: &str) -> Glob {
        Glob::parse(pattern, flags).unwrap_or_else(|| panic!("{pattern} is text with wildcards"))
    }

    fn is(pattern: &str, flags: &str, text: &str) -> bool {
        glob(pattern, flags).is_match(text, &mut Budget::new(1_000_000)).ok().unwrap()
    }

    #[test]
    fn the_compilers_patterns_are_read_as_text() {
        assert!(is("smith", "", "Ann Goldsmith") && !is("smith", "", "Ann GoldSmith"));
        assert!(is("^AB\\-", "", "AB-100") && !is("^AB\\-", "", "xAB-100"));
        assert!(is("\\-X$", "", "ZZ-1-X") && is("\\-X$", "", "ZZ-1-X\n") && !is("\\-X$", "", "ZZ-1-X\n\n"));
        assert!(is("^.*urgent.*$", "is", "URGENT: call\nnow") && !is("^.*urgent.*$", "is", "call"));
        assert!(is("^a.c$", "s", "a\nc") && !is("^a.c$", "", "a\nc") && is("^a.c$", "", "abc"));
        assert!(is("^100%\\ done_ok$", "", "100% done_ok"));
        assert!(is("CAFÉ", "i", "un café") && is("^Straſe$", "i", "STRASE"));
        assert!(is("", "", "") && is("^$", "", "\n") && !is("^$", "", "a"));
    }

    #[test]
    fn stars_take_the_leftmost_place_of_each_segment() {
        assert!(is("^a.*b.*c$", "s", "a-c-b-c"));
        assert!(!is("^a.*b.*c$", "s", "a-c-b"));
        assert!(is("^ab.*bc$", "s", "abbc") && !is("^ab.*bc$", "s", "abc"));
        assert!(is("a.*b", "s", "xxa\nyyb") && !is("a.*b", "s", "b a"));
        assert!(is("^.*$", "s", "") && is(".*", "s", "anything"));
        assert!(is("^_.*_$", "is", "_ab_") && is("^é.*É$", "is", "ÉtÉ"));
    }

    #[test]
    fn other_patterns_are_left_to_the_machine() {
        for (pattern, flags) in [
            ("a*", ""),
            (".*", ""),
            ("^.*?x", "s"),
            (".+", "s"),
            ("a|b", ""),
            ("(a)", ""),
            ("[a]", ""),
            ("a{2}", ""),
            ("\\d", ""),
            ("\\w", ""),
            ("a^", ""),
            ("a$b", ""),
            ("^a", "m"),
            ("a", "x"),
            ("\\", ""),
            ("\\é", ""),
            ("\\<", ""),
        ] {
            assert!(Glob::parse(pattern, flags).is_none(), "{pattern} /{flags}");
        }
    }

    #[test]
    fn long_texts_are_searched_too() {
        let long = format!("{}Goldsmith{}", "x".repeat(100), "é".repeat(50));
        assert!(is("smith", "", &long) && !is("smyth", "", &long) && is("^x.*smith.*é$", "s", &long));
        assert!(is("GOLDSMITH", "i", &long) && is("^.*É$", "is", &long) && !is("^.*É$", "s", &long));
    }

    #[test]
    fn case_folding_scans_every_start() {
        assert!(is("aab", "i", "aaAAB"));
        assert!(is("^.*k$", "is", "\u{212a}")); // the Kelvin sign folds to k
        let budget = &mut Budget::new(10);
        assert!(glob("aaaab", "i").is_match(&"a".repeat(100), budget).is_err());
    }
}
