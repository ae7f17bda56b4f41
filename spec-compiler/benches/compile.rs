//! Compile speed: the reference spec (`tests/bench/reference.json`) and every compiling golden
//! case, into BSON bytes (`compile_raw`, the fast path) and into a `bson::Document`
//! (`compile`). Besides criterion's report, prints mean time per spec and per leaf, and ratios to
//! two baselines measured in the same run: cloning the compiled `bson::Document` (the cost of
//! merely allocating that tree) and `serde_json` parsing the reference spec's text.
//!
//! `cargo bench -p cqrs-mongo-spec --bench compile`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cqrs_mongo_spec::{Compiler, CompilerConfig, FieldSchema, RegexPolicy};
use criterion::{Criterion, Throughput, criterion_group};
use serde_json::Value;

struct Case {
    spec: Value,
    options: Option<Value>,
    config: CompilerConfig,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn reference_text() -> String {
    std::fs::read_to_string(root().join("tests/bench/reference.json")).expect("reference spec")
}

/// Every golden case that compiles from a JSON value (error cases and JSON-text cases skipped).
fn corpus() -> Vec<Case> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json")
                && path.parent().unwrap().file_name() != Some("golden".as_ref())
            {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("tests/golden"), &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let case: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            (case.get("expected").is_some() && !case["spec"].is_string()).then(|| Case {
                spec: case["spec"].clone(),
                options: case.get("options").cloned(),
                config: case.get("config").map(|c| serde_json::from_value(c.clone()).unwrap()).unwrap_or_default(),
            })
        })
        .collect()
}

fn leaves(spec: &Value) -> usize {
    match spec.get("conditions").and_then(Value::as_array) {
        Some(children) => children.iter().map(leaves).sum(),
        None => spec.get("condition").map_or(1, leaves),
    }
}

fn benches(c: &mut Criterion) {
    let compiler = Compiler::default();
    let text = reference_text();
    let reference: Value = serde_json::from_str(&text).unwrap();
    c.bench_function("reference/compile_raw_value", |b| {
        b.iter(|| compiler.compile_raw(black_box(&reference)).unwrap())
    });
    c.bench_function("reference/compile_value", |b| b.iter(|| compiler.compile(black_box(&reference)).unwrap()));
    c.bench_function("reference/compile_str", |b| b.iter(|| compiler.compile_str(black_box(&text)).unwrap()));
    c.bench_function("baseline/serde_json_parse_reference", |b| {
        b.iter(|| serde_json::from_str::<Value>(black_box(&text)).unwrap())
    });
    let filter = compiler.compile(&reference).unwrap();
    c.bench_function("baseline/clone_compiled_filter", |b| b.iter(|| black_box(&filter).clone()));

    let cases = corpus();
    let compilers: Vec<Compiler> = cases.iter().map(|case| Compiler::new(case.config.clone())).collect();
    let mut group = c.benchmark_group("corpus");
    group.throughput(Throughput::Elements(cases.len() as u64));
    group.bench_function("compile_query_all", |b| {
        b.iter(|| {
            for (case, compiler) in cases.iter().zip(&compilers) {
                black_box(compiler.compile_query(&case.spec, case.options.as_ref()).unwrap());
            }
        })
    });
    group.finish();
}

