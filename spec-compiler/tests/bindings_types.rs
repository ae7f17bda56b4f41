//! The npm package's TypeScript declarations and the pip package's typing list the operator
//! names, error codes and field types by hand; this test holds them to the Rust definitions, so
//! they are never typed twice differently.

use std::collections::BTreeSet;

use cqrs_mongo_spec::{ErrorCode, FieldType, operators};

/// index.d.ts and the declarations it re-exports (bindings-wasm/types/*.d.ts).
fn declarations() -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../bindings-wasm");
    let mut text = std::fs::read_to_string(format!("{root}/index.d.ts")).expect("bindings-wasm/index.d.ts");
    let mut parts: Vec<_> =
        std::fs::read_dir(format!("{root}/types")).expect("bindings-wasm/types").flatten().map(|e| e.path()).collect();
    parts.sort();
    for part in parts {
        text.push_str(&std::fs::read_to_string(&part).unwrap());
    }
    text
}

fn python_package() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../bindings-python/python/cqrs_mongo_spec/__init__.py");
    std::fs::read_to_string(path).expect("bindings-python/python/cqrs_mongo_spec/__init__.py")
}

/// The double-quoted names in the Python `<name>: TypeAlias = Literal[…]`.
fn python_literal(text: &str, name: &str) -> BTreeSet<String> {
    let start = text
        .find(&format!("{name}: TypeAlias = Literal["))
        .unwrap_or_else(|| panic!("no {name}: TypeAlias = Literal["));
    let body = &text[start..start + text[start..].find(']').expect("a ] ends the Literal")];
    body.split('"').skip(1).step_by(2).map(str::to_owned).collect()
}

fn rust_codes() -> BTreeSet<String> {
    ErrorCode::ALL.iter().map(|c| c.as_str().to_owned()).collect()
}

fn rust_field_types() -> BTreeSet<String> {
    let names: BTreeSet<String> =
        FieldType::ALL.iter().map(|t| serde_json::to_value(t).unwrap().as_str().expect("a name").to_owned()).collect();
    assert_eq!(names.len(), FieldType::ALL.len());
    names
}

#[test]
fn field_types_are_the_rust_field_types_in_typescript_and_python() {
    assert_eq!(quoted_in(&declarations(), "FieldType"), rust_field_types());
    assert_eq!(python_literal(&python_package(), "FieldType"), rust_field_types());
    // Every listed type is one a schema accepts.
    for name in rust_field_types() {
        let field = serde_json::json!({"name": "f", "type": name, "items": (name == "array").then_some("string")});
        let schema = serde_json::json!({"fields": [field]});
        assert!(cqrs_mongo_spec::FieldSchema::from_json(&schema).is_ok(), "{name}");
    }
}

#[test]
fn the_python_error_codes_are_exactly_the_rust_codes() {
    assert_eq!(python_literal(&python_package(), "ErrorCode"), rust_codes());
}

/// The single-quoted names in the declaration of `type <name> = …;`.
fn quoted_in(text: &str, name: &str) -> BTreeSet<String> {
    let start = text.find(&format!("type {name} =")).unwrap_or_else(|| panic!("no type {name}"));
    let body = &text[start..start + text[start..].find(';').expect("a ; ends the type")];
    body.split('\'').skip(1).step_by(2).map(str::to_owned).collect()
}

#[test]
fn the_error_code_union_is_exactly_the_rust_codes() {
    assert_eq!(quoted_in(&declarations(), "ErrorCode"), rust_codes());
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
