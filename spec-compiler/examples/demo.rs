//! Compiles the README's example specifications and prints the MongoDB filters, find plans
//! and pipelines as relaxed Extended JSON. Run with `bash scripts/demo.sh`.

use cqrs_mongo_spec::{Compiler, CompilerConfig, Spec, and, compile_spec, not, or};
use serde_json::{Value, json};

fn show(title: &str, spec: &Value, options: Option<&Value>) {
    println!("── {title}");
    println!("spec:    {spec}");
    if let Some(options) = options {
        println!("options: {options}");
    }
    match Compiler::default().compile_query(spec, options) {
        Ok(query) => println!("result:  {}\n", query.to_relaxed_extjson()),
        Err(err) => println!("error [{}] {err}\n", err.code()),
    }
}

fn main() {
    let reference: Value =
        serde_json::from_str(include_str!("../../tests/bench/reference.json")).expect("reference spec");
    show("the reference spec (10 conditions)", &reference, None);

    show(
        "a UI filter with paging and sorting",
        &json!({"op": "and", "conditions": [
            {"op": "in", "attr": "region", "val": ["eu", "us"]},
            {"op": "ilike", "attr": "customer.name", "val": "%smith%"},
            {"op": ">=", "attr": "created_at", "val": "2024-01-01", "value_type": "datetime"}
        ]}),
        Some(
            &json!({"order_by": ["-created_at"], "offset": 20, "limit": 10, "select_fields": ["customer.name", "total"]}),
        ),
    );

    show(
        "orders per region (group_by becomes an aggregation pipeline)",
        &json!({"op": "=", "attr": "status", "val": "active"}),
        Some(&json!({"group_by": ["region"], "order_by": ["-count"]})),
    );

    show(
        "geo: within 30 km of Paris",
        &json!({"op": "dwithin", "attr": "location", "val": [[2.3522, 48.8566], 30000]}),
        None,
    );

    show(
        "a mistake is reported with its path and the closest operator names",
        &json!({"op": "and", "conditions": [{"op": "=", "attr": "a", "val": 1}, {"op": "betwen", "attr": "qty", "val": [1, 10]}]}),
        None,
    );

    println!("── the same kind of filter built in Rust");
    let spec = and([
        Spec::field("total").gte(100),
        or([Spec::field("sku").startswith("AB-"), Spec::field("sku").endswith("-X")]),
        not(Spec::field("deleted").eq(true)),
    ]);
    println!("spec:    {}", spec.to_json());
    println!("filter:  {}\n", bson::Bson::Document(compile_spec(&spec).unwrap()).into_relaxed_extjson());

    println!("── a whitelist keeps a browser from filtering on private fields");
    let compiler = Compiler::new(CompilerConfig::default().allow_fields(["status", "customer.*"]));
    let err = compiler.compile(&json!({"op": "=", "attr": "password_hash", "val": "x"})).unwrap_err();
    println!("error [{}] {err}", err.code());
}
