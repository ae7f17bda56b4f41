//! Depth limits end to end: `max_depth` is capped at what MongoDB accepts (the compiled filter
//! nests at most 100 levels), the deepest allowed spec compiles and serialises on a 2 MiB
//! thread in a debug build, one level more is `too_deep` at its path, and JSON text nested far
//! beyond serde_json's limit is `too_deep` with a path, never a crash.

use bson::{Bson, Document, RawDocumentBuf};
use cqrs_mongo_spec::{
    Compiler, CompilerConfig, ConfigError, ErrorCode, ExtJsonFormat, MAX_DEPTH_LIMIT, MAX_FILTER_DEPTH, PathSegment,
    SpecError, compile_str, to_extjson_string, validate,
};
use serde_json::{Map, Value, json};

const STACK: usize = 2 << 20;

/// Runs `f` on a thread with the stack of a default test (or tokio worker) thread.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(STACK).spawn(f).expect("spawn").join().expect("no panic")
}

fn node(op: &str, key: &str, child: Value) -> Value {
    let mut map = Map::new();
    map.insert("op".to_owned(), Value::from(op));
    map.insert(key.to_owned(), child);
    Value::Object(map)
}

/// `nots` times `{"op": "not", "condition": …}` around `leaf`.
fn not_chain(nots: usize, leaf: Value) -> Value {
    (0..nots).fold(leaf, |inner, _| node("not", "condition", inner))
}

/// `groups` times `{"op": "and", "conditions": […]}` around `leaf`.
fn and_chain(groups: usize, leaf: Value) -> Value {
    (0..groups).fold(leaf, |inner, _| node("and", "conditions", Value::Array(vec![inner])))
}

/// `{"a": {"a": … 1}}`, `levels` objects deep.
fn nested_object(levels: usize) -> Value {
    (0..levels).fold(json!(1), |inner, _| json!({ "a": inner }))
}

/// The deepest leaf of a fixed shape: `disjoint` with a GeometryCollection holding a
/// MultiPolygon compiles to 12 levels.
fn deepest_leaf() -> Value {
    let ring = json!([[0, 0], [1, 0], [1, 1], [0, 0]]);
    json!({"op": "disjoint", "attr": "area", "val": {
        "type": "GeometryCollection",
        "geometries": [{"type": "MultiPolygon", "coordinates": [[ring]]}],
    }})
}

fn levels(value: &Bson) -> usize {
    match value {
        Bson::Document(doc) => 1 + doc.values().map(levels).max().unwrap_or(0),
        Bson::Array(items) => 1 + items.iter().map(levels).max().unwrap_or(0),
        _ => 0,
    }
}

fn at_cap() -> Compiler {
    Compiler::try_new(CompilerConfig::default().with_max_depth(MAX_DEPTH_LIMIT)).expect("the cap itself is allowed")
}

fn keys(segments: &[&str]) -> Vec<PathSegment> {
    segments.iter().map(|s| PathSegment::Key((*s).to_owned())).collect()
}

/// Every way the crate and its callers turn a compiled filter into bytes or text.
fn serialise_every_way(compiler: &Compiler, spec: &Value) -> usize {
    let query = compiler.compile_query(spec, Some(&json!({"limit": 5}))).expect("compiles");
    let filter = Bson::Document(query.filter.clone());
    let depth = levels(&filter);
    let raw = compiler.compile_raw(spec).expect("compiles to bytes");
    assert_eq!(raw.as_bytes(), RawDocumentBuf::try_from(&query.filter).unwrap().as_bytes());
    let back = Document::try_from(raw.as_ref()).expect("bytes decode");
    assert_eq!(back, query.filter);
    for format in [ExtJsonFormat::Canonical, ExtJsonFormat::Relaxed] {
        let text = to_extjson_string(&raw, format);
        let reparsed: Value = serde_json::from_str(&text).expect("our Extended JSON parses");
        assert!(reparsed.is_object());
        assert!(!query.to_extjson_string(format).is_empty());
    }
    let canonical = filter.clone().into_canonical_extjson();
    let relaxed = filter.clone().into_relaxed_extjson();
    assert_eq!(Bson::try_from(canonical.clone()).unwrap(), filter);
    assert!(serde_json::to_string(&relaxed).unwrap().len() > 10);
    assert!(compiler.compile_query_extjson(spec, None, ExtJsonFormat::Canonical).is_ok());
    assert!(compiler.validate(spec).is_empty());
    assert!(!format!("{filter}").is_empty());
    std::mem::forget(canonical);
    depth
}

