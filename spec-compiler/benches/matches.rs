//! In-memory evaluation speed: the reference spec (`tests/bench/reference.json`) against one
//! order document it matches (every condition is evaluated: an `and` that fails early would
//! flatter the number), and against one it does not match on its last condition.
//!
//! Prints the mean time per document of a prepared [`Matcher`] (the filter parsed once, the
//! common use: filtering many documents), of `Compiler::matches` (compile + parse + evaluate, one
//! call) and of its parts (`Compiler::compile`, `Matcher::new`), and ratios to a baseline
//! measured in the same run: cloning the document (the cost of merely copying what is
//! evaluated). The goal (issue 24) is a prepared match ≤ 1 µs.
//!
//! Under a profiler, `--profile-time N NAME` runs only the benchmark `NAME` (no summary).
//!
//! `cargo bench -p cqrs-mongo-spec --bench matches`

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use bson::{Document, RawDocumentBuf, doc};
use cqrs_mongo_spec::{Compiler, Matcher};
use criterion::{Criterion, criterion_group};
use serde_json::Value;

fn reference() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/bench/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("reference spec")).unwrap()
}

/// An order the reference spec matches, with fields it does not read, as stored documents have.
fn order(note: &str) -> Document {
    doc! {
        "_id": "o-1042",
        "status": "active",
        "total": 250,
        "region": "eu",
        "customer": {"name": "Ann Goldsmith", "email": "jane@example.com", "since": bson::DateTime::from_millis(1_700_000_000_000)},
        "deleted": false,
        "sku": "AB-100",
        "qty": 5,
        "tags": ["vip", "repeat"],
        "note": note,
        "items": [{"sku": "AB-100", "qty": 2, "price": 75.5}, {"sku": "ZZ-1-X", "qty": 3, "price": 33.0}],
        "created_at": bson::DateTime::from_millis(1_717_200_000_000),
    }
}

fn benches(c: &mut Criterion) {
    let compiler = Compiler::default();
    let spec = reference();
    let matcher = Matcher::new(&compiler.compile(&spec).unwrap()).unwrap();
    let hit = order("URGENT: call before noon");
    let miss = order("call before noon");
    assert!(matcher.matches(&hit).unwrap() && !matcher.matches(&miss).unwrap());
    c.bench_function("matches/prepared_hit", |b| b.iter(|| matcher.matches(black_box(&hit)).unwrap()));
    c.bench_function("matches/prepared_miss", |b| b.iter(|| matcher.matches(black_box(&miss)).unwrap()));
    let hit_bytes = RawDocumentBuf::try_from(&hit).unwrap();
    assert!(matcher.matches_raw(&hit_bytes).unwrap());
    c.bench_function("matches/prepared_raw_hit", |b| b.iter(|| matcher.matches_raw(black_box(&hit_bytes)).unwrap()));
    c.bench_function("matches/compiler_matches", |b| {
        b.iter(|| compiler.matches(black_box(&spec), black_box(&hit)).unwrap())
    });
    let filter = compiler.compile(&spec).unwrap();
    c.bench_function("matches/matcher_new", |b| b.iter(|| Matcher::new(black_box(&filter)).unwrap()));
    c.bench_function("baseline/clone_document", |b| b.iter(|| black_box(&hit).clone()));
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

fn summary() {
    let compiler = Compiler::default();
    let spec = reference();
    let matcher = Matcher::new(&compiler.compile(&spec).unwrap()).unwrap();
    let (hit, miss) = (order("URGENT: call before noon"), order("call before noon"));
    let budget = Duration::from_secs(2);
    let clone = mean_ns(budget, || {
        black_box(black_box(&hit).clone());
    });
    let prepared = mean_ns(budget, || {
        black_box(matcher.matches(black_box(&hit)).unwrap());
    });
    let prepared_miss = mean_ns(budget, || {
        black_box(matcher.matches(black_box(&miss)).unwrap());
    });
    let hit_bytes = RawDocumentBuf::try_from(&hit).unwrap();
    let prepared_raw = mean_ns(budget, || {
        black_box(matcher.matches_raw(black_box(&hit_bytes)).unwrap());
    });
    let one_call = mean_ns(budget, || {
        black_box(compiler.matches(black_box(&spec), black_box(&hit)).unwrap());
    });
    let compile = mean_ns(budget, || {
        black_box(compiler.compile(black_box(&spec)).unwrap());
    });
    let filter = compiler.compile(&spec).unwrap();
    let parse = mean_ns(budget, || {
        black_box(Matcher::new(black_box(&filter)).unwrap());
    });
    println!("\n== summary ==");
    println!(
        "reference spec, prepared Matcher: {prepared:.0} ns per matching document, {prepared_miss:.0} ns per \
         document failing the last condition (goal <= 1000 ns); Compiler::matches (compile + parse + \
         evaluate): {one_call:.0} ns, of which Compiler::compile {compile:.0} ns and Matcher::new {parse:.0} ns"
    );
    println!(
        "the same matching document as BSON bytes, Matcher::matches_raw: {prepared_raw:.0} ns (/ matches on the \
         Document = {:.2})",
        prepared_raw / prepared
    );
    println!(
        "baseline, clone of the document: {clone:.0} ns; prepared / clone = {:.2}, Compiler::matches / clone = {:.2}, \
         Matcher::new / clone = {:.2}",
        prepared / clone,
        one_call / clone,
        parse / clone
    );
}

criterion_group!(group, benches);

fn main() {
    group();
    criterion::Criterion::default().configure_from_args().final_summary();
    // `--profile-time` (under a profiler): only the benchmark asked for.
    if !std::env::args().any(|arg| arg == "--profile-time") {
        summary();
    }
}
