//! `compile(decompile(compile(s))) == compile(s)` for generated specs: every operator family,
//! values of every BSON type the compiler produces (Extended JSON wrappers and `value_type`
//! casts), LIKE texts full of regex metacharacters, comparisons of two fields, nested
//! `and`/`or`/`not`/`elem_match`. The decompiled spec
//! is turned into its JSON (`to_json`) and compiled again; the filters must be equal with key
//! order and BSON types significant. (In memory, not through JSON text: serde_json, built
//! without its `float_roundtrip` feature, may read a double's shortest text one unit in the last
//! place away, e.g. `2587092.9908304918`.) Specs the compiler refuses (an unsafe regex, two text clauses) are
//! skipped; a filter the compiler produced is never refused by `decompile`.

mod support;

use bson::{Bson, Document};
use cqrs_mongo_spec::{compile, decompile};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::same;

const CASES: u32 = 1024;

fn field() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "status", "b.c", "items.0.sku", "note", "loc"]).prop_map(str::to_owned)
}

/// Text full of what regexes and LIKE treat specially.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "a", "B", "é", "%", "_", ".", "*", "^", "$", "\\", " ", "(", ")", "[", "]", "{", "}", "?", "+", "-", "|",
            "&", "~", "#", "\t", "\n", "x.*", "\"",
        ]),
        0..8,
    )
    .prop_map(|parts| parts.concat())
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i32>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        prop::sample::select(vec![1.0, -0.0, 0.5, 1e20, 2.5e-8]).prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
        text().prop_map(Value::String),
        any::<i32>().prop_map(|n| json!({"$numberLong": n.to_string()})),
        prop::sample::select(vec!["NaN", "Infinity", "-Infinity"]).prop_map(|d| json!({"$numberDouble": d})),
        prop::sample::select(vec!["1.50", "-0", "1E+3", "0.001", "NaN", "123456789012345678901234567890"])
            .prop_map(|d| json!({"$numberDecimal": d})),
        (-62_135_596_800_000i64..253_402_300_800_000).prop_map(|ms| json!({"$date": {"$numberLong": ms.to_string()}})),
        "[0-9a-f]{24}".prop_map(|oid| json!({"$oid": oid})),
        "[0-9a-f]{32}".prop_map(|hex| json!({"$uuid": format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])})),
        prop::sample::select(vec!["", "AQID", "3q2+7w=="]).prop_map(|b| json!({"$binary": {"base64": b, "subType": "00"}})),
    ]
}

/// Any value `=` and `!=` take: scalars, null, lists and plain objects of them.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![4 => scalar(), 1 => Just(Value::Null)];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z]{1,3}", inner), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// What `json_contains` takes: objects of scalars, nested objects and lists of scalars/objects.
fn contained() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![4 => scalar(), 1 => Just(Value::Null)];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(("[a-z]{1,3}", inner.clone()), 0..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            prop::collection::vec(
                prop_oneof![
                    scalar(),
                    prop::collection::vec(("[a-z]{1,3}", inner), 0..3)
                        .prop_map(|entries| Value::Object(entries.into_iter().collect()))
                ],
                0..4
            )
            .prop_map(Value::Array),
        ]
    })
}

fn position() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-180i32..=180, -90i32..=90).prop_map(|(x, y)| json!([x, y])),
        (-180.0f64..=180.0, -90.0f64..=90.0).prop_map(|(x, y)| json!([x, y])),
    ]
}

fn geometry() -> impl Strategy<Value = Value> {
    prop_oneof![
        position().prop_map(|p| json!({"type": "Point", "coordinates": p})),
        (position(), position()).prop_map(|(p, q)| json!({"type": "LineString", "coordinates": [p, q]})),
        polygon(),
    ]
}

