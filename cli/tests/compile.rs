//! `cqrs-mongo compile`: the binary's output is exactly what `cqrs_mongo_spec` produces for the
//! same input, and bad input is reported with code and path and exit status 2. No database.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use bson::Bson;
use cqrs_mongo_spec::{Compiler, ExtJsonFormat};
use serde_json::Value;

const SPEC: &str = r#"{"op": "and", "conditions": [
    {"op": ">=", "attr": "total", "val": 100.5},
    {"op": "ilike", "attr": "note", "val": "%urgent%"},
    {"op": "=", "attr": "placed_at", "val": {"$date": "2024-05-01T10:00:00Z"}},
    {"op": "in", "attr": "status", "val": ["placed", "paid"]},
    {"op": "between", "attr": "items", "val": [1, 3000000000]}
]}"#;

const OPTIONS: &str =
    r#"{"order_by": ["-total", "customer"], "offset": 10, "limit": 5, "select_fields": ["customer", "total"]}"#;

/// Runs `cqrs-mongo compile ARGS` with `stdin` as standard input.
fn compile(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cqrs-mongo"))
        .arg("compile")
        .args(args)
        // `compile` must not need a server: point anything else at a closed port.
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

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("cqrs-mongo-cli-test-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

fn spec() -> Value {
    serde_json::from_str(SPEC).unwrap()
}

#[test]
fn the_filter_is_printed_as_the_compiler_produces_it() {
    let filter = cqrs_mongo_spec::compile(&spec()).unwrap();
    let pretty = serde_json::to_string_pretty(&Bson::Document(filter).into_relaxed_extjson()).unwrap();
    let file = temp_file("spec.json", SPEC);

    // From a file, from `-` and from standard input without a file: indented relaxed Extended JSON.
    let from_file = stdout_ok(&compile(&[file.to_str().unwrap()], ""));
    assert_eq!(from_file, format!("{pretty}\n"));
    assert!(from_file.contains("\"$date\": \"2024-05-01T10:00:00Z\""), "relaxed dates: {from_file}");
    assert!(from_file.lines().count() > 10, "indented");
    assert_eq!(stdout_ok(&compile(&["-"], SPEC)), from_file);
    assert_eq!(stdout_ok(&compile(&[], SPEC)), from_file);

    // Canonical: one line, every type explicit, the compiler's own writer.
    let canonical =
        cqrs_mongo_spec::to_extjson_string(&cqrs_mongo_spec::compile_raw(&spec()).unwrap(), ExtJsonFormat::Canonical);
    let printed = stdout_ok(&compile(&["--canonical"], SPEC));
    assert_eq!(printed, format!("{canonical}\n"));
    assert_eq!(printed.lines().count(), 1);
    assert!(printed.contains(r#"{"$numberLong":"3000000000"}"#), "{printed}");
    std::fs::remove_file(file).unwrap();
}

#[test]
fn the_whole_query_is_printed_with_options_from_text_or_a_file() {
    let compiler = Compiler::default();
    let options: Value = serde_json::from_str(OPTIONS).unwrap();
    let expected = compiler.compile_query_extjson(&spec(), Some(&options), ExtJsonFormat::Canonical).unwrap();

    let inline = stdout_ok(&compile(&["--query", "--canonical", "--options", OPTIONS], SPEC));
    assert_eq!(inline, format!("{expected}\n"));
    let options_file = temp_file("options.json", OPTIONS);
    let from_file = stdout_ok(&compile(&["--query", "--canonical", "--options", options_file.to_str().unwrap()], SPEC));
    assert_eq!(from_file, inline);
    std::fs::remove_file(options_file).unwrap();

    // Indented relaxed: the same query (filter, sort, skip, limit, projection, pipeline).
    let relaxed = compiler.compile_query(&spec(), Some(&options)).unwrap().to_relaxed_extjson();
    let pretty = stdout_ok(&compile(&["--query", "--options", OPTIONS], SPEC));
    assert_eq!(pretty, format!("{}\n", serde_json::to_string_pretty(&relaxed).unwrap()));
    let printed: Value = serde_json::from_str(&pretty).unwrap();
    let keys: Vec<&str> = printed.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["filter", "sort", "skip", "limit", "projection", "pipeline"]);

    // Without options the query is what the npm and pip packages return: filter and `$match`.
    let bare = compiler.compile_query_extjson(&spec(), None, ExtJsonFormat::Canonical).unwrap();
    assert_eq!(stdout_ok(&compile(&["--query", "--canonical"], SPEC)), format!("{bare}\n"));

    // Options only checked, not printed, without --query.
    let filter_only = stdout_ok(&compile(&["--canonical", "--options", OPTIONS], SPEC));
    let filter = cqrs_mongo_spec::compile_raw(&spec()).unwrap();
    assert_eq!(filter_only, format!("{}\n", cqrs_mongo_spec::to_extjson_string(&filter, ExtJsonFormat::Canonical)));
}

#[test]
fn errors_show_code_path_and_message_and_exit_with_status_2() {
    let bad = r#"{"op": "and", "conditions": [{"op": "=", "attr": "a", "val": 1}, {"op": "between", "attr": "qty", "val": "ten"}]}"#;
    let expected = cqrs_mongo_spec::compile_str(bad).unwrap_err();
    let output = compile(&[], bad);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(expected.code().as_str(), "invalid_value");
    assert_eq!(expected.path_string(), "<root>.conditions[1].val");
    assert_eq!(stderr, format!("error: invalid_value at <root>.conditions[1].val: {}\n", expected.message()));

    // Every error is listed, the compiler's first.
    let two =
        r#"{"op": "or", "conditions": [{"op": "nope", "attr": "a", "val": 1}, {"op": "=", "attr": "$b", "val": 1}]}"#;
    let output = compile(&[], two);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with("error: unknown_operator at <root>.conditions[0].op: "), "{stderr}");
    assert!(lines[1].starts_with("error: invalid_field_path at <root>.conditions[1].attr: "), "{stderr}");

    // Not JSON; bad options; a missing file.
    let output = compile(&[], "{\"op\": ");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr).unwrap().starts_with("error: invalid_json at <root>: "));
    let output = compile(&["--options", r#"{"limit": 0}"#], SPEC);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr).unwrap().starts_with("error: invalid_option at <root>.options.limit: "));
    let output = compile(&["/nonexistent/spec.json"], "");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("error: cannot read the specification file /nonexistent/spec.json: "), "{stderr}");
}
