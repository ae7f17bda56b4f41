//! SEMANTICS.md's error-code table is `ErrorCode::ALL`: the same codes, in the same order, each
//! once, so a code added to the compiler cannot go undocumented and the page cannot describe a
//! code the compiler does not have.

use cqrs_mongo_spec::ErrorCode;

const SEMANTICS: &str = include_str!("../SEMANTICS.md");

/// The codes of the `| code | when |` table under `## Error codes`, in table order. A row may
/// name several codes (`` `too_deep` / `too_many_nodes` / `list_too_long` ``).
fn documented_codes() -> Vec<String> {
    let section = SEMANTICS.split("\n## Error codes\n").nth(1).expect("SEMANTICS.md has an `## Error codes` section");
    let section = section.split("\n## ").next().unwrap();
    let mut lines = section.lines().skip_while(|line| !line.starts_with("| code | when |"));
    assert!(lines.next().is_some(), "the section has a `| code | when |` table");
    assert!(lines.next().is_some_and(|line| line.starts_with("|---")), "the table's separator row");
    let mut codes = Vec::new();
    for row in lines.take_while(|line| line.starts_with('|')) {
        let first = row.trim_start_matches('|').split(" | ").next().unwrap();
        let names: Vec<&str> = first.split('`').skip(1).step_by(2).collect();
        assert!(!names.is_empty(), "a row names no code: {row}");
        codes.extend(names.into_iter().map(str::to_owned));
    }
    codes
}

#[test]
fn the_semantics_error_table_lists_every_code_in_declaration_order() {
    let documented = documented_codes();
    let declared: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    let missing: Vec<_> = declared.iter().filter(|code| !documented.iter().any(|d| d == *code)).collect();
    let unknown: Vec<_> = documented.iter().filter(|code| !declared.contains(&code.as_str())).collect();
    assert!(missing.is_empty(), "codes missing from SEMANTICS.md: {missing:?}");
    assert!(unknown.is_empty(), "SEMANTICS.md lists codes ErrorCode::ALL does not have: {unknown:?}");
    assert_eq!(documented, declared, "SEMANTICS.md's table follows ErrorCode::ALL's order, each code once");
}
