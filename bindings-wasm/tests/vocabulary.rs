//! The error codes of the decompiler and of in-memory evaluation, listed by hand in the npm
//! package's declarations and the pip package's typing, are exactly the Rust codes (as
//! `spec-compiler/tests/bindings_types.rs` holds the compiler's codes), so they are never typed
//! twice differently.

use std::collections::BTreeSet;

use cqrs_mongo_spec::{DecompileErrorCode, EvalErrorCode};

fn rust_codes() -> BTreeSet<String> {
    DecompileErrorCode::ALL.iter().map(|code| code.as_str().to_owned()).collect()
}

fn eval_codes() -> BTreeSet<String> {
    EvalErrorCode::ALL.iter().map(|code| code.as_str().to_owned()).collect()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).expect(path)
}

/// The quoted names between `start` and the first `end` after it.
fn quoted(text: &str, start: &str, end: char, quote: char) -> BTreeSet<String> {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start}"));
    let body = &text[from..from + text[from..].find(end).expect("the declaration ends")];
    body.split(quote).skip(1).step_by(2).map(str::to_owned).collect()
}

#[test]
fn the_typescript_decompile_error_codes_are_the_rust_codes() {
    let declarations = read("bindings-wasm/types/errors.d.ts");
    assert_eq!(quoted(&declarations, "type DecompileErrorCode =", ';', '\''), rust_codes());
}

#[test]
fn the_python_decompile_error_codes_are_the_rust_codes() {
    let package = read("bindings-python/python/cqrs_mongo_spec/__init__.py");
    assert_eq!(quoted(&package, "DecompileErrorCode: TypeAlias = Literal[", ']', '"'), rust_codes());
}

#[test]
fn the_typescript_eval_error_codes_are_the_rust_codes() {
    let declarations = read("bindings-wasm/types/errors.d.ts");
    assert_eq!(quoted(&declarations, "type EvalErrorCode =", ';', '\''), eval_codes());
}

#[test]
fn the_python_eval_error_codes_are_the_rust_codes() {
    let package = read("bindings-python/python/cqrs_mongo_spec/__init__.py");
    assert_eq!(quoted(&package, "EvalErrorCode: TypeAlias = Literal[", ']', '"'), eval_codes());
}
