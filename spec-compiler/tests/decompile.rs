//! `decompile` on hand-written filters: the forms people write (implicit equality, several
//! fields or operators in one document, regular expressions in their three spellings, `$not`,
//! `$nor`, `$exists`, `$size: 0`, `$all`, `$elemMatch`, `$expr`, geo and text), each with the
//! spec expected from MongoDB's documented meaning; and the refusals, each with its code and its
//! path into the filter.

use bson::{Bson, Document, Regex, doc};
use cqrs_mongo_spec::{DecompileErrorCode, compile, decompile, decompile_json, decompile_str, decompile_utf16};
use serde_json::{Value, json};

/// The decompiled spec's JSON; it must also compile.
fn spec_of(filter: Document) -> Value {
    let spec = decompile(&filter).unwrap_or_else(|err| panic!("{filter} refused: {err}")).to_json();
    compile(&spec).unwrap_or_else(|err| panic!("{spec} does not compile: {err}"));
    spec
}

fn refused(filter: Document) -> (&'static str, String) {
    let err = decompile(&filter).expect_err("refused");
    (err.code().as_str(), err.path_string())
}

fn regex(pattern: &str, options: &str) -> Bson {
    Bson::RegularExpression(Regex { pattern: pattern.try_into().unwrap(), options: options.try_into().unwrap() })
}

#[test]
fn implicit_equality_and_implicit_and() {
    assert_eq!(spec_of(doc! {"status": "paid"}), json!({"op": "=", "attr": "status", "val": "paid"}));
    assert_eq!(spec_of(doc! {"a.b": null}), json!({"op": "=", "attr": "a.b", "val": null}));
    assert_eq!(
        spec_of(doc! {"tags": ["x", "y"], "dims": {"w": 1, "h": 2i64}}),
        json!({"op": "and", "conditions": [
            {"op": "=", "attr": "tags", "val": ["x", "y"]},
            {"op": "=", "attr": "dims", "val": {"w": 1, "h": {"$numberLong": "2"}}},
        ]})
    );
    assert_eq!(spec_of(doc! {"a": {}}), json!({"op": "=", "attr": "a", "val": {}}));
}

#[test]
fn several_operators_on_one_field() {
    assert_eq!(
        spec_of(doc! {"qty": {"$gt": 1, "$lt": 5}}),
        json!({"op": "and", "conditions": [
            {"op": ">", "attr": "qty", "val": 1},
            {"op": "<", "attr": "qty", "val": 5},
        ]})
    );
    // $gte with $lte on one field is between (which compiles to the $and of the two).
    assert_eq!(spec_of(doc! {"qty": {"$lte": 5, "$gte": 1}}), json!({"op": "between", "attr": "qty", "val": [1, 5]}));
    assert_eq!(spec_of(doc! {"x": {"$ne": null, "$exists": true}}), json!({"op": "is_not_null", "attr": "x"}));
    assert_eq!(
        spec_of(doc! {"n": {"$in": [1, 2.5, "3"], "$nin": [4i64]}}),
        json!({"op": "and", "conditions": [
            {"op": "in", "attr": "n", "val": [1, 2.5, "3"]},
            {"op": "not_in", "attr": "n", "val": [{"$numberLong": "4"}]},
        ]})
    );
    assert_eq!(spec_of(doc! {"tags": {"$all": ["a", "b"]}}), json!({"op": "all", "attr": "tags", "val": ["a", "b"]}));
}

