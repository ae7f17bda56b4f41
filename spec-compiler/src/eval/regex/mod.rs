//! Regular expressions with MongoDB's (PCRE's) semantics, without a regex engine dependency:
//! the pattern is checked (`scan.rs`), parsed by fancy-regex with the options as inline flags,
//! compiled to small programs (`program.rs`) and run by a backtracking machine (`vm.rs`) with a
//! step budget. What it does not implement is refused, never guessed. A pattern that is text with
//! wildcards (the like family's: `^AB\-`, `^.*urgent.*$`) skips all of that: it is read once
//! and matched with string operations (`text.rs`), with the machine's answers.
//!
//! PCRE as MongoDB runs it: UTF-8; `.` matches anything but `\n` (any character with `s`); `$`
//! matches at the end or before a final `\n` (before any `\n` with `m`); `^` with `m` matches
//! after a `\n` that does not end the text; `\d`, `\s`, `\w`, `\b` and the POSIX classes are
//! ASCII; `i` folds case for every character (one-to-one case mappings).

mod class;
mod program;
mod scan;
mod text;
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
    engine: Engine,
    /// The pattern and options as written, for equality with a stored regex.
    pattern: String,
    options: String,
    /// Where the regex is in the filter, for a budget error at evaluation.
    path: Vec<crate::error::PathSegment>,
}

/// How a pattern is run.
#[derive(Debug)]
enum Engine {
    /// Text with wildcards (`text.rs`), the like family's patterns: string operations.
    Text(text::Glob),
    /// Anything else: the backtracking machine.
    Machine(Programs),
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
        let engine = match text::Glob::parse(pattern, &flags) {
            Some(glob) => Engine::Text(glob),
            None => Engine::Machine(machine(pattern, &flags, at)?),
        };
        // The path is for a budget error: plain text never runs out of steps.
        let path = match &engine {
            Engine::Text(glob) if !glob.counts_steps() => Vec::new(),
            _ => at.path(),
        };
        Ok(Regex { engine, pattern: pattern.to_owned(), options: options.to_owned(), path })
    }

    /// Whether a stored regex value is this one (a regex operand meets a regex by equality).
    pub(crate) fn equals(&self, pattern: &str, options: &str) -> bool {
        pattern == self.pattern && options == self.options
    }

    /// Whether the pattern matches somewhere in `text`.
    pub(crate) fn is_match(&self, text: &str) -> Result<bool, EvalError> {
        let steps = REGEX_STEP_BUDGET.saturating_add(STEPS_PER_BYTE.saturating_mul(text.len() as u64));
        let budget = &mut vm::Budget::new(steps);
        let found = match &self.engine {
            Engine::Text(glob) => glob.is_match(text, budget),
            Engine::Machine(programs) => vm::search(programs, text, budget),
        };
        found.map_err(|vm::OutOfSteps| {
            EvalError::new(
                EvalErrorCode::RegexTooComplex,
                self.path.clone(),
                format!("the regex took more than {steps} steps on a string of {} bytes", text.len()),
            )
        })
    }
}

