//! The compound filters the compiler emits for one leaf, recognised whole so that they come
//! back as that leaf: `between`, `not_between`, `is_null`, `is_not_null`, `is_empty`,
//! `is_not_empty`, `json_has_any`, `json_has_all`, `disjoint`. Each compiles to exactly the
//! filter it is recognised from, so recognising a hand-written one changes nothing either.

use bson::{Bson, Document};
use serde_json::Value;

use super::error::Loc;
use super::leaf;
use super::value::{is_scalar, to_spec};
use crate::config::{field_path_problem, key_problem};
use crate::operator::Operator;
use crate::spec::Spec;

/// `{field: {op: value}}` and nothing else.
fn single(doc: &Document) -> Option<(&str, &str, &Bson)> {
    let (field, Bson::Document(ops)) = only(doc)? else { return None };
    if field.starts_with('$') {
        return None;
    }
    let (op, value) = only(ops)?;
    Some((field, op, value))
}

fn only(doc: &Document) -> Option<(&str, &Bson)> {
    let mut entries = doc.iter();
    let (key, value) = entries.next()?;
    entries.next().is_none().then_some((key.as_str(), value))
}

/// Each document is `{field: {op: value}}` on one field with the given ops, in order.
fn on_one_field<'b>(items: &[&'b Document], ops: &[&str]) -> Option<(&'b str, Vec<&'b Bson>)> {
    if items.len() != ops.len() {
        return None;
    }
    let mut field = None;
    let mut values = Vec::with_capacity(ops.len());
    for (item, wanted) in items.iter().zip(ops) {
        let (f, op, value) = single(item)?;
        if op != *wanted || field.is_some_and(|seen| seen != f) || field_path_problem(f).is_some() {
            return None;
        }
        field = Some(f);
        values.push(value);
    }
    Some((field?, values))
}

/// A spec value for a BSON value known to convert (scalars of the spec's types).
fn val(value: &Bson) -> Option<Value> {
    to_spec(value, &Loc::ROOT).ok()
}

fn empty_string(value: &Bson) -> bool {
    matches!(value, Bson::String(s) if s.is_empty())
}

/// `[lo, hi]` when both bounds are scalars the spec can hold.
fn bounds(lo: &Bson, hi: &Bson) -> Option<Value> {
    (is_scalar(lo) && is_scalar(hi)).then(|| Some(Value::Array(vec![val(lo)?, val(hi)?]))).flatten()
}

/// `$and` shapes: `between`, `is_not_empty`, `json_has_all`.
pub(crate) fn and(items: &[&Document]) -> Option<Spec<'static>> {
    if let Some((field, v)) = on_one_field(items, &["$gte", "$lte"]) {
        return bounds(v[0], v[1]).map(|range| leaf(Operator::Between, field, Some(range)));
    }
    if let Some((field, v)) = on_one_field(items, &["$exists", "$ne", "$ne", "$not"])
        && matches!(v[..], [Bson::Boolean(true), Bson::Null, s, Bson::Document(not)]
            if empty_string(s) && not.len() == 1 && not.get("$size") == Some(&Bson::Int32(0)))
    {
        return Some(leaf(Operator::IsNotEmpty, field, None));
    }
    keys_exist(items, Operator::JsonHasAll)
}

/// `$or` shapes: `not_between`, `is_null`, `is_empty`, `json_has_any`.
pub(crate) fn or(items: &[&Document]) -> Option<Spec<'static>> {
    if let Some((field, v)) = on_one_field(items, &["$lt", "$gt"]) {
        return bounds(v[0], v[1]).map(|range| leaf(Operator::NotBetween, field, Some(range)));
    }
    if let Some((field, v)) = on_one_field(items, &["$exists", "$eq"])
        && matches!(v[..], [Bson::Boolean(false), Bson::Null])
    {
        return Some(leaf(Operator::IsNull, field, None));
    }
    if let Some((field, v)) = on_one_field(items, &["$exists", "$eq", "$eq", "$size"])
        && matches!(v[..], [Bson::Boolean(false), Bson::Null, s, Bson::Int32(0)] if empty_string(s))
    {
        return Some(leaf(Operator::IsEmpty, field, None));
    }
    keys_exist(items, Operator::JsonHasAny)
}

/// `$nor` shape: `disjoint` (`{"$nor": [{f: {"$geoIntersects": {"$geometry": G}}}]}`).
pub(crate) fn nor(items: &[&Document]) -> Option<Spec<'static>> {
    let (field, values) = on_one_field(items, &["$geoIntersects"])?;
    let Bson::Document(query) = values[0] else { return None };
    let (key, geometry @ Bson::Document(_)) = only(query)? else { return None };
    (key == "$geometry").then(|| Some(leaf(Operator::Disjoint, field, Some(val(geometry)?)))).flatten()
}

