//! Regular expressions with MongoDB's (PCRE's) semantics, without a regex engine dependency:
//! the pattern is checked (`scan.rs`), parsed by fancy-regex with the options as inline flags,
//! compiled to small programs (`program.rs`) and run by a backtracking machine (`vm.rs`) with a
//! step budget. What it does not implement is refused, never guessed.
//!
//! PCRE as MongoDB runs it: UTF-8; `.` matches anything but `\n` (any character with `s`); `$`
//! matches at the end or before a final `\n` (before any `\n` with `m`); `^` with `m` matches
//! after a `\n` that does not end the text; `\d`, `\s`, `\w`, `\b` and the POSIX classes are
//! ASCII; `i` folds case for every character (one-to-one case mappings).

mod class;
mod program;
mod scan;
mod vm;

use super::error::{At, EvalError, EvalErrorCode};
use program::Programs;

/// The steps a regex may take on one string: this plus [`STEPS_PER_BYTE`] × its length.
pub const REGEX_STEP_BUDGET: u64 = 1_000_000;
/// The budget's allowance per byte of the string searched.
pub const STEPS_PER_BYTE: u64 = 16;

/// A compiled regular expression.
#[derive(Debug)]
pub(crate) struct Regex {
    programs: Programs,
    /// The pattern and options as written, for equality with a stored regex.
    pattern: String,
    options: String,
    /// Where the regex is in the filter, for a budget error at evaluation.
    path: Vec<crate::error::PathSegment>,
}

impl Regex {
    /// Compiles `pattern` with MongoDB's `$options` letters (`i m s x`; `u` is accepted, UTF-8
    /// being always on).
    pub(crate) fn new(pattern: &str, options: &str, at: &At<'_>) -> Result<Regex, EvalError> {
        let mut flags = String::new();
        for option in options.chars() {
            match option {
                'i' | 'm' | 's' | 'x' => flags.push(option),
                'u' => {}
                other => return Err(at.invalid(format!("invalid flag in regex options: {other}"))),
            }
        }
        if pattern.contains('\0') {
            return Err(at.error(EvalErrorCode::InvalidRegex, "the pattern contains a NUL byte"));
        }
        let unsupported = |what: String| at.error(EvalErrorCode::UnsupportedRegex, what);
        let prepared = scan::prepare(pattern, flags.contains('x')).map_err(|refused| unsupported(refused.0))?;
        let text = if flags.is_empty() { prepared } else { format!("(?{flags}){prepared}") };
        let tree = fancy_regex::Expr::parse_tree(&text)
            .map_err(|err| at.error(EvalErrorCode::InvalidRegex, format!("invalid regex: {err}")))?;
        if let Some(problem) = crate::regex::regex_problem(pattern) {
            return Err(at.error(EvalErrorCode::InvalidRegex, format!("invalid regex: {problem}")));
        }
        let programs = Programs::build(&tree.expr)
            .map_err(|what| unsupported(format!("{what} is not supported by the in-memory matcher")))?;
        Ok(Regex { programs, pattern: pattern.to_owned(), options: options.to_owned(), path: at.path() })
    }

    /// Whether a stored regex value is this one (a regex operand meets a regex by equality).
    pub(crate) fn equals(&self, stored: &bson::Regex) -> bool {
        stored.pattern.as_str() == self.pattern && stored.options.as_str() == self.options
    }

