//! `cqrs-mongo decompile`: the binary prints what `cqrs_mongo_spec::decompile_str` gives for the
//! same filter, the printed spec compiles back to that filter, and a refused filter is reported
//! with code and path and exit status 2. No database.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use bson::Bson;
use serde_json::{Value, json};

/// What `cqrs-mongo compile --canonical` prints for a spec with a between, an ilike, a date and
/// an Int64: the filter the round trip starts from.
const FILTER: &str = r#"{"$and":[
    {"$and":[{"total":{"$gte":{"$numberDouble":"100.5"}}},{"total":{"$lte":{"$numberInt":"500"}}}]},
    {"note":{"$regex":"^.*urgent.*$","$options":"is"}},
    {"placed_at":{"$eq":{"$date":{"$numberLong":"1714557600000"}}}},
    {"items":{"$in":[{"$numberLong":"3000000000"},{"$numberLong":"1"}]}}
]}"#;

/// Runs `cqrs-mongo decompile ARGS` with `stdin` as standard input.
fn decompile(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cqrs-mongo"))
        .arg("decompile")
        .args(args)
        // `decompile` must not need a server: point anything else at a closed port.
        .env("MONGODB_URI", "mongodb://127.0.0.1:1/?directConnection=true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cqrs-mongo");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("run cqrs-mongo")
}

fn stdout_ok(output: &Output) -> String {
    assert!(output.status.success(), "failed with {}: {}", output.status, String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn the_spec_is_printed_and_compiles_back_to_the_filter() {
    let expected = json!({"op": "and", "conditions": [
        {"op": "between", "attr": "total", "val": [100.5, 500]},
        {"op": "ilike", "attr": "note", "val": "%urgent%"},
        {"op": "=", "attr": "placed_at", "val": {"$date": "2024-05-01T10:00:00Z"}},
        {"op": "in", "attr": "items", "val": [3000000000i64, {"$numberLong": "1"}]},
    ]});
    assert_eq!(cqrs_mongo_spec::decompile_str(FILTER).unwrap().to_json(), expected);

    // From standard input, `-` and a file: indented JSON.
    let printed = stdout_ok(&decompile(&[], FILTER));
    assert_eq!(printed, format!("{}\n", serde_json::to_string_pretty(&expected).unwrap()));
    assert_eq!(stdout_ok(&decompile(&["-"], FILTER)), printed);
    let file = std::env::temp_dir().join(format!("cqrs-mongo-cli-test-{}-filter.json", std::process::id()));
    std::fs::write(&file, FILTER).unwrap();
    assert_eq!(stdout_ok(&decompile(&[file.to_str().unwrap()], "")), printed);
    std::fs::remove_file(file).unwrap();

    // --compact: one line, the same spec.
    let compact = stdout_ok(&decompile(&["--compact"], FILTER));
    assert_eq!(compact.lines().count(), 1);
    assert_eq!(serde_json::from_str::<Value>(&compact).unwrap(), expected);

    // The printed spec compiles back to the very filter (types and key order included).
    let filter = cqrs_mongo_spec::compile_str(&printed).unwrap();
    let original: Value = serde_json::from_str(FILTER).unwrap();
    assert_eq!(Bson::Document(filter).into_canonical_extjson(), original);
}

#[test]
fn refusals_show_code_path_and_message_and_exit_with_status_2() {
    let output = decompile(&[], r#"{"a": 1, "$or": [{"b": 2}, {"$where": "this.c > 1"}]}"#);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr, "error: unsupported_filter at <filter>.$or[1].$where: $where has no specification form\n");

    let output = decompile(&[], r#"{"qty": {"$in": 5}}"#);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr).unwrap().starts_with("error: invalid_filter at <filter>.qty.$in: "));

    let output = decompile(&[], "{\"a\": ");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr).unwrap().starts_with("error: invalid_json at <filter>: "));

    let output = decompile(&["/nonexistent/filter.json"], "");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("error: cannot read the filter file /nonexistent/filter.json: "), "{stderr}");
}
