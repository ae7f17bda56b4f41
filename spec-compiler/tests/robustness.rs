//! Bad input never panics: random JSON, random well-formed-but-wrong specs, and depth bombs.

use cqrs_mongo_spec::{
    Compiler, CompilerConfig, ErrorCode, MAX_DEPTH_LIMIT, Spec, compile, compile_spec, compile_str, not, validate,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![Just("$date"), Just("$oid"), Just("$numberDecimal"), Just("$gt"), Just("op"), Just("val")]
            .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("op".to_owned()),
        Just("attr".to_owned()),
        Just("val".to_owned()),
        Just("value_type".to_owned()),
        Just("conditions".to_owned()),
        Just("condition".to_owned()),
        Just("$date".to_owned()),
        Just("$binary".to_owned()),
        Just("$type".to_owned()),
        Just("type".to_owned()),
        Just("coordinates".to_owned()),
        "[a-z$.]{0,6}",
    ]
}

/// Specs with the right skeleton but random operators, fields, values and casts.
fn wrong_spec() -> impl Strategy<Value = Value> {
    let names: Vec<&'static str> =
        cqrs_mongo_spec::operators().iter().map(|o| o.name).chain(["eq", "GE", "nope", "IN"]).collect();
    let types = ["integer", "date", "interval", "uuid", "json", "list", "auto", "decimal", "time", "bool", "money"];
    let leaf = (
        prop::sample::select(names),
        "[a-z$.]{0,8}",
        any_json(),
        prop::option::of(prop::sample::select(types.to_vec())),
    )
        .prop_map(|(op, attr, val, value_type)| {
            let mut node = json!({"op": op, "attr": attr, "val": val});
            if let Some(value_type) = value_type {
                node["value_type"] = json!(value_type);
            }
            node
        });
    leaf.prop_recursive(5, 40, 5, |inner| {
        prop_oneof![
            (prop::sample::select(vec!["and", "or", "AND"]), prop::collection::vec(inner.clone(), 0..5))
                .prop_map(|(op, children)| json!({"op": op, "conditions": children})),
            inner.clone().prop_map(|child| json!({"op": "not", "condition": child})),
            inner.prop_map(|child| json!({"op": "not", "conditions": [child]})),
        ]
    })
}

/// compile and validate must agree: a spec compiles exactly when validate finds nothing, and
/// the first error of validate is the error of compile.
fn check_consistent(spec: &Value) -> Result<(), TestCaseError> {
    let compiled = compile(spec);
    let errors = validate(spec);
    match compiled {
        Ok(_) => prop_assert!(errors.is_empty(), "compiled, but validate found {errors:?}"),
        Err(err) => {
            prop_assert!(!errors.is_empty(), "failed with {err}, but validate found nothing");
            prop_assert_eq!(&errors[0], &err);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_json_never_panics(spec in any_json()) {
        check_consistent(&spec)?;
        let _ = Compiler::default().compile_query(&spec, Some(&spec));
    }

    #[test]
    fn wrong_specs_never_panic(spec in wrong_spec()) {
        check_consistent(&spec)?;
    }

    #[test]
    fn random_text_never_panics(text in ".{0,64}") {
        let _ = compile_str(&text);
    }

    #[test]
    fn json_text_parses_like_serde_json_but_refuses_integers_outside_int64(value in any_json()) {
        let text = serde_json::to_string(&value).unwrap();
        match cqrs_mongo_spec::parse_json(&text) {
            Ok(parsed) => {
                prop_assert!(!has_integer_outside_int64(&value), "{text} parsed");
                // serde_json's own float parsing is not always exact: compare with it, not `value`.
                prop_assert_eq!(parsed, serde_json::from_str::<Value>(&text).unwrap());
            }
            Err(err) => {
                prop_assert!(has_integer_outside_int64(&value), "{text}: {err}");
                prop_assert_eq!(err.code(), ErrorCode::InvalidValue);
            }
        }
    }

    #[test]
    fn compiled_specs_round_trip_through_the_ast(spec in wrong_spec()) {
        if let Ok(parsed) = Spec::from_value(&spec) {
            let json = parsed.to_json();
            prop_assert_eq!(compile(&json), compile(&spec));
        }
    }
}

fn has_integer_outside_int64(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_u64() && n.as_i64().is_none(),
        Value::Array(items) => items.iter().any(has_integer_outside_int64),
        Value::Object(map) => map.values().any(has_integer_outside_int64),
        _ => false,
    }
}

fn not_chain(depth: usize) -> Value {
    // Built by moving maps (json! would serialise `value` by reference, recursively).
    let mut value = json!({"op": "is_null", "attr": "a"});
    for _ in 0..depth {
        let mut node = Map::new();
        node.insert("op".to_owned(), Value::from("not"));
        node.insert("condition".to_owned(), value);
        value = Value::Object(node);
    }
    value
}

#[test]
fn ten_thousand_nested_nots_are_too_deep() {
    let bomb = not_chain(10_000);
    let err = compile(&bomb).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooDeep);
    assert_eq!(err.path().len(), 32, "reported at the first node beyond the default depth of 32");
    assert_eq!(validate(&bomb)[0].code(), ErrorCode::TooDeep);
    // serde_json drops nested values recursively; the compiler is what is under test here.
    std::mem::forget(bomb);
}

#[test]
fn ten_thousand_nested_nots_as_text_are_too_deep() {
    let text = format!(
        "{}{{\"op\":\"is_null\",\"attr\":\"a\"}}{}",
        "{\"op\":\"not\",\"condition\":".repeat(10_000),
        "}".repeat(10_000)
    );
    assert_eq!(compile_str(&text).unwrap_err().code(), ErrorCode::TooDeep);
}

#[test]
fn ten_thousand_nested_nots_built_in_rust_are_too_deep() {
    let mut spec = Spec::field("a").is_null();
    for _ in 0..10_000 {
        spec = not(spec);
    }
    assert_eq!(compile_spec(&spec).unwrap_err().code(), ErrorCode::TooDeep);
    std::mem::forget(spec);
}

#[test]
fn depth_limit_is_configurable() {
    let compiler = Compiler::new(CompilerConfig::default().with_max_depth(MAX_DEPTH_LIMIT));
    assert!(compiler.compile(&not_chain(MAX_DEPTH_LIMIT - 1)).is_ok());
    assert_eq!(compiler.compile(&not_chain(MAX_DEPTH_LIMIT)).unwrap_err().code(), ErrorCode::TooDeep);
}

#[test]
fn node_limit_stops_wide_specs() {
    let leaves: Vec<Value> = (0..5_000).map(|i| json!({"op": "=", "attr": "a", "val": i})).collect();
    let err = compile(&json!({"op": "or", "conditions": leaves})).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooManyNodes);
    assert_eq!(err.path_string(), "<root>.conditions[999]");
}
