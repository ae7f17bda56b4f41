//! `compile(decompile(compile(s))) == compile(s)` over the golden corpus: every compiling case
//! of `tests/golden/` is compiled (with its `config` and `options`), its filter decompiled, the
//! spec printed as JSON text and compiled again with the same settings; the two queries must be
//! equal with key order and BSON types significant. With a `schema` setting, the decompiled spec
//! names stored paths with cast values, so it is compiled without the schema and the filters
//! are compared. For the LIKE family (`like`, `ilike`, `not_like`, `contains`, `startswith`,
//! `endswith` and their `i` forms) the decompiled spec must hold the original operator and text.
//!
//! A case that cannot round-trip must be listed in `REFUSED` with its error code: the test
//! fails on any other refusal, and on a listed case that no longer refuses.

mod support;

use bson::{Bson, Document};
use cqrs_mongo_spec::{CompiledQuery, Compiler, CompilerConfig, Operator, Spec, decompile, parse_json};

use serde_json::Value;
use support::{case_files, case_name, same};

/// Compiling cases whose filter is refused by `decompile`, with the code (none so far).
const REFUSED: &[(&str, &str)] = &[];

/// What happened to one case.
enum Verdict {
    RoundTrip,
    Refused(String),
    Failed(String),
}

#[test]
fn every_compiling_golden_case_round_trips_through_decompile() {
    let files = case_files();
    let mut verdicts = Vec::new();
    for path in &files {
        let name = case_name(path);
        let text = std::fs::read_to_string(path).unwrap();
        let case: Value = serde_json::from_str(&text).unwrap();
        if case.get("expected").is_none() {
            continue;
        }
        // The crate's parser reads the numbers as the golden runner does (no u64-to-double).
        let case = parse_json(&text).unwrap_or(case);
        verdicts.push((name, run(&case)));
    }
    let passed = verdicts.iter().filter(|(_, v)| matches!(v, Verdict::RoundTrip)).count();
    let mut refused: Vec<(&str, &str)> = Vec::new();
    let mut problems = Vec::new();
    for (name, verdict) in &verdicts {
        match verdict {
            Verdict::RoundTrip if REFUSED.iter().any(|(case, _)| case == name) => {
                problems.push(format!("{name}: listed in REFUSED but round-trips"));
            }
            Verdict::RoundTrip => {}
            Verdict::Refused(code) => {
                refused.push((name, code));
                if !REFUSED.contains(&(name.as_str(), code.as_str())) {
                    problems.push(format!("{name}: refused with {code}, not listed in REFUSED"));
                }
            }
            Verdict::Failed(why) => problems.push(format!("{name}: {why}")),
        }
    }
    eprintln!("{passed} of {} compiling golden cases round-trip; refused: {refused:?}", verdicts.len());
    assert!(verdicts.len() >= 200, "expected at least 200 compiling cases, found {}", verdicts.len());
    assert!(problems.is_empty(), "{} case(s) fail:\n{}", problems.len(), problems.join("\n"));
}

fn run(case: &Value) -> Verdict {
    let config_json = case.get("config").cloned().unwrap_or_else(|| serde_json::json!({}));
    let config: CompilerConfig = serde_json::from_value(config_json.clone()).expect("a golden config");
    let schema = config.schema.is_some();
    let compiler = Compiler::new(config);
    let spec = match &case["spec"] {
        Value::String(text) => parse_json(text).expect("a compiling case parses"),
        other => other.clone(),
    };
    let options = case.get("options");
    let original = match compiler.compile_query(&spec, options) {
        Ok(query) => query,
        Err(err) => return Verdict::Failed(format!("the case does not compile: {err}")),
    };
    let decompiled = match decompile(&original.filter) {
        Ok(spec) => spec,
        Err(err) => return Verdict::Refused(err.code().as_str().to_owned()),
    };
    let printed = serde_json::to_string(&decompiled.to_json()).unwrap();
    let (again, expected) = if schema {
        // Stored paths and cast values: compiled without the schema; the filters compared.
        let mut without = config_json;
        without.as_object_mut().unwrap().remove("schema");
        let compiler = Compiler::new(serde_json::from_value(without).unwrap());
        (compiler.compile_query_str(&printed, None), CompiledQuery::filter_only(original.filter.clone()))
    } else {
        let options_text = options.map(|o| serde_json::to_string(o).unwrap());
        (compiler.compile_query_str(&printed, options_text.as_deref()), original)
    };
    let again = match again {
        Ok(query) => query,
        Err(err) => return Verdict::Failed(format!("the decompiled spec {printed} does not compile: {err}")),
    };
    if !same_doc(&again.to_document(), &expected.to_document()) {
        return Verdict::Failed(format!(
            "recompiled differently\nspec:       {printed}\nexpected:   {}\nrecompiled: {}",
            Bson::Document(expected.to_document()).into_canonical_extjson(),
            Bson::Document(again.to_document()).into_canonical_extjson()
        ));
    }
    if !schema && let Some(missing) = like_family_lost(&spec, &decompiled) {
        return Verdict::Failed(format!("the LIKE-family leaf {missing} is not recovered in {printed}"));
    }
    Verdict::RoundTrip
}

/// The first LIKE-family leaf of `original` (plain string value, no cast) that `decompiled`
/// does not hold with the same operator, field and text.
fn like_family_lost(original: &Value, decompiled: &Spec<'_>) -> Option<String> {
    let mut wanted = Vec::new();
    like_leaves(original, &mut wanted);
    let mut found = Vec::new();
    like_leaves(&decompiled.to_json(), &mut found);
    wanted.into_iter().find(|leaf| !found.contains(leaf)).map(|(op, attr, text)| format!("{op:?} {attr} {text:?}"))
}

fn like_leaves(spec: &Value, out: &mut Vec<(Operator, String, String)>) {
    let Value::Object(node) = spec else { return };
    for child in node.get("conditions").and_then(Value::as_array).into_iter().flatten() {
        like_leaves(child, out);
    }
    if let Some(child) = node.get("condition") {
        like_leaves(child, out);
    }
    let op = node.get("op").and_then(Value::as_str).and_then(Operator::parse);
    let is_like = matches!(
        op,
        Some(
            Operator::Like
                | Operator::Ilike
                | Operator::NotLike
                | Operator::Contains
                | Operator::Icontains
                | Operator::Startswith
                | Operator::Istartswith
                | Operator::Endswith
                | Operator::Iendswith
        )
    );
    let uncast = node.get("value_type").is_none_or(|t| t.as_str().is_some_and(|t| t.eq_ignore_ascii_case("string")));
    if let (true, true, Some(Value::String(attr)), Some(Value::String(text))) =
        (is_like, uncast, node.get("attr"), node.get("val"))
    {
        out.push((op.unwrap(), attr.clone(), text.clone()));
    }
}

/// Typed equality with key order significant (bson's own `==` ignores key order).
fn same_doc(a: &Document, b: &Document) -> bool {
    same(&Bson::Document(a.clone()), &Bson::Document(b.clone()))
}
