//! Runs every case in `tests/golden/` as its own named test (`comparison/between_inclusive_bounds`).
//!
//! Expected outputs are canonical Extended JSON, parsed into typed BSON and compared with key
//! order significant, so Int32/Int64/Double/Date/Decimal128 differences fail the test.
//! Every compiling case is also compiled to raw BSON bytes, which must equal the encoded
//! document. Two more tests check that the corpus uses every operator name, alias and error code.
//!
//! Like the Node and Python runners, the spec and options are read from their JSON text as cut
//! out of the file (`raw_members`) with the crate's own parser: loading the whole file with
//! serde_json would turn an integer literal beyond 2^64 into a double before the compiler saw it.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bson::{Bson, RawDocumentBuf};
use cqrs_mongo_spec::{
    CompiledQuery, Compiler, CompilerConfig, ErrorCode, ExtJsonFormat, Operator, SpecError, parse_json,
    parse_options_json,
};
use libtest_mimic::{Arguments, Failed, Trial};

use serde_json::Value;
use support::{case_files, case_name, golden_dir, same};

fn main() {
    let args = Arguments::from_args();
    let files = case_files();
    assert!(files.len() >= 200, "expected at least 200 golden cases, found {}", files.len());
    let mut trials: Vec<Trial> = files
        .iter()
        .cloned()
        .map(|path| {
            let name = case_name(&path);
            Trial::test(name, move || run_case(&path))
        })
        .collect();
    let for_ops = files.clone();
    trials.push(Trial::test("coverage/every_operator_and_alias", move || operators_covered(&for_ops)));
    let for_codes = files.clone();
    trials.push(Trial::test("coverage/every_error_code", move || error_codes_covered(&for_codes)));
    trials.push(Trial::test("coverage/compatibility_page_cites_the_legacy_cases", move || compatibility_cited(&files)));
    libtest_mimic::run(&args, trials).exit();
}

fn load(path: &Path) -> Result<Value, Failed> {
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

fn operators_covered(files: &[PathBuf]) -> Result<(), Failed> {
    let mut used = BTreeSet::new();
    for path in files {
        ops_in(&load(path)?["spec"], &mut used);
    }
    let missing: Vec<&str> = Operator::ALL
        .iter()
        .flat_map(|op| std::iter::once(op.name()).chain(op.aliases().iter().copied()))
        .filter(|name| !used.contains(*name))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("operators or aliases without a golden case: {missing:?}").into())
    }
}

/// Operator names used anywhere in a spec (JSON-text specs are parsed first).
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

fn error_codes_covered(files: &[PathBuf]) -> Result<(), Failed> {
    let mut codes = BTreeSet::new();
    for path in files {
        if let Some(code) = load(path)?.get("error").and_then(|e| e.get("code")).and_then(Value::as_str) {
            codes.insert(code.to_owned());
        }
    }
    let missing: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).filter(|c| !codes.contains(*c)).collect();
    let unknown: Vec<&String> =
        codes.iter().filter(|c| !ErrorCode::ALL.iter().any(|k| k.as_str() == c.as_str())).collect();
    if missing.is_empty() && unknown.is_empty() {
        Ok(())
    } else {
        Err(format!("error codes without a golden case: {missing:?}; codes the compiler lacks: {unknown:?}").into())
    }
}