    /// Whether the pattern matches somewhere in `text`.
    pub(crate) fn is_match(&self, text: &str) -> Result<bool, EvalError> {
        let steps = REGEX_STEP_BUDGET.saturating_add(STEPS_PER_BYTE.saturating_mul(text.len() as u64));
        vm::search(&self.programs, text, &mut vm::Budget::new(steps)).map_err(|vm::OutOfSteps| {
            EvalError::new(
                EvalErrorCode::RegexTooComplex,
                self.path.clone(),
                format!("the regex took more than {steps} steps on a string of {} bytes", text.len()),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(pattern: &str, options: &str) -> Regex {
        Regex::new(pattern, options, &At::Root).unwrap_or_else(|e| panic!("{pattern}: {e}"))
    }

    fn is(pattern: &str, options: &str, text: &str) -> bool {
        re(pattern, options).is_match(text).unwrap()
    }

    #[test]
    fn unanchored_search_and_anchors() {
        assert!(is("urgent", "", "not urgent"));
        assert!(!is("^urgent", "", "not urgent"));
        assert!(is("^.*urgent.*$", "is", "line one\nURGENT follow-up"));
        assert!(!is("^.*urgent.*$", "i", "line one\nurgent follow-up")); // `.` stops at \n
    }

    #[test]
    fn dollar_matches_before_a_final_newline_only() {
        assert!(is("a$", "", "a\n"));
        assert!(!is("a$", "", "a\n\n"));
        assert!(!is("a$", "", "a\nb"));
        assert!(is("a$", "m", "a\nb"));
        assert!(!is("a\\z", "", "a\n"));
        assert!(is("a\\z", "", "xa"));
        assert!(is("a\\Z", "", "a\n"));
    }

    #[test]
    fn multiline_caret() {
        assert!(is("^b", "m", "a\nb"));
        assert!(!is("^b", "", "a\nb"));
        assert!(!is("\\n^", "m", "a\n")); // not after the newline that ends the text
        assert!(is("\\n^", "m", "a\n\n"));
    }

    #[test]
    fn options_case_dotall_extended() {
        assert!(is("CAFÉ", "i", "un café"));
        assert!(is("a.b", "s", "a\nb"));
        assert!(!is("a.b", "", "a\nb"));
        assert!(is("a.b", "", "a\rb"));
        assert!(is("a b c", "x", "abc"));
        assert!(is("^a\\ b$", "x", "a b"));
        assert!(is("[ ]", "x", " ")); // a space in a class is kept in x mode
        assert!(Regex::new("a", "g", &At::Root).is_err());
    }

    #[test]
    fn classes_repetitions_and_alternation() {
        assert!(is("^(AB|CD)-\\d+$", "", "CD-42"));
        assert!(!is("^(AB|CD)-\\d+$", "", "CD-"));
        assert!(is("^a{2,3}$", "", "aaa") && !is("^a{2,3}$", "", "aaaa"));
        assert!(is("^(a|)*b$", "", "aab")); // an empty iteration ends the loop instead of spinning
        assert!(is("^x*?y", "", "xxy"));
        assert!(is("\\bcat\\b", "", "a cat!") && !is("\\bcat\\b", "", "concat"));
        assert!(is("^[[:upper:]]+$", "", "ABC") && !is("^[[:upper:]]+$", "", "AbC"));
        assert!(is("^\\w+$", "", "abc_1") && !is("^\\w+$", "", "café"));
    }

    #[test]
    fn lookahead_and_atomic_groups() {
        assert!(is("^(?=.*\\d)(?=.*[a-z]).+$", "", "abc1"));
        assert!(!is("^(?!.*x)", "", "abx"));
        assert!(!is("^(?>a+)ab", "", "aaab")); // the atomic group keeps every a
        assert!(!is("^a++b?a", "", "aaa"));
        assert!(is("^(?:a+)ab", "", "aaab"));
    }

    #[test]
    fn unsupported_and_invalid_patterns_are_typed_errors() {
        let code = |pattern: &str| Regex::new(pattern, "", &At::Root).unwrap_err().code();
        assert_eq!(code("(a)\\1"), EvalErrorCode::UnsupportedRegex);
        assert_eq!(code("(?<=a)b"), EvalErrorCode::UnsupportedRegex);
        assert_eq!(code("\\p{L}"), EvalErrorCode::UnsupportedRegex);
        assert_eq!(code("(unclosed"), EvalErrorCode::InvalidRegex);
        assert_eq!(code("[z-a]"), EvalErrorCode::InvalidRegex);
    }

    #[test]
    fn a_catastrophic_pattern_runs_out_of_steps() {
        let text = format!("{}!", "a".repeat(40));
        let err = re("^(a|a)*$", "").is_match(&text).unwrap_err();
        assert_eq!(err.code(), EvalErrorCode::RegexTooComplex);
    }
}