#[test]
fn regular_expressions_in_their_three_spellings() {
    let istartswith = json!({"op": "istartswith", "attr": "name", "val": "ab"});
    assert_eq!(spec_of(doc! {"name": {"$regex": "^ab", "$options": "i"}}), istartswith);
    assert_eq!(spec_of(doc! {"name": {"$options": "i", "$regex": "^ab"}}), istartswith);
    assert_eq!(spec_of(doc! {"name": regex("^ab", "i")}), istartswith);
    assert_eq!(
        spec_of(doc! {"name": {"$regex": regex("^ab", "")}}),
        json!({"op": "startswith", "attr": "name", "val": "ab"})
    );
    // $options beside a regular expression value replace its own.
    assert_eq!(spec_of(doc! {"name": {"$regex": regex("^ab", "s"), "$options": "i"}}), istartswith);
    assert_eq!(spec_of(doc! {"sku": {"$regex": "^A-\\d+$"}}), json!({"op": "regex", "attr": "sku", "val": "^A-\\d+$"}));
    assert_eq!(
        spec_of(doc! {"note": regex("^.*urgent.*$", "si")}),
        json!({"op": "ilike", "attr": "note", "val": "%urgent%"})
    );
    assert_eq!(spec_of(doc! {"note": regex("a.b", "ms")}), json!({"op": "regex", "attr": "note", "val": "(?ms)a.b"}));
}

#[test]
fn negations() {
    assert_eq!(
        spec_of(doc! {"name": {"$not": regex("^x", "")}}),
        json!({"op": "not", "condition": {"op": "startswith", "attr": "name", "val": "x"}})
    );
    assert_eq!(
        spec_of(doc! {"name": {"$not": {"$regex": "^a.*$", "$options": "s"}}}),
        json!({"op": "not_like", "attr": "name", "val": "a%"})
    );
    assert_eq!(
        spec_of(doc! {"qty": {"$not": {"$gt": 5}}}),
        json!({"op": "not", "condition": {"op": ">", "attr": "qty", "val": 5}})
    );
    assert_eq!(
        spec_of(doc! {"$nor": [{"a": 1}, {"b": 2}]}),
        json!({"op": "not", "condition": {"op": "or", "conditions": [
            {"op": "=", "attr": "a", "val": 1},
            {"op": "=", "attr": "b", "val": 2},
        ]}})
    );
    assert_eq!(
        spec_of(doc! {"$or": [{"a": 1}, {"$and": [{"b": 2}, {"c": 3}]}], "d": 4}),
        json!({"op": "and", "conditions": [
            {"op": "or", "conditions": [
                {"op": "=", "attr": "a", "val": 1},
                {"op": "and", "conditions": [{"op": "=", "attr": "b", "val": 2}, {"op": "=", "attr": "c", "val": 3}]},
            ]},
            {"op": "=", "attr": "d", "val": 4},
        ]})
    );
}

#[test]
fn existence_emptiness_and_types() {
    assert_eq!(spec_of(doc! {"a": {"$exists": true}}), json!({"op": "json_path_exists", "attr": "a", "val": "$"}));
    assert_eq!(spec_of(doc! {"a.b": {"$exists": 1}}), json!({"op": "json_has_key", "attr": "a", "val": "b"}));
    assert_eq!(
        spec_of(doc! {"a": {"$exists": false}}),
        json!({"op": "not", "condition": {"op": "json_path_exists", "attr": "a", "val": "$"}})
    );
    // An empty array: equal to [] (which also matches an array holding []) and no element 0.
    assert_eq!(
        spec_of(doc! {"tags": {"$size": 0}}),
        json!({"op": "and", "conditions": [
            {"op": "=", "attr": "tags", "val": []},
            {"op": "not", "condition": {"op": "json_has_key", "attr": "tags", "val": "0"}},
        ]})
    );
    assert_eq!(spec_of(doc! {"meta": {"$type": "object"}}), json!({"op": "json_contains", "attr": "meta", "val": {}}));
    assert_eq!(spec_of(doc! {"meta": {"$type": 10}}), json!({"op": "json_contains", "attr": "meta", "val": null}));
    assert_eq!(
        spec_of(doc! {"lines": {"$all": [{"$elemMatch": {"sku": {"$eq": "A"}, "qty": {"$eq": 2}}}]}}),
        json!({"op": "json_contains", "attr": "lines", "val": [{"sku": "A", "qty": 2}]})
    );
}