/// `{field: {"$exists": true, "$ne": null}}` (either order) → `is_not_null`;
/// `{field: {"$gte": lo, "$lte": hi}}` → `between`.
pub(crate) fn field_pair(field: &str, ops: &Document) -> Option<Spec<'static>> {
    if ops.len() != 2 {
        return None;
    }
    if ops.get("$exists") == Some(&Bson::Boolean(true)) && ops.get("$ne") == Some(&Bson::Null) {
        return Some(leaf(Operator::IsNotNull, field, None));
    }
    let range = bounds(ops.get("$gte")?, ops.get("$lte")?)?;
    Some(leaf(Operator::Between, field, Some(range)))
}

/// `{path: {"$exists": true}}` as a leaf: `json_has_key` of the last segment on its parent,
/// or `json_path_exists` `"$"` for an undotted field.
pub(crate) fn exists_leaf(path: &str) -> Spec<'static> {
    match split_key(path) {
        Some((parent, key)) => leaf(Operator::JsonHasKey, parent, Some(key.into())),
        None => leaf(Operator::JsonPathExists, path, Some("$".into())),
    }
}

/// `a.b.c` → (`a.b`, `c`) when both are valid as a field path and as a key.
fn split_key(path: &str) -> Option<(&str, &str)> {
    let (parent, key) = path.rsplit_once('.')?;
    (field_path_problem(parent).is_none() && key_problem(key).is_none()).then_some((parent, key))
}

/// Every item `{parent.key: {"$exists": true}}` on the same parent → `json_has_any`/`json_has_all`.
fn keys_exist(items: &[&Document], op: Operator) -> Option<Spec<'static>> {
    let mut parent = None;
    let mut keys = Vec::with_capacity(items.len());
    for item in items {
        let (path, "$exists", Bson::Boolean(true)) = single(item)? else { return None };
        let (p, key) = split_key(path)?;
        if parent.is_some_and(|seen| seen != p) {
            return None;
        }
        parent = Some(p);
        keys.push(Value::from(key));
    }
    Some(leaf(op, parent?, Some(Value::Array(keys))))
}

#[cfg(test)]
mod tests {
    use bson::doc;
    use serde_json::json;

    use super::*;

    fn shape(f: fn(&[&Document]) -> Option<Spec<'static>>, items: &[Document]) -> Option<Value> {
        let refs: Vec<&Document> = items.iter().collect();
        f(&refs).map(|spec| spec.to_json())
    }

    #[test]
    fn the_null_and_empty_shapes() {
        let is_null = [doc! {"a": {"$exists": false}}, doc! {"a": {"$eq": null}}];
        assert_eq!(shape(or, &is_null), Some(json!({"op": "is_null", "attr": "a"})));
        let other_fields = [doc! {"a": {"$exists": false}}, doc! {"b": {"$eq": null}}];
        assert_eq!(shape(or, &other_fields), None);
        let is_not_empty = [
            doc! {"a": {"$exists": true}},
            doc! {"a": {"$ne": null}},
            doc! {"a": {"$ne": ""}},
            doc! {"a": {"$not": {"$size": 0}}},
        ];
        assert_eq!(shape(and, &is_not_empty), Some(json!({"op": "is_not_empty", "attr": "a"})));
    }

    #[test]
    fn ranges_need_scalar_bounds() {
        assert_eq!(
            shape(and, &[doc! {"a": {"$gte": 1}}, doc! {"a": {"$lte": 2.5}}]),
            Some(json!({"op": "between", "attr": "a", "val": [1, 2.5]}))
        );
        assert_eq!(shape(and, &[doc! {"a": {"$gte": [1]}}, doc! {"a": {"$lte": 2}}]), None);
        assert_eq!(
            shape(or, &[doc! {"a": {"$lt": 1}}, doc! {"a": {"$gt": 2}}]),
            Some(json!({"op": "not_between", "attr": "a", "val": [1, 2]}))
        );
    }

    #[test]
    fn keys_on_one_parent() {
        let items = [doc! {"d.x": {"$exists": true}}, doc! {"d.y": {"$exists": true}}];
        assert_eq!(shape(or, &items), Some(json!({"op": "json_has_any", "attr": "d", "val": ["x", "y"]})));
        let items = [doc! {"d.x": {"$exists": true}}, doc! {"e.y": {"$exists": true}}];
        assert_eq!(shape(and, &items), None);
        assert_eq!(exists_leaf("a").to_json(), json!({"op": "json_path_exists", "attr": "a", "val": "$"}));
        assert_eq!(exists_leaf("a.b.0").to_json(), json!({"op": "json_has_key", "attr": "a.b", "val": "0"}));
    }
}
