//! The npm package's TypeScript declarations list the operator names and error codes by hand;
//! this test holds them to the Rust definitions, so they are never typed twice differently.

use std::collections::BTreeSet;

use cqrs_mongo_spec::{ErrorCode, operators};

fn declarations() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../bindings-wasm/index.d.ts");
    std::fs::read_to_string(path).expect("bindings-wasm/index.d.ts")
}

/// The single-quoted names in the declaration of `type <name> = …;`.
fn quoted_in(text: &str, name: &str) -> BTreeSet<String> {
    let start = text.find(&format!("type {name} =")).unwrap_or_else(|| panic!("no type {name}"));
    let body = &text[start..start + text[start..].find(';').expect("a ; ends the type")];
    body.split('\'').skip(1).step_by(2).map(str::to_owned).collect()
}

#[test]
fn the_error_code_union_is_exactly_the_rust_codes() {
    let declared = quoted_in(&declarations(), "ErrorCode");
    let rust: BTreeSet<String> = ErrorCode::ALL.iter().map(|c| c.as_str().to_owned()).collect();
    assert_eq!(declared, rust);
}

#[test]
fn the_operator_types_name_exactly_the_rust_operators_and_aliases() {
    let text = declarations();
    let groups = [
        "EqualityOperator",
        "OrderingOperator",
        "RangeOperator",
        "SetOperator",
        "TextMatchOperator",
        "PatternOperator",
        "NullOperator",
        "JsonOperator",
        "GeometryOperator",
        "DistanceOperator",
        "TextOperator",
        "LogicalOperator",
        "UnsupportedOperator",
    ];
    let declared: BTreeSet<String> = groups.iter().flat_map(|group| quoted_in(&text, group)).collect();
    let rust: BTreeSet<String> = operators()
        .iter()
        .flat_map(|op| std::iter::once(op.name.to_string()).chain(op.aliases.iter().map(|a| a.to_string())))
        .collect();
    assert_eq!(declared, rust);
    let aliases: BTreeSet<String> =
        operators().iter().flat_map(|op| op.aliases.iter().map(|a| a.to_string())).collect();
    assert_eq!(quoted_in(&text, "OperatorAlias"), aliases);
}
