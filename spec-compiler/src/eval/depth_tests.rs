//! No input overflows the stack: documents and filters nested 10 000 levels deep (fifty times
//! MongoDB's limit) are evaluated, or refused with a typed error, on the test thread's own stack
//! (2 MiB by default), through every recursion over documents (paths through documents and
//! arrays, comparisons, `$expr` values, `$elemMatch`, geometry) and over filters.
//!
//! The deep values are built iteratively (each level moved into the next) and taken apart
//! iteratively ([`Deep`], [`dismantle`]): `Drop` of `Bson` recurses once per level, so dropping
//! them whole would itself overflow.

use bson::{Bson, Document, doc};
use serde_json::{Value, json};

use super::error::MAX_DEPTH;
use super::{EvalErrorCode, MatchError, matches};
use crate::Compiler;

const DEEP: usize = 10_000;

/// `{a: {a: … {a: leaf}}}` with `levels` documents, the top-level one included.
fn nested_documents(levels: usize, leaf: Bson) -> Document {
    let mut doc = doc! {"a": leaf};
    for _ in 1..levels {
        doc = doc! {"a": doc};
    }
    doc
}

/// `[[… [leaf] …]]`, `levels` arrays.
fn nested_arrays(levels: usize, leaf: Bson) -> Bson {
    let mut value = Bson::Array(vec![leaf]);
    for _ in 1..levels {
        value = Bson::Array(vec![value]);
    }
    value
}

/// `{a: [{a: [… {a: leaf}]}]}`: `levels` documents, each in an array.
fn documents_in_arrays(levels: usize, leaf: Bson) -> Document {
    let mut doc = doc! {"a": leaf};
    for _ in 1..levels {
        doc = doc! {"a": [doc]};
    }
    doc
}

/// Drops a value of any depth without recursing: each level is emptied before it is dropped.
fn dismantle(value: impl Into<Bson>) {
    let mut stack = vec![value.into()];
    while let Some(value) = stack.pop() {
        match value {
            Bson::Document(doc) => stack.extend(doc.into_iter().map(|(_, v)| v)),
            Bson::Array(items) => stack.extend(items),
            Bson::JavaScriptCodeWithScope(code) => stack.push(Bson::Document(code.scope)),
            _ => {}
        }
    }
}

/// A deep document taken apart iteratively when dropped, also when a failing assertion unwinds.
struct Deep(Document);

impl std::ops::Deref for Deep {
    type Target = Document;

    fn deref(&self) -> &Document {
        &self.0
    }
}

impl Drop for Deep {
    fn drop(&mut self) {
        dismantle(std::mem::take(&mut self.0));
    }
}

/// The same for JSON (a spec).
fn dismantle_json(value: Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
}

/// `"a.a.…"`, `parts` segments.
fn long_path(part: &str, parts: usize) -> String {
    vec![part; parts].join(".")
}

fn refused_as_too_deep(filter: &Document, doc: &Document) {
    let err = matches(filter, doc).expect_err("refused");
    assert_eq!(err.code(), EvalErrorCode::InvalidFilter, "{err}");
    assert!(err.message().contains("levels deep"), "{err}");
}

#[test]
fn a_deep_document_answers_where_the_filter_stays_shallow() {
    let deep = Deep(nested_documents(DEEP, Bson::Int32(1)));
    assert!(!matches(&doc! {"a": 1}, &deep).unwrap());
    assert!(matches(&doc! {"a": {"$exists": true}}, &deep).unwrap());
    assert!(matches(&doc! {"a": {"$type": "object"}}, &deep).unwrap());
    // The operand bounds the comparison: it stops where the operand ends.
    assert!(!matches(&doc! {"a": {"$eq": {"a": {"a": 1}}}}, &deep).unwrap());
    assert!(!matches(&doc! {"a": {"$in": [{"a": {"a": 1}}, 2]}}, &deep).unwrap());
    assert!(matches(&doc! {"a": {"$gt": {"a": {"a": 1}}}}, &deep).unwrap()); // a document is above 1
    assert!(!matches(&doc! {"a": {"$elemMatch": {"a": 1}}}, &deep).unwrap());
    // A path within MongoDB's levels.
    assert!(matches(&doc! {long_path("a", MAX_DEPTH - 1): {"$type": "object"}}, &deep).unwrap());
}

