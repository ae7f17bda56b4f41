//! Reads a spec (and optionally query options) as JSON and prints what the Rust compiler makes
//! of it, as Extended JSON: `{"filter", "sort"?, "skip"?, "limit"?, "projection"?, "pipeline"?}`.
//!
//! ```text
//! cargo run -q -p cqrs-mongo-spec --example compile -- [--canonical] SPEC.json [OPTIONS.json]
//! echo '{"op":"=","attr":"a","val":1}' | cargo run -q -p cqrs-mongo-spec --example compile
//! ```
//! Errors print `{"error": {"code", "path", "message"}}` and exit with status 1.

use std::io::Read;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let canonical = args.iter().any(|a| a == "--canonical");
    args.retain(|a| a != "--canonical");
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {path}: {err}"));
    let spec = match args.first() {
        Some(path) => read(path),
        None => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).expect("stdin");
            text
        }
    };
    let options = args.get(1).map(|path| read(path));
    match cqrs_mongo_spec::Compiler::default().compile_query_str(&spec, options.as_deref()) {
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