/// The raw JSON text of each top-level member of an object, without parsing numbers (a port of
/// `rawMembers` in bindings-wasm/test/golden.test.mjs).
fn raw_members(text: &str) -> std::collections::HashMap<String, &str> {
    let bytes = text.as_bytes();
    let mut members = std::collections::HashMap::new();
    let mut i = text.find('{').expect("a case is an object") + 1;
    let skip_ws = |i: &mut usize| {
        while bytes[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let skip_string = |i: &mut usize| {
        *i += 1;
        while bytes[*i] != b'"' {
            *i += if bytes[*i] == b'\\' { 2 } else { 1 };
        }
        *i += 1;
    };
    loop {
        skip_ws(&mut i);
        if bytes[i] == b'}' {
            return members;
        }
        let key_start = i;
        skip_string(&mut i);
        let key: String = serde_json::from_str(&text[key_start..i]).expect("a member name");
        skip_ws(&mut i);
        i += 1; // the colon
        skip_ws(&mut i);
        let start = i;
        let mut depth = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    skip_string(&mut i);
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth == 0 => break,
                b'}' | b']' => depth -= 1,
                b',' if depth == 0 => break,
                _ => {}
            }
            i += 1;
        }
        members.insert(key, text[start..i].trim());
        skip_ws(&mut i);
        if bytes[i] == b',' {
            i += 1;
        }
    }
}

