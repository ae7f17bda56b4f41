//! Compiling against a field schema: only its fields and their operators, values cast by the
//! field's type (a spec's `value_type` must agree), enumerated values, stored paths in the
//! filter and the query options; without a schema nothing changes.

use cqrs_mongo_spec::{Compiler, CompilerConfig, ConfigError, ErrorCode, FieldSchema, QueryOptions};
use serde_json::{Value, json};

fn schema() -> FieldSchema {
    serde_json::from_value(json!({"fields": [
        {"name": "total", "type": "decimal", "label": "Total", "path": "amounts.total"},
        {"name": "status", "type": "string", "values": ["placed", "paid"], "operators": ["=", "in", "not_in"]},
        {"name": "placed", "type": "datetime"},
        {"name": "items", "type": "integer"},
        {"name": "tags", "type": "array", "items": "string"},
        {"name": "where", "type": "geo_point", "path": "location"},
        {"name": "note", "type": "string"}
    ]}))
    .unwrap()
}

fn compiler() -> Compiler {
    Compiler::try_new(CompilerConfig::default().with_schema(schema())).unwrap()
}

fn refusal(spec: &Value) -> (ErrorCode, String) {
    let err = compiler().compile(spec).expect_err("refused");
    (err.code(), err.path_string())
}

#[test]
fn values_are_cast_by_the_fields_type_and_the_filter_uses_the_stored_path() {
    let filter = compiler().compile(&json!({"op": ">=", "attr": "total", "val": "100.50"})).unwrap();
    let gte = filter.get_document("amounts.total").unwrap().get("$gte").unwrap();
    assert_eq!(gte, &bson::Bson::Decimal128("100.50".parse().unwrap()), "a string became a Decimal128");
    let filter = compiler().compile(&json!({"op": "=", "attr": "items", "val": "3"})).unwrap();
    assert_eq!(
        filter.get_document("items").unwrap().get("$eq").unwrap(),
        &bson::Bson::Int32(3),
        "a string became an integer"
    );
    let filter = compiler().compile(&json!({"op": "<", "attr": "placed", "val": "2024-03-01T10:00:00Z"})).unwrap();
    assert!(matches!(filter.get_document("placed").unwrap().get("$lt").unwrap(), bson::Bson::DateTime(_)));
    // A value_type that says the same is fine; another one is refused.
    assert!(compiler().compile(&json!({"op": "=", "attr": "items", "val": "3", "value_type": "int"})).is_ok());
    assert_eq!(
        refusal(&json!({"op": "=", "attr": "items", "val": "3", "value_type": "string"})),
        (ErrorCode::ValueTypeMismatch, "<root>.value_type".into())
    );
    // A cast that fails is the usual invalid_cast.
    assert_eq!(refusal(&json!({"op": "=", "attr": "items", "val": "three"})).0, ErrorCode::InvalidCast);
}

#[test]
fn unknown_fields_disallowed_operators_and_values_outside_the_enumeration_are_refused() {
    assert_eq!(
        refusal(&json!({"op": "=", "attr": "password", "val": "x"})),
        (ErrorCode::FieldNotAllowed, "<root>.attr".into())
    );
    assert_eq!(
        refusal(&json!({"op": "=", "attr": "amounts.total", "val": 1})),
        (ErrorCode::FieldNotAllowed, "<root>.attr".into()),
        "stored paths are not UI names"
    );
    assert_eq!(
        refusal(&json!({"op": "regex", "attr": "total", "val": "1"})),
        (ErrorCode::OperatorNotAllowed, "<root>.op".into()),
        "regex on a number"
    );
    assert_eq!(
        refusal(&json!({"op": "like", "attr": "status", "val": "p%"})),
        (ErrorCode::OperatorNotAllowed, "<root>.op".into()),
        "the field's own list"
    );
    let deep = json!({"op": "or", "conditions": [
        {"op": "=", "attr": "status", "val": "paid"},
        {"op": "not", "condition": {"op": "json_has_key", "attr": "note", "val": "x"}}
    ]});
    assert_eq!(refusal(&deep), (ErrorCode::OperatorNotAllowed, "<root>.conditions[1].condition.op".into()));
    assert_eq!(
        refusal(&json!({"op": "=", "attr": "status", "val": "lost"})),
        (ErrorCode::ValueNotAllowed, "<root>.val".into())
    );
    assert_eq!(
        refusal(&json!({"op": "in", "attr": "status", "val": ["paid", "lost"]})),
        (ErrorCode::ValueNotAllowed, "<root>.val[1]".into())
    );
    assert!(compiler().compile(&json!({"op": "in", "attr": "status", "val": ["paid", "placed"]})).is_ok());
    assert!(compiler().compile(&json!({"op": "is_null", "attr": "status"})).is_err(), "is_null is not in status' list");
    assert!(compiler().compile(&json!({"op": "is_null", "attr": "note"})).is_ok(), "but is a string default");
    let near = json!({"op": "dwithin", "attr": "where", "val": [{"type": "Point", "coordinates": [1.0, 2.0]}, 500]});
    let filter = compiler().compile(&near).unwrap();
    assert!(filter.contains_key("location"), "geo fields are not cast, and use their path: {filter}");
}