/// The programs of the backtracking machine for `pattern` with the option letters `flags`.
fn machine(pattern: &str, flags: &str, at: &At<'_>) -> Result<Programs, EvalError> {
    let unsupported = |what: String| at.error(EvalErrorCode::UnsupportedRegex, what);
    let prepared = scan::prepare(pattern, flags.contains('x')).map_err(|refused| unsupported(refused.0))?;
    let text = if flags.is_empty() { prepared } else { format!("(?{flags}){prepared}") };
    let tree = fancy_regex::Expr::parse_tree(&text)
        .map_err(|err| at.error(EvalErrorCode::InvalidRegex, format!("invalid regex: {err}")))?;
    if let Some(problem) = crate::regex::regex_problem(pattern) {
        return Err(at.error(EvalErrorCode::InvalidRegex, format!("invalid regex: {problem}")));
    }
    Programs::build(&tree.expr).map_err(|what| unsupported(format!("{what} is not supported by the in-memory matcher")))
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

    /// The like family's patterns run as text (`text.rs`) answer as the machine does.
    mod text_against_the_machine {
        use proptest::prelude::*;

        use super::super::*;

        /// Characters where case folding, newlines and escaping differ; the first ones often.
        const ALPHABET: &[char] = &['a', 'A', 'b', 'k', '\u{212a}', 's', '\u{17f}', '\n', '-'];
        const RARE: &[char] = &['B', 'K', 'S', 'é', 'É', 'ß', ' ', '.', '*', '%'];
        /// Pieces of patterns: literal characters, escaped punctuation, `.`, `.*`.
        const PIECES: &[&str] = &["a", "A", "b", "k", "\u{212a}", "s", "\u{17f}", "\n", "\\-", ".", ".*"];
        const RARE_PIECES: &[&str] = &[
            "K", "é", "É", "ß", "%", "_", "&", "~", "#", ",", ":", "\"", "/", "=", "!", "@", ";", "'", "`", " ", "\\.",
            "\\*", "\\+", "\\?", "\\(", "\\)", "\\[", "\\]", "\\{", "\\}", "\\|", "\\^", "\\$", "\\\\", "\\&", "\\~",
            "\\#", "\\ ", "\\\t", "\\\n", "\\\r", "\\\u{b}", "\\\u{c}", "\\/", "\\%", "\\_", "\\!", "\\=", "\\'",
            "\\\"", "\\@", "\\`",
        ];

        fn pattern() -> impl Strategy<Value = String> {
            let piece = prop_oneof![4 => prop::sample::select(PIECES), 1 => prop::sample::select(RARE_PIECES)];
            (any::<bool>(), prop::collection::vec(piece, 0..6), any::<bool>()).prop_map(|(start, pieces, end)| {
                format!("{}{}{}", if start { "^" } else { "" }, pieces.concat(), if end { "$" } else { "" })
            })
        }

        fn text() -> impl Strategy<Value = String> {
            let c = prop_oneof![4 => prop::sample::select(ALPHABET), 1 => prop::sample::select(RARE)];
            prop::collection::vec(c, 0..10).prop_map(|chars| chars.into_iter().collect())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(10_000))]
            #[test]
            fn same_answers(
                pattern in pattern(),
                flags in prop::sample::select(vec!["", "i", "s", "is"]),
                texts in prop::collection::vec(text(), 1..8),
            ) {
                let Some(glob) = text::Glob::parse(&pattern, flags) else { return Ok(()) };
                let programs = machine(&pattern, flags, &At::Root)
                    .unwrap_or_else(|err| panic!("{pattern:?} /{flags}: the machine refuses it: {err}"));
                for text in texts {
                    let by_text = glob.is_match(&text, &mut vm::Budget::new(REGEX_STEP_BUDGET)).ok();
                    let by_machine = vm::search(&programs, &text, &mut vm::Budget::new(REGEX_STEP_BUDGET)).ok();
                    prop_assert_eq!(by_text, by_machine, "{:?} /{} on {:?}", pattern, flags, text);
                }
            }
        }

        #[test]
        fn the_compilers_patterns_take_the_text_path() {
            let compiled = crate::compile(&serde_json::json!({"op": "and", "conditions": [
                {"op": "contains", "attr": "a", "val": "x.y (z)"},
                {"op": "istartswith", "attr": "b", "val": "AB-1"},
                {"op": "endswith", "attr": "c", "val": "-X\n"},
                {"op": "like", "attr": "d", "val": "a%b_c"},
                {"op": "ilike", "attr": "e", "val": "%urgent%"},
                {"op": "not_like", "attr": "f", "val": "100%"},
            ]}))
            .unwrap();
            let text = compiled.to_string();
            let mut seen = 0;
            for condition in compiled.get_array("$and").unwrap() {
                let field = condition.as_document().unwrap().values().next().unwrap().as_document().unwrap();
                let field = field.get_document("$not").unwrap_or(field);
                let (pattern, options) = (field.get_str("$regex").unwrap(), field.get_str("$options").unwrap());
                let flags: String = options.chars().filter(|c| *c != 'u').collect();
                assert!(text::Glob::parse(pattern, &flags).is_some(), "{pattern} /{options} in {text}");
                seen += 1;
            }
            assert_eq!(seen, 6);
        }
    }

    #[test]
    fn a_catastrophic_pattern_runs_out_of_steps() {
        let text = format!("{}!", "a".repeat(40));
        let err = re("^(a|a)*$", "").is_match(&text).unwrap_err();
        assert_eq!(err.code(), EvalErrorCode::RegexTooComplex);
    }
}