/// COMPATIBILITY.md and the corpus agree: every row of its tables cites at least one golden case
/// (or test file) in brackets, every cited case exists and records the legacy output in
/// `legacy`, and every case with `legacy` is cited, so no documented difference lacks a case
/// and no case written to show one is missing from the page.
fn compatibility_cited(files: &[PathBuf]) -> Result<(), Failed> {
    let root = golden_dir().join("..").join("..");
    let page = std::fs::read_to_string(root.join("COMPATIBILITY.md"))?;
    let mut cited = BTreeSet::new();
    let mut problems = Vec::new();
    let rows = page.lines().filter(|l| l.starts_with("| ") && !l.starts_with("|---"));
    for row in rows.filter(|l| !l.starts_with("| operator |") && !l.starts_with("| input |")) {
        let last = row.trim_end_matches('|').rsplit(" | ").next().unwrap_or_default();
        let tokens: Vec<&str> = last
            .split('[')
            .skip(1)
            .filter_map(|group| group.split(']').next())
            .flat_map(|group| group.split(','))
            .map(str::trim)
            .filter(|token| token.contains('/'))
            .collect();
        if tokens.is_empty() {
            problems.push(format!("a row cites no golden case: {row}"));
        }
        for token in tokens {
            if golden_dir().join(format!("{token}.json")).is_file() {
                cited.insert(token.to_owned());
            } else if !root.join(token).is_file() {
                problems.push(format!("cited but missing: {token}"));
            }
        }
    }
    for path in files {
        let name = case_name(path);
        let has_legacy = load(path)?.get("legacy").and_then(Value::as_str).is_some_and(|text| !text.is_empty());
        match (has_legacy, cited.contains(&name)) {
            (true, false) => problems.push(format!("{name} records a legacy difference the page does not cite")),
            (false, true) => problems.push(format!("{name} is cited but has no \"legacy\" member")),
            _ => {}
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n").into()) }
}

fn run_case(path: &Path) -> Result<(), Failed> {
    let text = std::fs::read_to_string(path)?;
    let case: Value = serde_json::from_str(&text)?;
    let raw = raw_members(&text);
    let config: CompilerConfig = match case.get("config") {
        Some(config) => serde_json::from_value(config.clone())?,
        None => CompilerConfig::default(),
    };
    let compiler = Compiler::new(config);
    // A string spec *is* the JSON text; otherwise the spec's own text in the file.
    let spec_text = match &case["spec"] {
        Value::String(text) => text.as_str(),
        _ => raw["spec"],
    };
    let options_text = raw.get("options").copied();
    let result = compiler.compile_query_str(spec_text, options_text);
    let parsed = (parse_json(spec_text), options_text.map(parse_options_json).transpose());
    let validation = match &parsed {
        (Ok(spec), Ok(options)) => compiler.validate_query(spec, options.as_ref()),
        (Err(err), _) | (_, Err(err)) => vec![err.clone()],
    };
    match (case.get("expected"), case.get("error")) {
        (Some(expected), None) => {
            check_output(&case, expected, result, &validation)?;
            let (Ok(spec), Ok(options)) = parsed else { return Err("a compiling case parses".into()) };
            check_raw_matches_document(&compiler, &spec)?;
            check_bindings_json(&compiler, &spec, options.as_ref())
        }
        (None, Some(error)) => check_error(error, result, &validation),
        _ => Err("a case needs exactly one of \"expected\" and \"error\"".into()),
    }
}

fn check_output(
    case: &Value,
    expected: &Value,
    result: Result<CompiledQuery, SpecError>,
    validation: &[SpecError],
) -> Result<(), Failed> {
    let query = result.map_err(|err| format!("expected a filter, got error {} {err}", err.code()))?;
    if !validation.is_empty() {
        return Err(format!("compiles, but validate() reported {validation:?}").into());
    }
    let expected_bson = Bson::try_from(expected.clone()).map_err(|e| format!("expected is not Extended JSON: {e}"))?;
    let actual = Bson::Document(query.to_document());
    if !same(&expected_bson, &actual) {
        return Err(
            format!("output differs\nexpected: {}\nactual:   {}", expected, actual.into_canonical_extjson()).into()
        );
    }
    for (format, reference) in
        [(ExtJsonFormat::Canonical, query.to_canonical_extjson()), (ExtJsonFormat::Relaxed, query.to_relaxed_extjson())]
    {
        let text = query.to_extjson_string(format);
        if serde_json::to_string(&reference)? != text {
            return Err(
                format!("to_extjson_string({format:?}) differs from the bson crate:\n{text}\n{reference}").into()
            );
        }
    }
    let matches = case.get("matches").and_then(Value::as_array).ok_or("a compiling case needs \"matches\"")?;
    let ids: Vec<&str> = matches.iter().filter_map(Value::as_str).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if ids.len() != matches.len() || ids != sorted {
        return Err("\"matches\" must be a sorted list of distinct _id strings".into());
    }
    Ok(())
}

/// What the npm and pip packages return (`compile_query_extjson`, pipeline always present)
/// equals the plan's own output, also on the fast path without options.
fn check_bindings_json(compiler: &Compiler, spec: &Value, options: Option<&Value>) -> Result<(), Failed> {
    let empty = serde_json::json!({});
    let reference =
        compiler.compile_query(spec, Some(options.unwrap_or(&empty)))?.to_extjson_string(ExtJsonFormat::Canonical);
    let bindings = compiler.compile_query_extjson(spec, options, ExtJsonFormat::Canonical)?;
    if bindings == reference {
        Ok(())
    } else {
        Err(format!("compile_query_extjson differs:\n{bindings}\n{reference}").into())
    }
}

/// The byte writer (`compile_raw`) and the document writer (`compile`) must agree exactly.
fn check_raw_matches_document(compiler: &Compiler, spec: &Value) -> Result<(), Failed> {
    let raw = compiler.compile_raw(spec).map_err(|err| format!("compile_raw failed: {err}"))?;
    let document = RawDocumentBuf::try_from(&compiler.compile(spec)?)?;
    if raw.as_bytes() == document.as_bytes() {
        Ok(())
    } else {
        Err(format!("compile_raw differs from compile: {:?} vs {:?}", raw, document).into())
    }
}

fn check_error(
    error: &Value,
    result: Result<CompiledQuery, SpecError>,
    validation: &[SpecError],
) -> Result<(), Failed> {
    let err = match result {
        Ok(query) => {
            return Err(format!(
                "expected error {error}, got {}",
                Bson::Document(query.to_document()).into_canonical_extjson()
            )
            .into());
        }
        Err(err) => err,
    };
    let actual = serde_json::json!({"code": err.code().as_str(), "path": err.path()});
    let wanted = serde_json::json!({"code": error["code"], "path": error["path"]});
    if actual != wanted {
        return Err(format!("expected error {wanted}, got {actual} ({err})").into());
    }
    match validation.first() {
        Some(first) if first == &err => Ok(()),
        other => Err(format!("validate() must report the same first error; got {other:?}").into()),
    }
}