fn polygon() -> impl Strategy<Value = Value> {
    (0.0f64..10.0, 0.0f64..10.0, 0.5f64..5.0)
        .prop_map(|(x, y, d)| json!({"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y]]]}))
}

fn leaf() -> impl Strategy<Value = Value> {
    let comparison = (prop::sample::select(vec!["=", "!=", "eq", "ne"]), field(), any_value())
        .prop_map(|(op, attr, val)| json!({"op": op, "attr": attr, "val": val}));
    let ordering = (prop::sample::select(vec![">", ">=", "<", "<=", "ge", "lt"]), field(), scalar())
        .prop_map(|(op, attr, val)| json!({"op": op, "attr": attr, "val": val}));
    let range = (prop::sample::select(vec!["between", "not_between"]), field(), scalar(), scalar())
        .prop_map(|(op, attr, lo, hi)| json!({"op": op, "attr": attr, "val": [lo, hi]}));
    let set = (
        prop::sample::select(vec!["in", "not_in", "all"]),
        field(),
        prop_oneof![prop::collection::vec(any_value(), 0..4).prop_map(Value::Array), scalar()],
    )
        .prop_map(|(op, attr, val)| json!({"op": op, "attr": attr, "val": val}));
    let string = (
        prop::sample::select(vec![
            "like",
            "ilike",
            "not_like",
            "contains",
            "icontains",
            "startswith",
            "istartswith",
            "endswith",
            "iendswith",
        ]),
        field(),
        text(),
    )
        .prop_map(|(op, attr, val)| json!({"op": op, "attr": attr, "val": val}));
    let regex = (
        prop::sample::select(vec!["regex", "iregex"]),
        field(),
        prop::sample::select(vec!["^a", "b+c$", "[xy]z", "a|b", "^abc$", "\\d{3}", "x\\.y", "", "^", "(?s)a.b"]),
    )
        .prop_map(|(op, attr, val)| json!({"op": op, "attr": attr, "val": val}));
    let null = (
        prop::sample::select(vec!["is_null", "is_not_null", "is_empty", "is_not_empty"]),
        field(),
        prop::sample::select(vec![None, Some(json!(true)), Some(json!(false)), Some(Value::Null)]),
    )
        .prop_map(|(op, attr, val)| match val {
            Some(val) => json!({"op": op, "attr": attr, "val": val}),
            None => json!({"op": op, "attr": attr}),
        });
    let keys = prop::collection::vec("[a-z0-9]{1,3}", 1..4);
    let json_ops = prop_oneof![
        (field(), contained()).prop_map(|(attr, val)| json!({"op": "json_contains", "attr": attr, "val": val})),
        (field(), "[a-z0-9]{1,3}").prop_map(|(attr, key)| json!({"op": "json_has_key", "attr": attr, "val": key})),
        (prop::sample::select(vec!["json_has_any", "json_has_all"]), field(), keys)
            .prop_map(|(op, attr, val)| json!({"op": op, "attr": attr, "val": val})),
        (field(), prop::sample::select(vec!["$", "a.b.0", "$.a.b[1]", "x"]))
            .prop_map(|(attr, path)| json!({"op": "json_path_exists", "attr": attr, "val": path})),
    ];
    let geo = prop_oneof![
        (prop::sample::select(vec!["intersects", "disjoint"]), field(), geometry())
            .prop_map(|(op, attr, g)| json!({"op": op, "attr": attr, "val": g})),
        (field(), polygon()).prop_map(|(attr, g)| json!({"op": "within", "attr": attr, "val": {"$geometry": g}})),
        (prop::sample::select(vec!["distance_lt", "dwithin"]), field(), position(), 0.0f64..2e7)
            .prop_map(|(op, attr, p, m)| json!({"op": op, "attr": attr, "val": [p, m]})),
        (field(), position(), 0u32..100_000)
            .prop_map(|(attr, p, m)| json!({"op": "dwithin", "attr": attr, "val": {"point": {"type": "Point", "coordinates": p}, "distance": m}})),
    ];
    let text_search = (prop::sample::select(vec!["fts", "fts_phrase"]), "[a-z ]{1,12}")
        .prop_map(|(op, val)| json!({"op": op, "attr": "body", "val": val}));
    let cast = prop_oneof![
        (field(), any::<i64>())
            .prop_map(|(attr, n)| json!({"op": "=", "attr": attr, "val": n.to_string(), "value_type": "integer"})),
        (field(), "20[0-9]{2}-0[1-9]-1[0-9]T0[0-9]:[0-5][0-9]:[0-5][0-9]\\.[0-9]{1,6}Z")
            .prop_map(|(attr, d)| json!({"op": ">=", "attr": attr, "val": d, "value_type": "datetime"})),
        (field(), "[0-9]{1,5}\\.[0-9]{1,4}")
            .prop_map(|(attr, d)| json!({"op": "in", "attr": attr, "val": [d], "value_type": "decimal"})),
        (field(), "[0-9]{1,3}(d|h|m|s)")
            .prop_map(|(attr, d)| json!({"op": "<", "attr": attr, "val": d, "value_type": "interval"})),
        (field(), any::<i16>())
            .prop_map(|(attr, n)| json!({"op": "contains", "attr": attr, "val": n, "value_type": "string"})),
    ];
    prop_oneof![comparison, ordering, range, set, string, regex, null, json_ops, geo, text_search, cast,]
}

/// A comparison of two fields (`$expr`).
fn field_comparison() -> impl Strategy<Value = Value> {
    (prop::sample::select(vec!["=", "!=", ">", ">=", "<", "<=", "gte", "ne"]), field(), field())
        .prop_map(|(op, attr, other)| json!({"op": op, "attr": attr, "field": other}))
}

fn spec() -> impl Strategy<Value = Value> {
    prop_oneof![8 => leaf(), 1 => field_comparison()].prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            (field(), prop::collection::vec(inner.clone(), 1..4))
                .prop_map(|(attr, children)| json!({"op": "elem_match", "attr": attr, "conditions": children})),
            (prop::sample::select(vec!["and", "or"]), prop::collection::vec(inner.clone(), 1..4))
                .prop_map(|(op, children)| json!({"op": op, "conditions": children})),
            inner.clone().prop_map(|child| json!({"op": "not", "condition": child})),
            inner.prop_map(|child| json!({"op": "not", "conditions": [child]})),
        ]
    })
}

fn shown(doc: &Document) -> String {
    Bson::Document(doc.clone()).into_canonical_extjson().to_string()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn generated_specs_round_trip_through_decompile(spec in spec()) {
        let Ok(filter) = compile(&spec) else { return Ok(()) };
        let decompiled = decompile(&filter)
            .map_err(|err| TestCaseError::fail(format!("{} refused: {err}", shown(&filter))))?;
        let printed = decompiled.to_json();
        let again = compile(&printed)
            .map_err(|err| TestCaseError::fail(format!("{printed} does not compile: {err}")))?;
        prop_assert!(
            same(&Bson::Document(again.clone()), &Bson::Document(filter.clone())),
            "spec {spec}\ndecompiled {printed}\nfilter     {}\nrecompiled {}", shown(&filter), shown(&again)
        );
    }
}