#[test]
fn max_depth_above_the_cap_is_a_typed_config_error() {
    assert_eq!(MAX_FILTER_DEPTH, 100);
    let too_deep = CompilerConfig::default().with_max_depth(MAX_DEPTH_LIMIT + 1);
    assert_eq!(too_deep.validate(), Err(ConfigError::MaxDepthAboveLimit { max_depth: MAX_DEPTH_LIMIT + 1 }));
    let err = Compiler::try_new(too_deep).unwrap_err();
    assert_eq!(err.setting(), "max_depth");
    assert!(err.to_string().contains("100 levels"), "{err}");
    assert!(Compiler::try_new(CompilerConfig::default().with_max_depth(400)).is_err());
    assert!(Compiler::try_new(CompilerConfig::default().with_max_depth(MAX_DEPTH_LIMIT)).is_ok());
    // Settings read from JSON (the golden files' "config") are checked the same way.
    let refused = serde_json::from_value::<CompilerConfig>(json!({"max_depth": MAX_DEPTH_LIMIT + 1})).unwrap_err();
    assert!(refused.to_string().contains("max_depth"), "{refused}");
    assert!(serde_json::from_value::<CompilerConfig>(json!({"max_depth": MAX_DEPTH_LIMIT})).is_ok());
}

#[test]
fn a_compiler_built_with_a_config_above_the_cap_refuses_every_compile_without_panicking() {
    let compiler = Compiler::new(CompilerConfig::default().with_max_depth(400));
    let spec = json!({"op": "=", "attr": "a", "val": 1});
    let refused = |err: cqrs_mongo_spec::SpecError| {
        assert_eq!((err.code(), err.path_string().as_str()), (ErrorCode::InvalidOption, "<root>.settings.max_depth"));
        assert!(err.to_string().contains("100 levels"), "{err}");
    };
    refused(compiler.compile(&spec).unwrap_err());
    refused(compiler.compile_raw(&spec).unwrap_err());
    refused(compiler.compile_str(r#"{"op":"=","attr":"a","val":1}"#).unwrap_err());
    refused(compiler.compile_query(&spec, Some(&json!({"limit": 1}))).unwrap_err());
    let built = cqrs_mongo_spec::Spec::from_value(&spec).unwrap();
    refused(compiler.compile_spec(&built).unwrap_err());
    refused(compiler.compile_spec_raw(&built).unwrap_err());
    let errors = compiler.validate(&spec);
    assert_eq!(errors.len(), 1);
    refused(errors.into_iter().next().unwrap());
}

#[test]
fn a_hand_set_field_cannot_push_parsing_past_the_cap() {
    let mut config = CompilerConfig::default();
    config.max_depth = 10_000;
    let spec = not_chain(MAX_DEPTH_LIMIT, json!({"op": "is_null", "attr": "a"}));
    let err = on_small_stack(move || cqrs_mongo_spec::Spec::parse_with(&spec, &config).map(drop).unwrap_err());
    assert_eq!(err.code(), ErrorCode::TooDeep);
    assert_eq!(err.path().len(), MAX_DEPTH_LIMIT);
}

#[test]
fn the_deepest_spec_at_the_cap_compiles_to_100_levels_on_a_small_stack() {
    let depth = on_small_stack(|| {
        let compiler = at_cap();
        let not_form = serialise_every_way(&compiler, &not_chain(MAX_DEPTH_LIMIT - 1, deepest_leaf()));
        let and_form = serialise_every_way(&compiler, &and_chain(MAX_DEPTH_LIMIT - 1, deepest_leaf()));
        assert_eq!(not_form, and_form);
        not_form
    });
    assert_eq!(depth, MAX_FILTER_DEPTH);
}

#[test]
fn one_level_past_the_cap_is_too_deep_at_that_node() {
    let compiler = at_cap();
    let err = compiler.compile(&not_chain(MAX_DEPTH_LIMIT, deepest_leaf())).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooDeep);
    assert_eq!(err.path(), keys(&["condition"; MAX_DEPTH_LIMIT]).as_slice());
    let err = compiler.compile(&and_chain(MAX_DEPTH_LIMIT, deepest_leaf())).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooDeep);
    assert_eq!(err.path().len(), 2 * MAX_DEPTH_LIMIT);
    assert_eq!(err.path_string(), format!("<root>{}", ".conditions[0]".repeat(MAX_DEPTH_LIMIT)));
}