/// Mean nanoseconds per call of `f` over about `budget`.
fn mean_ns(budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..1_000 {
        f();
    }
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget {
        for _ in 0..100 {
            f();
        }
        calls += 100;
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

/// The median over 5 rounds of `a`'s time / `b`'s time compiling `spec` (compile_raw), the two
/// measured alternately for `budget` each, so both see the same machine load.
fn median_ratio(budget: Duration, a: &Compiler, b: &Compiler, spec: &Value) -> f64 {
    let mut ratios: Vec<f64> = (0..5)
        .map(|_| {
            let on = mean_ns(budget, || {
                black_box(a.compile_raw(black_box(spec)).unwrap());
            });
            let off = mean_ns(budget, || {
                black_box(b.compile_raw(black_box(spec)).unwrap());
            });
            on / off
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[2]
}

fn summary() {
    let compiler = Compiler::default();
    let text = reference_text();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let budget = Duration::from_secs(2);
    let baseline = mean_ns(budget, || {
        black_box(serde_json::from_str::<Value>(black_box(&text)).unwrap());
    });
    let raw = mean_ns(budget, || {
        black_box(compiler.compile_raw(black_box(&reference)).unwrap());
    });
    let compile = mean_ns(budget, || {
        black_box(compiler.compile(black_box(&reference)).unwrap());
    });
    // The safety checks (spec size, string lengths, regex analysis, operator lists) against the
    // same compiler with them switched off, alternated.
    let unchecked = Compiler::new(
        CompilerConfig::default()
            .with_max_spec_len(usize::MAX)
            .with_max_string_len(usize::MAX)
            .with_regex(RegexPolicy::default().allowing_backtracking().with_max_len(usize::MAX)),
    );
    let safety_ratio = median_ratio(budget / 4, &compiler, &unchecked, &reference);
    // A schema declaring the reference spec's fields (values cast by type, operators checked,
    // paths looked up) against the same compiler without one, alternated.
    let schema: FieldSchema = serde_json::from_value(serde_json::json!({"fields": [
        {"name": "status", "type": "string"}, {"name": "total", "type": "integer"},
        {"name": "region", "type": "string", "values": ["eu", "us", "apac"]},
        {"name": "customer.name", "type": "string"}, {"name": "deleted", "type": "bool"},
        {"name": "sku", "type": "string"}, {"name": "qty", "type": "integer"},
        {"name": "tags", "type": "array", "items": "string"}, {"name": "note", "type": "string"}
    ]}))
    .unwrap();
    let with_schema = Compiler::try_new(CompilerConfig::default().with_schema(schema)).unwrap();
    let schema_ratio = median_ratio(budget / 4, &with_schema, &compiler, &reference);
    let filter = compiler.compile(&reference).unwrap();
    let clone = mean_ns(budget, || {
        black_box(black_box(&filter).clone());
    });
    let cases = corpus();
    let compilers: Vec<Compiler> = cases.iter().map(|case| Compiler::new(case.config.clone())).collect();
    let leaf_count: usize = cases.iter().map(|case| leaves(&case.spec)).sum();
    let corpus_ns = mean_ns(budget, || {
        for (case, compiler) in cases.iter().zip(&compilers) {
            black_box(compiler.compile_query(&case.spec, case.options.as_ref()).unwrap());
        }
    });
    println!("\n== summary ==");
    println!(
        "reference spec from a parsed Value: compile_raw {raw:.0} ns (target <= 1500 ns), compile (Document) \
         {compile:.0} ns (target <= 2000 ns); against the legacy compiler, timed in one process: \
         bindings-python/bench/against_legacy.py"
    );
    println!(
        "baseline, clone of the compiled Document: {clone:.0} ns; compile_raw / clone = {:.2}, compile / clone = {:.2}",
        raw / clone,
        compile / clone
    );
    println!(
        "baseline, serde_json parse of the same text: {baseline:.0} ns; compile_raw / parse = {:.2}",
        raw / baseline
    );
    println!(
        "safety checks on (defaults) / off, compile_raw of the reference spec: median {:.3} (5 rounds)",
        safety_ratio
    );
    println!(
        "with a schema / without, compile_raw of the reference spec: median {:.3} (5 rounds; goal <= 1.2)",
        schema_ratio
    );
    println!(
        "golden corpus: {} specs, {} leaves: {:.0} ns per spec, {:.0} ns per leaf",
        cases.len(),
        leaf_count,
        corpus_ns / cases.len() as f64,
        corpus_ns / leaf_count as f64
    );
}

criterion_group!(compile_benches, benches);

fn main() {
    compile_benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