#[test]
fn geo_and_text() {
    let polygon = doc! {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]};
    assert_eq!(
        spec_of(doc! {"loc": {"$geoWithin": {"$geometry": polygon.clone()}}}),
        json!({"op": "within", "attr": "loc", "val": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}})
    );
    assert_eq!(
        spec_of(doc! {"loc": {"$geoWithin": {"$centerSphere": [[2.35, 48.85], 1000.0 / 6_378_100.0]}}}),
        json!({"op": "distance_lt", "attr": "loc", "val": [[2.35, 48.85], 1000.0]})
    );
    assert_eq!(spec_of(doc! {"$nor": [{"loc": {"$geoIntersects": {"$geometry": polygon}}}]})["op"], json!("disjoint"));
    assert_eq!(
        spec_of(doc! {"$text": {"$search": "coffee shop"}}),
        json!({"op": "fts", "attr": "text", "val": "coffee shop"})
    );
    assert_eq!(
        spec_of(doc! {"$text": {"$search": "\"coffee shop\""}}),
        json!({"op": "fts_phrase", "attr": "text", "val": "coffee shop"})
    );
}

#[test]
fn array_elements_and_comparisons_of_two_fields() {
    // Several fields in one $elemMatch (hand-written): the same element meets all of them.
    assert_eq!(
        spec_of(doc! {"items": {"$elemMatch": {"sku": "AB-1", "qty": {"$gte": 3}}}}),
        json!({"op": "elem_match", "attr": "items", "conditions": [
            {"op": "=", "attr": "sku", "val": "AB-1"},
            {"op": ">=", "attr": "qty", "val": 3},
        ]})
    );
    assert_eq!(
        spec_of(doc! {"orders": {"$elemMatch": {"lines": {"$elemMatch": {"qty": {"$gt": 1}}}}}}),
        json!({"op": "elem_match", "attr": "orders", "conditions": [
            {"op": "elem_match", "attr": "lines", "conditions": [{"op": ">", "attr": "qty", "val": 1}]},
        ]})
    );
    // An $and alone is the conditions when a key repeats among its items (the compiler's form
    // for them), one `and` condition when none does (several conditions would be merged).
    assert_eq!(
        spec_of(doc! {"items": {"$elemMatch": {"$and": [{"qty": {"$gt": 3}}, {"qty": {"$lt": 5}}]}}}),
        json!({"op": "elem_match", "attr": "items", "conditions": [
            {"op": ">", "attr": "qty", "val": 3},
            {"op": "<", "attr": "qty", "val": 5},
        ]})
    );
    assert_eq!(
        spec_of(doc! {"items": {"$elemMatch": {"$and": [{"sku": "A"}, {"qty": {"$lt": 5}}]}}}),
        json!({"op": "elem_match", "attr": "items", "conditions": [
            {"op": "and", "conditions": [{"op": "=", "attr": "sku", "val": "A"}, {"op": "<", "attr": "qty", "val": 5}]},
        ]})
    );
    // One $and child is kept as an and: the group compiles one condition's filter as it is.
    assert_eq!(
        spec_of(doc! {"items": {"$elemMatch": {"$and": [{"sku": "A"}]}}}),
        json!({"op": "elem_match", "attr": "items", "conditions": [
            {"op": "and", "conditions": [{"op": "=", "attr": "sku", "val": "A"}]},
        ]})
    );
    assert_eq!(
        spec_of(doc! {"$expr": {"$lte": ["$shipped_at", "$promised.at"]}}),
        json!({"op": "<=", "attr": "shipped_at", "field": "promised.at"})
    );
    assert_eq!(
        spec_of(doc! {"$nor": [{"$expr": {"$ne": ["$a", "$b"]}}]}),
        json!({"op": "not", "condition": {"op": "!=", "attr": "a", "field": "b"}})
    );
}