#[test]
fn query_options_use_ui_names_mapped_to_stored_paths() {
    let options =
        QueryOptions::from_value(&json!({"order_by": ["-total"], "select_fields": ["total", "status"]})).unwrap();
    let value = json!({"op": ">=", "attr": "total", "val": 1});
    let spec = cqrs_mongo_spec::Spec::from_value(&value).unwrap();
    let query = compiler().compile_spec_query(&spec, &options).unwrap();
    assert_eq!(query.sort.unwrap(), bson::doc! { "amounts.total": -1 });
    assert_eq!(query.projection.unwrap(), bson::doc! { "amounts.total": 1, "status": 1 });
    let unknown = QueryOptions::from_value(&json!({"order_by": ["amounts.total"]})).unwrap();
    let err = compiler().compile_spec_query(&spec, &unknown).unwrap_err();
    assert_eq!((err.code(), err.path_string()), (ErrorCode::FieldNotAllowed, "<root>.options.order_by[0]".into()));
}

#[test]
fn a_broken_schema_is_refused_when_the_compiler_is_made_and_settings_carry_schemas() {
    for (fields, what) in [
        (json!([{"name": "a", "type": "string"}, {"name": "a", "type": "integer"}]), "twice"),
        (json!([{"name": "tags", "type": "array"}]), "items"),
        (json!([{"name": "a", "type": "string", "operators": ["regexp"]}]), "not an operator"),
        (json!([{"name": "a", "type": "string", "path": "$where"}]), "path"),
        (json!([{"name": "a", "type": "string", "items": "string"}]), "not an array"),
    ] {
        let schema: FieldSchema = serde_json::from_value(json!({ "fields": fields })).unwrap();
        match Compiler::try_new(CompilerConfig::default().with_schema(schema)) {
            Err(err @ ConfigError::InvalidSchema { .. }) => {
                assert!(err.to_string().contains(what), "{err}");
                assert_eq!(err.setting(), "schema");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    assert!(
        serde_json::from_value::<FieldSchema>(json!({"fields": [{"name": "a", "type": "text"}]})).is_err(),
        "unknown type"
    );
    let config = CompilerConfig::from_settings(&json!({ "schema": serde_json::to_value(schema()).unwrap() })).unwrap();
    assert_eq!(config.schema, Some(schema()));
    let bad =
        CompilerConfig::from_settings(&json!({"schema": {"fields": [{"name": "a", "type": "array"}]}})).unwrap_err();
    assert_eq!((bad.code(), bad.path_string()), (ErrorCode::InvalidOption, "<root>.settings.schema".into()));
    // Without a schema, everything compiles as before.
    assert!(Compiler::default().compile(&json!({"op": "regex", "attr": "total", "val": "1"})).is_ok());
}

#[test]
fn the_schema_becomes_react_querybuilder_fields_offering_exactly_what_compiles() {
    let fields = schema().querybuilder_fields();
    let status = fields.as_array().unwrap().iter().find(|f| f["name"] == "status").unwrap();
    assert_eq!(status["label"], "status");
    assert_eq!(status["valueEditorType"], "select");
    assert_eq!(status["values"], json!([{"name": "placed", "label": "placed"}, {"name": "paid", "label": "paid"}]));
    let names: Vec<&str> =
        status["operators"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["=", "in", "not_in"]);
    let total = &fields[0];
    assert_eq!((total["label"].as_str(), total["inputType"].as_str()), (Some("Total"), Some("number")));
    // Every offered operator compiles on its field, and every other one is refused.
    let compiler = compiler();
    for field in fields.as_array().unwrap() {
        let name = field["name"].as_str().unwrap();
        let offered: Vec<&str> =
            field["operators"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
        for info in
            cqrs_mongo_spec::operators().iter().filter(|o| o.supported && o.family != cqrs_mongo_spec::Family::Logical)
        {
            let err = compiler.validate(&json!({"op": info.name, "attr": name, "val": 1}));
            let refused = err.iter().any(|e| e.code() == ErrorCode::OperatorNotAllowed);
            assert_eq!(refused, !offered.contains(&info.name), "{name} {}: {err:?}", info.name);
        }
    }
    let bad = FieldSchema::from_json(&json!({"fields": [{"name": "a", "type": "decimals"}]})).unwrap_err();
    assert_eq!((bad.code(), bad.path_string()), (ErrorCode::InvalidOption, "<root>.schema.fields[0].type".into()));
}

/// The JSON reader of the packages (`FieldSchema::from_json`, the `schema` setting) reads what
/// serde's derive reads, with serde's message, at the exact key.
#[test]
fn the_packages_read_schemas_as_serde_does_with_the_exact_path() {
    let documents = [
        (json!({"fields": []}), "<root>.schema"),
        (json!({"fields": [{"name": "a", "type": "string", "label": null, "values": [1, "x", null]}]}), ""),
        (json!({"fields": [{"name": "a", "type": "boolean", "items": null, "operators": ["=", "eq"]}]}), ""),
        (json!({"fields": [{"name": "t", "type": "array", "items": "geoPoint", "path": "p.q"}]}), ""),
        (json!(null), "<root>.schema"),
        (json!({}), "<root>.schema"),
        (json!({"fields": {}}), "<root>.schema.fields"),
        (json!({"fields": [], "extra": 1}), "<root>.schema.extra"),
        (json!({"fields": [{"name": "a", "type": "string"}, 7]}), "<root>.schema.fields[1]"),
        (json!({"fields": [{"name": "a", "type": "string"}, {"type": "string"}]}), "<root>.schema.fields[1]"),
        (json!({"fields": [{"name": "a"}]}), "<root>.schema.fields[0]"),
        (json!({"fields": [{"name": 5, "type": "string"}]}), "<root>.schema.fields[0].name"),
        (json!({"fields": [{"name": "a", "type": "strings"}]}), "<root>.schema.fields[0].type"),
        (json!({"fields": [{"name": "a", "type": "array", "items": 1.5}]}), "<root>.schema.fields[0].items"),
        (
            json!({"fields": [{"name": "a", "type": "string", "operators": ["=", 2]}]}),
            "<root>.schema.fields[0].operators",
        ),
        (json!({"fields": [{"name": "a", "type": "string", "values": "x"}]}), "<root>.schema.fields[0].values"),
        (json!({"fields": [{"name": "a", "type": "string", "label": -1}]}), "<root>.schema.fields[0].label"),
        (json!({"fields": [{"name": "a", "type": "string", "path": true}]}), "<root>.schema.fields[0].path"),
        (json!({"fields": [{"name": "a", "type": "string", "colour": "red"}]}), "<root>.schema.fields[0].colour"),
    ];
    // serde's derive also reads a struct from a list of its values in order; a schema is only
    // ever an object, and so is each field.
    for (document, path, what) in [
        (json!([[]]), "<root>.schema", "FieldSchema"),
        (json!({"fields": [["a", "string"]]}), "<root>.schema.fields[0]", "FieldDef"),
    ] {
        assert!(serde_json::from_value::<FieldSchema>(document.clone()).is_ok());
        let err = FieldSchema::from_json(&document).unwrap_err();
        assert_eq!(err.path_string(), path);
        assert_eq!(err.message(), format!("invalid type: sequence, expected struct {what}"));
    }
    for (document, path) in documents {
        let by_serde = serde_json::from_value::<FieldSchema>(document.clone());
        let ours = FieldSchema::from_json(&document);
        match (by_serde, ours) {
            (Ok(expected), Ok(read)) => assert_eq!(read, expected, "{document}"),
            // An empty list of fields is a schema serde reads and the packages refuse as unusable.
            (Ok(expected), Err(err)) => {
                assert_eq!(expected.problem().as_deref(), Some(err.message()), "{document}");
                assert_eq!(err.path_string(), path, "{document}");
            }
            (Err(expected), Err(err)) => {
                assert_eq!((err.code(), err.path_string()), (ErrorCode::InvalidOption, path.to_owned()), "{document}");
                // serde_json appends no position for values; the message is serde's own.
                assert_eq!(err.message(), expected.to_string(), "{document}");
            }
            (Err(expected), Ok(_)) => panic!("{document}: serde refuses it ({expected}), the packages read it"),
        }
        // The `schema` setting reads the same way, below `settings`.
        if let Err(err) = CompilerConfig::from_settings(&json!({ "schema": document })) {
            assert_eq!(err.path_string(), path.replace("<root>.schema", "<root>.settings.schema"), "{document}");
        }
    }
}