#[test]
fn a_value_that_takes_the_filter_past_100_levels_is_too_deep_at_val() {
    let compiler = at_cap();
    // 44 nots (88 levels) + {a: {$eq: …}} (2) + 10 nested objects = 100.
    let fits = not_chain(MAX_DEPTH_LIMIT - 1, json!({"op": "=", "attr": "a", "val": nested_object(10)}));
    assert_eq!(on_small_stack(move || serialise_every_way(&at_cap(), &fits)), MAX_FILTER_DEPTH);
    let over = not_chain(MAX_DEPTH_LIMIT - 1, json!({"op": "=", "attr": "a", "val": nested_object(11)}));
    let err = compiler.compile(&over).unwrap_err();
    let mut path = vec!["condition"; MAX_DEPTH_LIMIT - 1];
    path.push("val");
    assert_eq!((err.code(), err.path()), (ErrorCode::TooDeep, keys(&path).as_slice()));
    assert!(err.message().contains("100"), "{}", err.message());
    assert_eq!(compiler.validate(&over), vec![err.clone()]);
    assert_eq!(compiler.compile_raw(&over).unwrap_err(), err);
    // The same for a list value under `in` (a list adds a level of its own).
    let listed = json!({"op": "in", "attr": "a", "val": [nested_object(97)]});
    assert!(compiler.compile(&listed).is_ok());
    let listed = json!({"op": "in", "attr": "a", "val": [nested_object(98)]});
    assert_eq!(compiler.compile(&listed).unwrap_err().path(), keys(&["val"]).as_slice());
}

#[test]
fn validate_reports_each_leaf_that_is_too_deep_once() {
    let deep = json!({"op": "=", "attr": "a", "val": nested_object(99)});
    let spec = json!({"op": "or", "conditions": [deep, {"op": "=", "attr": "b", "val": 1}, deep]});
    let errors: Vec<String> = validate(&spec).iter().map(SpecError::path_string).collect();
    assert_eq!(errors, ["<root>.conditions[0].val", "<root>.conditions[2].val"]);
}

#[test]
fn json_text_nested_100_000_levels_is_too_deep_with_a_path() {
    let nots = 100_000;
    let text = format!(
        "{}{{\"op\":\"is_null\",\"attr\":\"a\"}}{}",
        "{\"op\":\"not\",\"condition\":".repeat(nots),
        "}".repeat(nots)
    );
    let err = on_small_stack(move || compile_str(&text).unwrap_err());
    assert_eq!(err.code(), ErrorCode::TooDeep);
    // serde_json parses at most 127 nested lists and objects: the 128th is refused.
    assert_eq!(err.path(), keys(&["condition"; 127]).as_slice());
    let lists = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = on_small_stack(move || compile_str(&lists).unwrap_err());
    assert_eq!((err.code(), err.path()), (ErrorCode::TooDeep, vec![PathSegment::Index(0); 127].as_slice()));
    let options = format!("{{\"order_by\":{}{}}}", "[".repeat(300), "]".repeat(300));
    let err = Compiler::default().compile_query_str("{\"op\":\"is_null\",\"attr\":\"a\"}", Some(&options)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooDeep);
    assert_eq!(err.path()[..2], [PathSegment::Key("options".into()), PathSegment::Key("order_by".into())]);
    assert_eq!(err.path().len(), 128);
}