#[test]
fn refusals_name_their_code_and_place() {
    let unsupported = "unsupported_filter";
    let invalid = "invalid_filter";
    let cases: Vec<(Document, (&str, &str))> = vec![
        (doc! {"$where": "this.a > 1"}, (unsupported, "<filter>.$where")),
        (doc! {"a": 1, "$or": [{"b": 1}, {"$expr": {"$add": [1, 2]}}]}, (unsupported, "<filter>.$or[1].$expr.$add")),
        (doc! {"$expr": {"$gt": ["$a", 5]}}, (unsupported, "<filter>.$expr.$gt[1]")),
        (doc! {"$expr": {"$gt": ["$$NOW", "$a"]}}, (unsupported, "<filter>.$expr.$gt[0]")),
        (doc! {"$expr": true}, (unsupported, "<filter>.$expr")),
        (doc! {"scores": {"$elemMatch": {"$gte": 80}}}, (unsupported, "<filter>.scores.$elemMatch")),
        (doc! {"items": {"$elemMatch": {"$text": {"$search": "x"}}}}, (invalid, "<filter>.items.$elemMatch.$text")),
        (doc! {"items": {"$elemMatch": 1}}, (invalid, "<filter>.items.$elemMatch")),
        (doc! {"$jsonSchema": {}}, (unsupported, "<filter>.$jsonSchema")),
        (doc! {"$foo": 1}, (invalid, "<filter>.$foo")),
        (doc! {"$gt": 1}, (invalid, "<filter>.$gt")),
        (doc! {}, (unsupported, "<filter>")),
        (doc! {"$and": [{}]}, (unsupported, "<filter>.$and[0]")),
        (doc! {"$and": []}, (invalid, "<filter>.$and")),
        (doc! {"$or": {"a": 1}}, (invalid, "<filter>.$or")),
        (doc! {"$or": [1]}, (invalid, "<filter>.$or[0]")),
        (doc! {"a": {"$in": 5}}, (invalid, "<filter>.a.$in")),
        (doc! {"a": {"$options": "i"}}, (invalid, "<filter>.a.$options")),
        (doc! {"a": {"$regex": "x", "$options": "q"}}, (invalid, "<filter>.a.$options")),
        (doc! {"a": {"$regex": 5}}, (invalid, "<filter>.a.$regex")),
        (doc! {"a": {"$gt": 1, "b": 2}}, (invalid, "<filter>.a.b")),
        (doc! {"a": {"$bogus": 1}}, (invalid, "<filter>.a.$bogus")),
        (doc! {"a": {"$gt": null}}, (unsupported, "<filter>.a.$gt")),
        (doc! {"a": {"$lt": [1]}}, (unsupported, "<filter>.a.$lt")),
        (doc! {"a": {"$size": 2}}, (unsupported, "<filter>.a.$size")),
        (doc! {"a": {"$type": "string"}}, (unsupported, "<filter>.a.$type")),
        (doc! {"a": {"$mod": [2, 0]}}, (unsupported, "<filter>.a.$mod")),
        (
            doc! {"a": {"$near": {"$geometry": {"type": "Point", "coordinates": [0, 0]}}}},
            (unsupported, "<filter>.a.$near"),
        ),
        (doc! {"a": {"$geoWithin": {"$box": [[0, 0], [1, 1]]}}}, (unsupported, "<filter>.a.$geoWithin.$box")),
        (doc! {"a": {"$eq": regex("x", "")}}, (unsupported, "<filter>.a.$eq")),
        (doc! {"a": {"$in": [regex("x", "")]}}, (unsupported, "<filter>.a.$in[0]")),
        (doc! {"a": Bson::Timestamp(bson::Timestamp { time: 1, increment: 1 })}, (unsupported, "<filter>.a")),
        (doc! {"a": {"$eq": {"b": {"$c": 1}}}}, (unsupported, "<filter>.a.$eq.b.$c")),
        (doc! {"a..b": 1}, (unsupported, "<filter>[\"a..b\"]")),
        (doc! {"$text": {"$search": "x", "$language": "fr"}}, (unsupported, "<filter>.$text.$language")),
        (doc! {"a": {"$not": 5}}, (invalid, "<filter>.a.$not")),
    ];
    for (filter, (code, path)) in cases {
        assert_eq!(refused(filter.clone()), (code, path.to_owned()), "{filter}");
    }
}

