//! Reads a spec (and optionally query options) as JSON and prints what the Rust compiler makes
//! of it, as Extended JSON: `{"filter", "sort"?, "skip"?, "limit"?, "projection"?, "pipeline"?}`.
//!
//! ```text
//! cargo run -q -p cqrs-mongo-spec --example compile -- [--canonical] [--settings FILE] SPEC.json [OPTIONS.json]
//! echo '{"op":"=","attr":"a","val":1}' | cargo run -q -p cqrs-mongo-spec --example compile
//! ```
//! `--settings FILE` reads the compiler settings (the packages' settings object, a `schema`
//! included) from a JSON file. Errors print `{"error": {"code", "path", "message"}}` and exit
//! with status 1.

use std::io::Read;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let canonical = args.iter().any(|a| a == "--canonical");
    args.retain(|a| a != "--canonical");
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {path}: {err}"));
    let settings = match args.iter().position(|a| a == "--settings") {
        Some(at) if at + 1 < args.len() => {
            let text = read(&args.remove(at + 1));
            args.remove(at);
            serde_json::from_str(&text).unwrap_or_else(|err| panic!("the settings are not JSON: {err}"))
        }
        Some(_) => panic!("--settings needs a file"),
        None => serde_json::json!({}),
    };
    let config = match cqrs_mongo_spec::CompilerConfig::from_settings(&settings) {
        Ok(config) => config,
        Err(err) => {
            println!("{}", serde_json::json!({"error": err}));
            std::process::exit(1);
        }
    };
    let spec = match args.first() {
        Some(path) => read(path),
        None => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).expect("stdin");
            text
        }
    };
    let options = args.get(1).map(|path| read(path));
    match cqrs_mongo_spec::Compiler::new(config).compile_query_str(&spec, options.as_deref()) {
        Ok(query) => {
            let json = if canonical { query.to_canonical_extjson() } else { query.to_relaxed_extjson() };
            println!("{json}");
        }
        Err(err) => {
            println!("{}", serde_json::json!({"error": err}));
            std::process::exit(1);
        }
    }
}