#[test]
fn a_deep_document_is_refused_where_evaluation_would_go_past_the_limit() {
    let deep = Deep(nested_documents(DEEP, Bson::Int32(1)));
    refused_as_too_deep(&doc! {long_path("a", 300): 1}, &deep);
    refused_as_too_deep(&doc! {"$expr": {"$eq": ["$a", "$a"]}}, &deep);
    refused_as_too_deep(&doc! {"$expr": {"$eq": ["$$ROOT", {}]}}, &deep);
    refused_as_too_deep(&doc! {"$expr": {"$eq": [["$a"], 1]}}, &deep);
    refused_as_too_deep(&doc! {"$expr": {"$eq": [{"x": "$a"}, 1]}}, &deep);
    refused_as_too_deep(&doc! {"$expr": {"$eq": [format!("${}", long_path("a", 300)), 1]}}, &deep);
}

#[test]
fn deep_arrays_are_neither_entered_nor_copied_past_the_limit() {
    let deep = Deep(doc! {"a": nested_arrays(DEEP, Bson::Int32(1))});
    // Nested arrays are not entered by a path: the element and the whole array are compared
    // with the operand, which bounds the comparison.
    assert!(!matches(&doc! {"a": 1}, &deep).unwrap());
    assert!(!matches(&doc! {"a": [[[1]]]}, &deep).unwrap());
    assert!(matches(&doc! {"a": {"$size": 1}}, &deep).unwrap());
    let mut elem_match = doc! {"$eq": 1};
    for _ in 0..40 {
        elem_match = doc! {"$elemMatch": elem_match};
    }
    assert!(!matches(&doc! {"a": elem_match}, &deep).unwrap());
    let mut on_documents = doc! {"0": 1};
    for _ in 0..40 {
        on_documents = doc! {"0": {"$elemMatch": on_documents}};
    }
    assert!(!matches(&doc! {"a": {"$elemMatch": on_documents}}, &deep).unwrap());
    // Positions enter nested arrays; `$expr` compares whole arrays.
    refused_as_too_deep(&doc! {long_path("0", 300).replacen('0', "a", 1): 1}, &deep);
    refused_as_too_deep(&doc! {"$expr": {"$gt": ["$a", "$a"]}}, &deep);
}

#[test]
fn paths_through_arrays_of_documents_stop_at_the_limit() {
    let deep = Deep(documents_in_arrays(DEEP, Bson::Int32(1)));
    assert!(matches(&doc! {"a": {"$type": "array"}}, &deep).unwrap());
    refused_as_too_deep(&doc! {long_path("a", 300): 1}, &deep);
    refused_as_too_deep(&doc! {"$expr": {"$eq": [format!("${}", long_path("a", 300)), 1]}}, &deep);
}

#[test]
fn deep_stored_geometry_is_no_geometry() {
    let polygon = doc! {"$geometry": {"type": "Polygon", "coordinates": [[[0, 0], [0, 1], [1, 1], [0, 0]]]}};
    let shapes = Deep(doc! {
        "polygon": {"type": "Polygon", "coordinates": nested_arrays(DEEP, Bson::Int32(0))},
        "multi": {"type": "MultiPolygon", "coordinates": nested_arrays(DEEP, Bson::Int32(0))},
        "lines": {"type": "MultiLineString", "coordinates": nested_arrays(DEEP, Bson::Int32(0))},
        "collection": {"type": "GeometryCollection", "geometries": [nested_documents(DEEP, Bson::Null)]},
    });
    for field in ["polygon", "multi", "lines", "collection"] {
        assert!(!matches(&doc! {field: {"$geoIntersects": polygon.clone()}}, &shapes).unwrap(), "{field}");
    }
}

