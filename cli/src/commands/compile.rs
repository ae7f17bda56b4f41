//! `compile`: a specification (and optional query options) into a MongoDB filter or query,
//! printed as Extended JSON. Pure: no database.

use std::io::{Read, Write};
use std::path::Path;

use bson::{Bson, Document, RawDocumentBuf, doc};
use cqrs_mongo_spec::{CompiledQuery, Compiler, ExtJsonFormat, SpecError};

use crate::args::CompileArgs;
use crate::error::CliError;

/// Compiles and prints: indented relaxed Extended JSON, or canonical on one line.
pub(crate) fn run(args: &CompileArgs, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
    let spec = read_spec(args.file.as_deref())?;
    let options = args.options.as_deref().map(read_options).transpose()?;
    let compiler = Compiler::default();
    let compiled = compiler
        .compile_query_str(&spec, options.as_deref())
        .map_err(|first| CliError::Spec(all_errors(&compiler, first, &spec, options.as_deref())))?;
    let document = if args.query { query_document(&compiled) } else { compiled.filter };
    let text = if args.canonical { canonical(&document)? } else { relaxed_pretty(document)? };
    writeln!(out, "{text}")?;
    Ok(())
}

/// The spec text from `file`, or from standard input for `-` or no file.
fn read_spec(file: Option<&Path>) -> Result<String, CliError> {
    match file {
        Some(path) if path != Path::new("-") => read_file(path, "specification"),
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|err| CliError::Usage(format!("cannot read the specification from standard input: {err}")))?;
            Ok(text)
        }
    }
}

/// `--options`: JSON text when it starts with `{`, otherwise a file to read.
fn read_options(value: &str) -> Result<String, CliError> {
    if value.trim_start().starts_with('{') { Ok(value.to_owned()) } else { read_file(Path::new(value), "options") }
}

fn read_file(path: &Path, what: &str) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|err| CliError::Usage(format!("cannot read the {what} file {}: {err}", path.display())))
}

/// The compiler's error first, then every other error the validator finds in the same input.
fn all_errors(compiler: &Compiler, first: SpecError, spec: &str, options: Option<&str>) -> Vec<SpecError> {
    let mut errors = vec![first];
    let Ok(spec) = serde_json::from_str::<serde_json::Value>(spec) else { return errors };
    let options = match options.map(serde_json::from_str::<serde_json::Value>) {
        Some(Ok(options)) => Some(options),
        Some(Err(_)) => return errors,
        None => None,
    };
    for err in compiler.validate_query(&spec, options.as_ref()) {
        if !errors.contains(&err) {
            errors.push(err);
        }
    }
    errors
}

/// The whole query as the npm and pip packages return it: `pipeline` is always present
/// (`[{"$match": filter}]` without options).
fn query_document(compiled: &CompiledQuery) -> Document {
    let mut document = compiled.to_document();
    if !document.contains_key("pipeline") {
        document.insert("pipeline", vec![Bson::Document(doc! { "$match": compiled.filter.clone() })]);
    }
    document
}

/// Canonical Extended JSON on one line, written by the compiler's own writer.
fn canonical(document: &Document) -> Result<String, CliError> {
    let raw = RawDocumentBuf::try_from(document)
        .map_err(|err| CliError::Usage(format!("the compiled document cannot be encoded as BSON: {err}")))?;
    Ok(cqrs_mongo_spec::to_extjson_string(&raw, ExtJsonFormat::Canonical))
}

/// Relaxed Extended JSON, indented.
fn relaxed_pretty(document: Document) -> Result<String, CliError> {
    let value = Bson::Document(document).into_relaxed_extjson();
    serde_json::to_string_pretty(&value).map_err(|err| CliError::Output(err.into()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Runs the command and removes its spec file.
    fn compile(args: CompileArgs) -> Result<String, CliError> {
        let mut out = Vec::new();
        let result = run(&args, &mut out);
        if let Some(file) = &args.file {
            let _ = std::fs::remove_file(file);
        }
        result.map(|()| String::from_utf8(out).unwrap())
    }

    fn spec_file(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("cqrs-mongo-cli-{}-{name}.json", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_filter_is_printed_as_indented_relaxed_extended_json() {
        let path = spec_file("filter", r#"{"op": ">=", "attr": "total", "val": 100}"#);
        let args = CompileArgs { file: Some(path), options: None, canonical: false, query: false };
        assert_eq!(compile(args).unwrap(), "{\n  \"total\": {\n    \"$gte\": 100\n  }\n}\n");
    }

    #[test]
    fn canonical_queries_always_have_a_pipeline() {
        let path = spec_file("query", r#"{"op": "=", "attr": "a", "val": 1}"#);
        let args = CompileArgs { file: Some(path), options: None, canonical: true, query: true };
        let filter = json!({"a": {"$eq": {"$numberInt": "1"}}});
        let expected = json!({"filter": filter, "pipeline": [{"$match": filter}]});
        assert_eq!(compile(args).unwrap(), format!("{expected}\n"));
    }

    #[test]
    fn every_error_is_reported_with_the_compilers_first() {
        let text = r#"{"op": "and", "conditions": [{"op": "nope", "attr": "a", "val": 1}, {"op": "=", "attr": "$b", "val": 1}]}"#;
        let path = spec_file("errors", text);
        let args =
            CompileArgs { file: Some(path), options: Some(r#"{"limit": -1}"#.into()), canonical: false, query: false };
        let CliError::Spec(errors) = compile(args).unwrap_err() else { panic!("not a spec error") };
        let codes: Vec<_> = errors.iter().map(|e| (e.code().as_str(), e.path_string())).collect();
        assert_eq!(codes[0], ("unknown_operator", "<root>.conditions[0].op".to_owned()));
        assert!(codes.contains(&("invalid_field_path", "<root>.conditions[1].attr".to_owned())), "{codes:?}");
        assert!(codes.iter().any(|(code, path)| *code == "invalid_option" && path.starts_with("<root>.options")));
    }

    #[test]
    fn a_missing_file_is_a_usage_error() {
        let args =
            CompileArgs { file: Some("/nonexistent/spec.json".into()), options: None, canonical: false, query: false };
        let err = compile(args).unwrap_err();
        assert!(matches!(&err, CliError::Usage(m) if m.contains("/nonexistent/spec.json")), "{err}");
    }
}
