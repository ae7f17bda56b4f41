//! Every golden case with `matches` runs on the server: the compiled filter through `find` and
//! the compiled pipeline's `$match` stage through `aggregate` must both return exactly the
//! listed `_id`s of `tests/golden/dataset.json`; the full pipeline must run as well. One named
//! test per case (`golden/string/ilike_percent_urgent_reference`).

mod support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bson::{Bson, Document, doc};
use cqrs_mongo_persistence::Connection;
use cqrs_mongo_spec::{Compiler, CompilerConfig};
use futures::TryStreamExt;
use libtest_mimic::{Arguments, Failed, Trial};
use mongodb::IndexModel;
use serde_json::Value;

/// Cases this test server cannot run, with the reason. They run when `MONGODB_URI` is set.
const NEEDS_REAL_MONGOD: &[(&str, &str)] = &[
    ("text/", "$text needs a text index, which SecantusDB does not implement"),
    // mongod reads `{$elemMatch: {$and | $or | $nor: [...]}}` as conditions on the element's
    // fields; SecantusDB takes any `$` key there for an operator on the element itself. Several
    // conditions with distinct keys compile to one merged document, which it runs; these hold
    // an `or`, a `not`, an `is_null` (an `$or`) or a key repeated (kept in `$and`).
    ("elem_match/is_null_inside_is_relative", ELEM_MATCH_LOGICAL),
    ("elem_match/not_inside_elem_match", ELEM_MATCH_LOGICAL),
    ("elem_match/or_inside_elem_match", ELEM_MATCH_LOGICAL),
    ("elem_match/two_conditions_on_one_field_stay_in_and", ELEM_MATCH_LOGICAL),
];

const ELEM_MATCH_LOGICAL: &str = "SecantusDB refuses $and/$or/$nor inside $elemMatch (\"unknown operator\")";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden")
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime"))
}

fn dataset_connection() -> &'static Connection {
    static CONNECTION: OnceLock<Connection> = OnceLock::new();
    CONNECTION.get_or_init(|| runtime().block_on(load_dataset()))
}

async fn load_dataset() -> Connection {
    let db = support::database("golden_on_server").await;
    let text = std::fs::read_to_string(golden_dir().join("dataset.json")).expect("dataset.json");
    let Value::Array(items) = serde_json::from_str(&text).expect("dataset JSON") else { panic!("dataset is a list") };
    let docs: Vec<Document> = items
        .into_iter()
        .map(|item| match Bson::try_from(item).expect("relaxed Extended JSON") {
            Bson::Document(doc) => doc,
            other => panic!("not a document: {other}"),
        })
        .collect();
    let collection = db.database().collection::<Document>("dataset");
    collection.insert_many(docs).await.expect("insert the dataset");
    for field in ["location", "area"] {
        collection
            .create_index(IndexModel::builder().keys(doc! { field: "2dsphere" }).build())
            .await
            .expect("2dsphere index");
    }
    if std::env::var("MONGODB_URI").is_ok_and(|u| !u.is_empty()) {
        collection
            .create_index(IndexModel::builder().keys(doc! { "title": "text", "body": "text" }).build())
            .await
            .expect("text index");
    }
    db
}

fn main() {
    let args = Arguments::from_args();
    let mut files = Vec::new();
    collect(&golden_dir(), &mut files);
    let real_mongod = std::env::var("MONGODB_URI").is_ok_and(|u| !u.is_empty());
    let trials = files
        .into_iter()
        .filter_map(|path| {
            let name = path.strip_prefix(golden_dir()).unwrap().with_extension("").to_string_lossy().into_owned();
            let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
            case.get("matches")?;
            let skip = NEEDS_REAL_MONGOD.iter().find(|(prefix, _)| name.starts_with(prefix)).filter(|_| !real_mongod);
            let trial = Trial::test(format!("golden/{name}"), move || run_case(&case));
            Some(if skip.is_some() { trial.with_ignored_flag(true) } else { trial })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") && path.parent() != Some(golden_dir().as_path()) {
            out.push(path);
        }
    }
}

fn run_case(case: &Value) -> Result<(), Failed> {
    let config: CompilerConfig = match case.get("config") {
        Some(config) => serde_json::from_value(config.clone())?,
        None => CompilerConfig::default(),
    };
    let compiler = Compiler::new(config);
    let spec = match &case["spec"] {
        Value::String(text) => serde_json::from_str(text)?,
        other => other.clone(),
    };
    let empty = serde_json::json!({});
    let query = compiler.compile_query(&spec, Some(case.get("options").unwrap_or(&empty)))?;
    let mut expected: Vec<String> =
        case["matches"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    expected.sort();
    let collection = dataset_connection().database().collection::<Document>("dataset");
    runtime().block_on(async {
        let found: Vec<Document> = collection.find(query.filter.clone()).await?.try_collect().await?;
        let pipeline = query.pipeline.clone().unwrap_or_default();
        let matched: Vec<Document> = collection.aggregate(pipeline[..1].to_vec()).await?.try_collect().await?;
        let _full: Vec<Document> = collection.aggregate(pipeline).await?.try_collect().await?;
        for (how, docs) in [("find", found), ("aggregate $match", matched)] {
            let mut ids: Vec<String> = docs.iter().map(|d| d.get_str("_id").unwrap_or("?").to_owned()).collect();
            ids.sort();
            if ids != expected {
                let missing: Vec<_> = expected.iter().filter(|id| !ids.contains(id)).collect();
                let extra: Vec<_> = ids.iter().filter(|id| !expected.contains(id)).collect();
                return Err(Failed::from(format!(
                    "{how}: filter {} matched {} documents; missing {missing:?}, unexpected {extra:?}",
                    Bson::Document(query.filter.clone()).into_relaxed_extjson(),
                    ids.len()
                )));
            }
        }
        Ok::<(), Failed>(())
    })
}