#[test]
fn deep_filters_are_refused_before_they_are_read() {
    let empty = Document::new();
    let mut and = doc! {"a": 1};
    for _ in 0..DEEP {
        and = doc! {"$and": [and]};
    }
    let mut elem_match = doc! {"b": 1};
    for _ in 0..DEEP {
        elem_match = doc! {"a": {"$elemMatch": elem_match}};
    }
    let mut not = doc! {"$eq": 1};
    for _ in 0..DEEP {
        not = doc! {"$not": not};
    }
    let mut expr = Bson::Int32(1);
    for _ in 0..DEEP {
        expr = Bson::Document(doc! {"$not": [expr]});
    }
    let filters = [
        and,
        elem_match,
        doc! {"a": not},
        doc! {"$expr": expr},
        doc! {"a": {"$eq": nested_documents(DEEP, Bson::Null)}},
        doc! {"a": {"$in": [nested_arrays(DEEP, Bson::Null)]}},
        doc! {"a": nested_documents(DEEP, Bson::Null)},
        doc! {"a": {"$geoWithin": {"$geometry": nested_documents(DEEP, Bson::Null)}}},
    ];
    for filter in filters.map(Deep) {
        let err = matches(&filter, &empty).expect_err("refused");
        assert_eq!(err.code(), EvalErrorCode::InvalidFilter, "{err}");
        assert_eq!(err.path().len(), MAX_DEPTH, "{err}");
    }
}

#[test]
fn the_limit_itself_is_accepted() {
    // `{a: {$eq: 1}}` is 2 levels, each `{$and: [...]}` around it 2 more: 200 levels, then 202.
    let mut filter = doc! {"a": {"$eq": 1}};
    for _ in 1..MAX_DEPTH / 2 {
        filter = doc! {"$and": [filter]};
    }
    assert!(matches(&filter, &doc! {"a": 1}).unwrap());
    let filter = doc! {"$and": [filter]};
    assert_eq!(matches(&filter, &doc! {"a": 1}).unwrap_err().path().len(), MAX_DEPTH);
    // A document of 200 levels is read to the bottom, compared and copied whole.
    let deep = nested_documents(MAX_DEPTH, Bson::Int32(1));
    assert!(matches(&doc! {long_path("a", MAX_DEPTH): 1}, &deep).unwrap());
    assert!(matches(&doc! {"$expr": {"$eq": ["$$ROOT", "$$ROOT"]}}, &deep).unwrap());
    assert!(matches(&doc! {"$expr": {"$eq": ["$a", "$a"]}}, &deep).unwrap());
    // One more level is one too many.
    let deeper = nested_documents(MAX_DEPTH + 1, Bson::Int32(1));
    refused_as_too_deep(&doc! {long_path("a", MAX_DEPTH + 1): 1}, &deeper);
    refused_as_too_deep(&doc! {"$expr": {"$eq": ["$$ROOT", "$$ROOT"]}}, &deeper);
}

#[test]
fn a_deep_regex_is_refused() {
    let pattern = format!("{}a{}", "(".repeat(DEEP), ")".repeat(DEEP));
    let err = matches(&doc! {"s": {"$regex": pattern}}, &doc! {"s": "a"}).expect_err("refused");
    assert_eq!(err.code(), EvalErrorCode::InvalidRegex, "{err}");
}

#[test]
fn compiler_matches_on_deep_documents_and_specs() {
    let compiler = Compiler::default();
    let deep = Deep(doc! {"a": nested_documents(DEEP, Bson::Int32(1)), "b": nested_documents(DEEP, Bson::Int32(1))});
    assert!(!compiler.matches(&json!({"op": "=", "attr": "a", "val": 1}), &deep).unwrap());
    assert!(compiler.matches(&json!({"op": "is_not_null", "attr": "a.a.a"}), &deep).unwrap());
    let two_fields = json!({"op": "=", "attr": "a", "field": "b"});
    match compiler.matches(&two_fields, &deep) {
        Err(MatchError::Eval(err)) => assert_eq!(err.code(), EvalErrorCode::InvalidFilter, "{err}"),
        other => panic!("{other:?}"),
    }
    let path = json!({"op": "=", "attr": long_path("a", 300), "val": 1});
    match compiler.matches(&path, &deep) {
        Err(MatchError::Eval(err)) => assert_eq!(err.code(), EvalErrorCode::InvalidFilter, "{err}"),
        Err(MatchError::Spec(_)) => {} // the compiler's own limits may refuse the path first
        other => panic!("{other:?}"),
    }
    let mut spec = json!({"op": "=", "attr": "a", "val": 1});
    for _ in 0..DEEP {
        // Moved in (the `json!` macro would serialize the inner value again, recursively).
        let mut and = serde_json::Map::new();
        and.insert("op".into(), "and".into());
        and.insert("conditions".into(), Value::Array(vec![spec]));
        spec = Value::Object(and);
    }
    assert!(matches!(compiler.matches(&spec, &doc! {"a": 1}), Err(MatchError::Spec(_))));
    dismantle_json(spec);
}
