//! The pattern checks against regex-syntax, which they used until the WebAssembly module had to
//! shrink: on generated patterns, every class fancy-regex hands over resolves to the characters
//! regex-syntax gives it wherever PCRE reads the class as regex-syntax does, and the syntax check
//! refuses every pattern regex-syntax's did.
//!
//! Where the two differ, PCRE (what MongoDB runs) decides: `&&`, `--` and `~~` in a class are
//! characters, not set operations, and a `[` in a class opens no nested class (refused in a
//! user's pattern, so the analysis never reads a pattern other than the one MongoDB runs).

use fancy_regex::Expr;
use proptest::prelude::*;
use regex_syntax::ast::ErrorKind;
use regex_syntax::hir::{Class as HirClass, HirKind};

use super::char_class::{self, Class};
use super::regex_problem;

/// What regex-syntax resolves a delegated class to: canonical ranges, or `None` when it does
/// not (as the analysis did: a case-insensitive class, `\d`, `\p{…}` need tables it is built
/// without).
fn oracle_ranges(inner: &str) -> Option<Vec<(u32, u32)>> {
    // The tests' regex-syntax has the Unicode tables (proptest asks for them); the compiler's
    // does not, so a Perl or Unicode class anywhere leaves the class unresolved.
    let ast = regex_syntax::ast::parse::Parser::new().parse(inner).ok()?;
    if regex_syntax::ast::visit(&ast, NeedsTables).is_err() {
        return None;
    }
    let hir = regex_syntax::ParserBuilder::new().build().parse(inner).ok()?;
    let list: Vec<(u32, u32)> = match hir.kind() {
        HirKind::Class(HirClass::Unicode(class)) => class.iter().map(|r| (r.start() as u32, r.end() as u32)).collect(),
        HirKind::Literal(literal) => {
            let c = std::str::from_utf8(&literal.0).ok()?.chars().next()?;
            vec![(c as u32, c as u32)]
        }
        // An empty class is regex-syntax's "fail", a class of no bytes.
        HirKind::Class(HirClass::Bytes(class)) => {
            class.iter().map(|r| (u32::from(r.start()), u32::from(r.end()))).collect()
        }
        _ => vec![(0, 0x10_FFFF)],
    };
    // regex-syntax's canonical form, merged across the surrogate gap as code points.
    let mut merged: Vec<(u32, u32)> = Vec::new();
    for (start, end) in list {
        match merged.last_mut() {
            Some(last) if start <= last.1 + 1 || (last.1 == 0xD7FF && start == 0xE000) => last.1 = end,
            _ => merged.push((start, end)),
        }
    }
    Some(merged)
}

/// A visitor that fails on a class needing Unicode tables.
struct NeedsTables;

impl regex_syntax::ast::Visitor for NeedsTables {
    type Output = ();
    type Err = ();

    fn finish(self) -> Result<(), ()> {
        Ok(())
    }

    fn visit_pre(&mut self, ast: &regex_syntax::ast::Ast) -> Result<(), ()> {
        match ast {
            regex_syntax::ast::Ast::ClassPerl(_) | regex_syntax::ast::Ast::ClassUnicode(_) => Err(()),
            _ => Ok(()),
        }
    }

    fn visit_class_set_item_pre(&mut self, item: &regex_syntax::ast::ClassSetItem) -> Result<(), ()> {
        match item {
            regex_syntax::ast::ClassSetItem::Perl(_) | regex_syntax::ast::ClassSetItem::Unicode(_) => Err(()),
            _ => Ok(()),
        }
    }
}

