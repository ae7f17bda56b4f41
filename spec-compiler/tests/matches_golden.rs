//! In-memory evaluation agrees with the server on the golden corpus: for every case with
//! `matches` (the `_id`s of `tests/golden/dataset.json` the filter returns on MongoDB, checked
//! on a server by `persistence/tests/golden_on_server.rs`), `expected.filter` evaluated on each
//! document of the data set keeps exactly those `_id`s, and so does `Compiler::filter` on the
//! case's spec; `Matcher::matches_raw` on each document's BSON bytes gives the same answers. Text-search cases must be refused with `needs_server` instead. One named test
//! per case (`matches/string/ilike_percent_urgent_reference`).

mod support;

use bson::{Bson, Document, RawDocumentBuf};
use cqrs_mongo_spec::{Compiler, CompilerConfig, EvalErrorCode, MatchError, Matcher};
use libtest_mimic::{Arguments, Failed, Trial};

use serde_json::Value;
use support::{case_files, case_name, golden_dir};

fn main() {
    let args = Arguments::from_args();
    let dataset = std::sync::Arc::new(dataset());
    let files = case_files();
    let trials: Vec<Trial> = files
        .into_iter()
        .filter_map(|path| {
            let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
            case.get("matches")?;
            let name = case_name(&path);
            let dataset = dataset.clone();
            Some(Trial::test(format!("matches/{name}"), move || run_case(&case, &dataset)))
        })
        .collect();
    assert!(trials.len() >= 150, "expected at least 150 cases with matches, found {}", trials.len());
    libtest_mimic::run(&args, trials).exit();
}

fn dataset() -> Vec<Document> {
    let text = std::fs::read_to_string(golden_dir().join("dataset.json")).expect("dataset.json");
    let Value::Array(items) = serde_json::from_str(&text).expect("dataset JSON") else { panic!("a list") };
    items
        .into_iter()
        .map(|item| match Bson::try_from(item).expect("relaxed Extended JSON") {
            Bson::Document(doc) => doc,
            other => panic!("not a document: {other}"),
        })
        .collect()
}

fn ids<'d>(docs: impl IntoIterator<Item = &'d Document>) -> Vec<String> {
    let mut ids: Vec<String> = docs.into_iter().map(|d| d.get_str("_id").unwrap_or("?").to_owned()).collect();
    ids.sort();
    ids
}

fn run_case(case: &Value, dataset: &[Document]) -> Result<(), Failed> {
    let Bson::Document(filter) = Bson::try_from(case["expected"]["filter"].clone())? else {
        return Err("expected.filter is not a document".into());
    };
    let config: CompilerConfig = match case.get("config") {
        Some(config) => serde_json::from_value(config.clone())?,
        None => CompilerConfig::default(),
    };
    let spec = match &case["spec"] {
        Value::String(text) => serde_json::from_str(text)?,
        other => other.clone(),
    };
    let compiler = Compiler::new(config);
    let is_text = filter_has_text(&Bson::Document(filter.clone()));
    let matcher = Matcher::new(&filter);
    if is_text {
        let err = matcher.err().ok_or("a $text filter must be refused")?;
        if err.code() != EvalErrorCode::NeedsServer {
            return Err(format!("a $text filter must be needs_server, got {err}").into());
        }
        return match compiler.filter(&spec, dataset) {
            Err(MatchError::Eval(err)) if err.code() == EvalErrorCode::NeedsServer => Ok(()),
            other => Err(format!("Compiler::filter must refuse a text search, got {other:?}").into()),
        };
    }
    let matcher = matcher.map_err(|err| format!("cannot evaluate: {err}"))?;
    let mut kept = Vec::new();
    for doc in dataset {
        let answer = matcher.matches(doc)?;
        // The same document as BSON bytes, read in place, answers alike.
        let raw = matcher.matches_raw(&RawDocumentBuf::try_from(doc)?)?;
        if raw != answer {
            return Err(format!("matches_raw answers {raw} on {}", doc.get_str("_id").unwrap_or("?")).into());
        }
        if answer {
            kept.push(doc);
        }
    }
    let expected: Vec<String> =
        case["matches"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    let actual = ids(kept);
    if actual != expected {
        let missing: Vec<_> = expected.iter().filter(|id| !actual.contains(id)).collect();
        let extra: Vec<_> = actual.iter().filter(|id| !expected.contains(id)).collect();
        return Err(format!(
            "filter {} matched {} documents; missing {missing:?}, unexpected {extra:?}",
            Bson::Document(filter).into_relaxed_extjson(),
            actual.len()
        )
        .into());
    }
    let through_compiler = ids(compiler.filter(&spec, dataset)?);
    if through_compiler != expected {
        return Err(format!("Compiler::filter kept {through_compiler:?}").into());
    }
    Ok(())
}

fn filter_has_text(value: &Bson) -> bool {
    match value {
        Bson::Document(doc) => doc.iter().any(|(k, v)| k == "$text" || filter_has_text(v)),
        Bson::Array(items) => items.iter().any(filter_has_text),
        _ => false,
    }
}