#[test]
fn depth_is_bounded_without_recursing_forever() {
    let mut filter = doc! {"a": 1};
    for _ in 0..300 {
        filter = doc! {"$and": [filter]};
    }
    let err = decompile(&filter).unwrap_err();
    assert_eq!(err.code(), DecompileErrorCode::TooDeep);
    assert_eq!(err.path().len(), 100);

    let mut value = Bson::Int32(1);
    for _ in 0..10_000 {
        value = Bson::Array(vec![value]);
    }
    let err = decompile(&doc! {"a": value}).unwrap_err();
    assert_eq!(err.code(), DecompileErrorCode::TooDeep);
    // A filter exactly 100 levels deep is read.
    let mut value = Bson::Int32(1);
    for _ in 0..98 {
        value = Bson::Array(vec![value]);
    }
    assert!(decompile(&doc! {"a": value}).is_ok());
}

#[test]
fn extended_json_text_in_either_flavour() {
    let relaxed = r#"{"at": {"$gte": {"$date": "2024-05-01T10:00:00Z"}}, "n": {"$in": [1, 3000000000, 1.5]}}"#;
    let canonical = r#"{"at": {"$gte": {"$date": {"$numberLong": "1714557600000"}}},
        "n": {"$in": [{"$numberInt": "1"}, {"$numberLong": "3000000000"}, {"$numberDouble": "1.5"}]}}"#;
    let expected = json!({"op": "and", "conditions": [
        {"op": ">=", "attr": "at", "val": {"$date": "2024-05-01T10:00:00Z"}},
        {"op": "in", "attr": "n", "val": [1, 3000000000i64, 1.5]},
    ]});
    assert_eq!(decompile_str(relaxed).unwrap().to_json(), expected);
    assert_eq!(decompile_str(canonical).unwrap().to_json(), expected);
    let units: Vec<u16> = relaxed.encode_utf16().collect();
    assert_eq!(decompile_utf16(&units).unwrap().to_json(), expected);
    assert_eq!(
        decompile_json(&json!({"name": {"$regularExpression": {"pattern": "^ab", "options": "i"}}})).unwrap().to_json(),
        json!({"op": "istartswith", "attr": "name", "val": "ab"})
    );

    let err = decompile_str("{\"a\": ").unwrap_err();
    assert_eq!((err.code().as_str(), err.path_string().as_str()), ("invalid_json", "<filter>"));
    let err = decompile_str(r#"{"a": {"$in": [18446744073709551616]}}"#).unwrap_err();
    assert_eq!((err.code().as_str(), err.path_string().as_str()), ("invalid_filter", "<filter>.a.$in[0]"));
    let err = decompile_str(r#"{"a": {"$oid": "nope"}}"#).unwrap_err();
    assert_eq!((err.code().as_str(), err.path_string().as_str()), ("invalid_extended_json", "<filter>.a"));
    let err = decompile_str(&format!("{{\"a\": {}1{}}}", "[".repeat(200), "]".repeat(200))).unwrap_err();
    assert_eq!(err.code(), DecompileErrorCode::TooDeep);
    let err = decompile_str("[1]").unwrap_err();
    assert_eq!(err.code(), DecompileErrorCode::InvalidFilter);
}

/// SEMANTICS.md's table of decompile codes is `DecompileErrorCode::ALL`, in order.
#[test]
fn the_semantics_page_lists_every_decompile_code() {
    let page = include_str!("../SEMANTICS.md");
    let section = page.split("\n## Decompiling a filter\n").nth(1).expect("the section").split("\n## ").next().unwrap();
    let rows = section.lines().skip_while(|line| !line.starts_with("| code | when |")).skip(2);
    let documented: Vec<&str> = rows
        .take_while(|line| line.starts_with('|'))
        .filter_map(|row| row.trim_start_matches('|').split('`').nth(1))
        .collect();
    let declared: Vec<&str> = DecompileErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    assert_eq!(documented, declared);
}