fn ours(inner: &str) -> Option<Vec<(u32, u32)>> {
    match char_class::read(inner) {
        Class::Known(ranges) => {
            // Ranges are code points; the surrogates (never a character) are left out as regex-syntax does.
            let mut out: Vec<(u32, u32)> = Vec::new();
            for &(start, end) in ranges.pairs() {
                if start <= 0xD7FF && end >= 0xE000 {
                    out.push((start, end));
                } else if (0xD800..=0xDFFF).contains(&start) && (0xD800..=0xDFFF).contains(&end) {
                } else {
                    out.push((
                        start.max(if (0xD800..=0xDFFF).contains(&start) { 0xE000 } else { 0 }),
                        end.min(if (0xD800..=0xDFFF).contains(&end) { 0xD7FF } else { u32::MAX }),
                    ));
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// Whether PCRE and regex-syntax read class `inner` alike: no set operation, no nested class.
fn read_alike(inner: &str) -> bool {
    let nested = inner.match_indices('[').any(|(at, _)| at > 0 && char_class::posix_class(&inner[at + 1..]).is_none());
    // regex-syntax reads `[` as a character where it ends a range.
    let posix_bound = inner.contains("-[:");
    !nested && !posix_bound && !["&&", "--", "~~"].iter().any(|op| inner.contains(op))
}

fn delegates(expr: &Expr, out: &mut Vec<String>) {
    if let Expr::Delegate { inner, .. } = expr {
        out.push(inner.clone());
    }
    expr.children_iter().for_each(|child| delegates(child, out));
}

/// The refusal of the check these replace: fancy-regex's parse, then regex-syntax's first error
/// when it is one of the definite mistakes.
fn oracle_refuses(pattern: &str) -> bool {
    if fancy_regex::Expr::parse_tree(pattern).is_err() {
        return true;
    }
    matches!(
        regex_syntax::ast::parse::Parser::new().parse(pattern).map_err(|e| e.kind().clone()),
        Err(ErrorKind::ClassRangeInvalid
            | ErrorKind::ClassUnclosed
            | ErrorKind::GroupUnclosed
            | ErrorKind::GroupUnopened
            | ErrorKind::RepetitionCountInvalid)
    )
}

const PIECES: &[&str] = &[
    "[",
    "]",
    "^",
    "-",
    "a",
    "b",
    "z",
    "A",
    "0",
    "9",
    "é",
    "\u{10FFFF}",
    ":",
    "&",
    "~",
    "&&",
    "--",
    "~~",
    "\\]",
    "\\-",
    "\\\\",
    "\\[",
    "\\^",
    "\\x41",
    "\\x{7a}",
    "\\x{10FFFF}",
    "\\u0062",
    "\\d",
    "\\W",
    "\\s",
    "\\h",
    "\\p{L}",
    "\\pN",
    "\\n",
    "\\t",
    "[:alpha:]",
    "[:^digit:]",
    "[:word:]",
    "[:punct:]",
    "[:nope:]",
    "{2,1}",
    "{1,2}",
    "(",
    ")",
    "|",
    "*",
    "+",
    "?",
    ".",
    "(?i)",
    "(?=",
    "(?:",
    " ",
];

fn pattern() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..14).prop_map(|pieces| pieces.concat())
}

fn class() -> impl Strategy<Value = String> {
    pattern().prop_map(|body| format!("[{body}]"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_class_resolves_as_regex_syntax_resolves_it(pattern in prop_oneof![class(), pattern()]) {
        if let Ok(tree) = fancy_regex::Expr::parse_tree(&pattern) {
            let mut found = Vec::new();
            delegates(&tree.expr, &mut found);
            for inner in found.into_iter().filter(|inner| read_alike(inner)) {
                prop_assert_eq!(ours(&inner), oracle_ranges(&inner), "class {:?} of {:?}", inner, pattern);
            }
        }
    }

    #[test]
    fn the_syntax_check_refuses_what_regex_syntax_refused(pattern in prop_oneof![class(), pattern()]) {
        let problem = regex_problem(&pattern);
        let mut found = Vec::new();
        if let Ok(tree) = fancy_regex::Expr::parse_tree(&pattern) {
            delegates(&tree.expr, &mut found);
        }
        // Refusals PCRE and regex-syntax disagree on: a class read otherwise, a nested class, a
        // class bounding a range (an error regex-syntax had and the old check did not hold).
        let differ = found.iter().any(|inner| !read_alike(inner))
            || problem.as_deref().is_some_and(|p| p.contains("inside a character class") || p.contains("a class cannot bound"));
        if oracle_refuses(&pattern) {
            prop_assert!(problem.is_some() || differ, "{:?} was refused and is not", pattern);
        } else if problem.is_some() {
            // Otherwise only where regex-syntax stopped earlier, at something PCRE has and it lacks.
            let first = regex_syntax::ast::parse::Parser::new().parse(&pattern);
            prop_assert!(first.is_err() || differ, "{:?} is refused ({:?}) and regex-syntax reads it", pattern, problem);
        }
    }
}

#[test]
fn classes_read_as_pcre_reads_them() {
    let known = |inner: &str| match char_class::read(inner) {
        Class::Known(ranges) => ranges.pairs().to_vec(),
        other => panic!("{inner}: {other:?}"),
    };
    let c = |c: char| c as u32;
    assert_eq!(known("[&&]"), [(c('&'), c('&'))]);
    assert_eq!(known("[a-c&&x]"), [(c('&'), c('&')), (c('a'), c('c')), (c('x'), c('x'))]);
    assert_eq!(known("[--a]"), [(c('-'), c('a'))]);
    assert_eq!(known("[a-c-e]"), [(c('-'), c('-')), (c('a'), c('c')), (c('e'), c('e'))]);
    assert_eq!(known("[]a]"), [(c(']'), c(']')), (c('a'), c('a'))]);
    assert_eq!(known("[^]a]"), [(0, c(']') - 1), (c(']') + 1, c('a') - 1), (c('a') + 1, 0x10_FFFF)]);
    assert_eq!(known("[[:digit:][:^alpha:]x]").len(), 4);
    assert_eq!(known("[\\x41-\\x{5A}]"), [(c('A'), c('Z'))]);
    assert_eq!(known("[a-]"), [(c('-'), c('-')), (c('a'), c('a'))]);
    assert_eq!(char_class::read("[z-a]"), Class::ReversedRange);
    assert_eq!(char_class::read("[\\d-z]"), Class::NonLiteralBound);
    assert_eq!(char_class::read("[a-[:alpha:]]"), Class::NonLiteralBound);
    for unknown in ["\\d", "[\\p{L}a]", "[[a]]", "[a", "[a]b", "[\\q]"] {
        assert_eq!(char_class::read(unknown), Class::Unknown, "{unknown}");
    }
    // A nested class in a pattern is refused; POSIX classes are not.
    assert!(regex_problem("[[a](b+)+]").is_some());
    assert!(regex_problem("[[:alpha:]_]+").is_none());
    assert!(regex_problem("[\\[a]").is_none());
}

#[test]
fn pcre_mistakes_behind_what_regex_syntax_lacks_are_found() {
    // regex-syntax stopped at the look-ahead; the reversed range is PCRE's error all the same.
    assert!(regex_problem("(?=x)[z-a]").is_some());
    assert!(regex_problem("(?<=x)a{3,2}").is_some());
    assert!(oracle_refuses("[z-a]") && !oracle_refuses("(?=x)[z-a]"));
}

proptest! {
    #[test]
    fn classes_listed_in_any_order_read_as_the_sorted_union(list in prop::collection::vec((0u32..300, 0u32..40), 1..200)) {
        let pairs: Vec<(u32, u32)> = list.iter().map(|&(start, len)| (start, start + len)).collect();
        let class: String = pairs.iter().map(|&(a, b)| format!("\\x{{{a:x}}}-\\x{{{b:x}}}")).collect();
        let Class::Known(ranges) = char_class::read(&format!("[{class}]")) else { panic!("{class}") };
        let mut expected: Vec<u32> = pairs.iter().flat_map(|&(a, b)| a..=b).collect();
        expected.sort_unstable();
        expected.dedup();
        let read: Vec<u32> = ranges.pairs().iter().flat_map(|&(a, b)| a..=b).collect();
        prop_assert_eq!(read, expected);
    }
}
