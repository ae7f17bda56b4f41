//! The golden corpus must exercise every operator name, every alias and every error code.

use std::collections::BTreeSet;
use std::path::Path;

use cqrs_mongo_spec::{ErrorCode, Operator};
use serde_json::Value;

fn collect(dir: &Path, cases: &mut Vec<Value>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, cases);
        } else if path.extension().is_some_and(|e| e == "json") && path.file_name() != Some("dataset.json".as_ref()) {
            cases.push(serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap());
        }
    }
}

fn ops_in(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(op)) = map.get("op") {
                out.insert(op.to_ascii_lowercase());
            }
            for child in map.get("conditions").and_then(Value::as_array).into_iter().flatten() {
                ops_in(child, out);
            }
            if let Some(child) = map.get("condition") {
                ops_in(child, out);
            }
        }
        Value::String(text) => {
            if let Ok(parsed) = serde_json::from_str::<Value>(text) {
                ops_in(&parsed, out);
            }
        }
        _ => {}
    }
}

fn corpus() -> Vec<Value> {
    let mut cases = Vec::new();
    collect(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden"), &mut cases);
    cases
}

#[test]
fn every_operator_and_alias_appears_in_a_golden_case() {
    let mut used = BTreeSet::new();
    for case in corpus() {
        ops_in(&case["spec"], &mut used);
    }
    let missing: Vec<&str> = Operator::ALL
        .iter()
        .flat_map(|op| std::iter::once(op.name()).chain(op.aliases().iter().copied()))
        .filter(|name| !used.contains(*name))
        .collect();
    assert!(missing.is_empty(), "operators or aliases without a golden case: {missing:?}");
}

#[test]
fn every_error_code_appears_in_a_golden_error_case() {
    let codes: BTreeSet<String> =
        corpus().iter().filter_map(|case| case.get("error")?.get("code")?.as_str().map(str::to_owned)).collect();
    let missing: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).filter(|c| !codes.contains(*c)).collect();
    assert!(missing.is_empty(), "error codes without a golden case: {missing:?}");
    let unknown: Vec<&String> =
        codes.iter().filter(|c| !ErrorCode::ALL.iter().any(|k| k.as_str() == c.as_str())).collect();
    assert!(unknown.is_empty(), "golden cases use codes the compiler does not have: {unknown:?}");
}
