//! `json_contains` back from its clauses. The compiler flattens the contained value into
//! `{p: {"$eq": s}}` (an `=` leaf already), `{p: {"$type": "null" | "object" | "array"}}` (null,
//! `{}`, `[]`) and `{p: {"$all": [items]}}` where object items are `{"$elemMatch": {clauses}}`;
//! those last two forms are turned back into `json_contains` here.

use bson::{Bson, Document};
use serde_json::map::Entry;
use serde_json::{Map, Value, json};

use super::error::{Loc, Result};
use super::leaf;
use super::value::{is_scalar, to_spec};
use crate::config::key_problem;
use crate::operator::Operator;
use crate::spec::Spec;

/// `$type` with `"null"`, `"object"` or `"array"` (or their numbers 10, 3, 4) → `json_contains`
/// of `null`, `{}` or `[]`; any other type has no specification form.
pub(crate) fn type_test(field: &str, value: &Bson, loc: &Loc<'_>) -> Result<Spec<'static>> {
    match contained_type(value) {
        Some(contained) => Ok(leaf(Operator::JsonContains, field, Some(contained))),
        None => Err(loc.unsupported(format!(
            "$type {value} has no specification form (only null, object and array, as json_contains of null, {{}} \
             and [])"
        ))),
    }
}

/// The contained value a `$type` test stands for.
fn contained_type(value: &Bson) -> Option<Value> {
    let code = match value {
        Bson::String(name) => return type_name(name),
        Bson::Int32(n) => i64::from(*n),
        Bson::Int64(n) => *n,
        Bson::Double(n) if n.fract() == 0.0 => *n as i64,
        _ => return None,
    };
    match code {
        10 => Some(Value::Null),
        3 => Some(json!({})),
        4 => Some(json!([])),
        _ => None,
    }
}

fn type_name(name: &str) -> Option<Value> {
    match name {
        "null" => Some(Value::Null),
        "object" => Some(json!({})),
        "array" => Some(json!([])),
        _ => None,
    }
}

/// `$all` holding `$elemMatch` items → `json_contains` of the list; `None` when no item is an
/// `$elemMatch` (a plain `all`).
pub(crate) fn all(field: &str, items: &[Bson], loc: &Loc<'_>) -> Result<Option<Spec<'static>>> {
    if !items.iter().any(|item| elem_match(item).is_some()) {
        return Ok(None);
    }
    Ok(Some(leaf(Operator::JsonContains, field, Some(contained_list(items, loc)?))))
}

/// The contained list whose `$all` items are `items`: values, and objects for `$elemMatch`.
fn contained_list(items: &[Bson], loc: &Loc<'_>) -> Result<Value> {
    let mut list = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let here = loc.index(index);
        list.push(match elem_match(item) {
            Some(clauses) => object(clauses, &here)?,
            None if matches!(item, Bson::Array(_) | Bson::Document(_)) => {
                return Err(here
                    .unsupported("$all mixing $elemMatch with a literal list or document has no specification form"));
            }
            None => to_spec(item, &here)?,
        });
    }
    Ok(Value::Array(list))
}

/// The clauses of `{"$elemMatch": {clauses}}`.
fn elem_match(item: &Bson) -> Option<&Document> {
    let Bson::Document(doc) = item else { return None };
    match (doc.len(), doc.get("$elemMatch")) {
        (1, Some(Bson::Document(clauses))) => Some(clauses),
        _ => None,
    }
}

/// The object whose containment clauses are `clauses` (relative to the array element).
fn object(clauses: &Document, loc: &Loc<'_>) -> Result<Value> {
    let loc = &loc.key("$elemMatch");
    loc.check_depth()?;
    if clauses.len() == 1 && clauses.get("$type") == Some(&Bson::String("object".into())) {
        return Ok(json!({}));
    }
    if clauses.is_empty() {
        return Err(loc.unsupported("an empty $elemMatch has no specification form"));
    }
    let mut out = Map::new();
    for (path, test) in clauses {
        let here = loc.key(path);
        let value = clause_value(test, &here)?;
        insert(&mut out, path, value, &here)?;
    }
    Ok(Value::Object(out))
}

/// The contained value of one clause `{"$eq": s}`, `{"$type": …}` or `{"$all": […]}`.
fn clause_value(test: &Bson, loc: &Loc<'_>) -> Result<Value> {
    let refuse = || {
        loc.unsupported(
            "inside $all, an $elemMatch is decompiled only as json_contains clauses ($eq of a value, $type \
             null/object/array, a non-empty $all)",
        )
    };
    let Bson::Document(test) = test else { return Err(refuse()) };
    let Some((op, value)) = test.iter().next().filter(|_| test.len() == 1) else { return Err(refuse()) };
    let here = loc.key(op);
    match op.as_str() {
        "$eq" if is_scalar(value) => to_spec(value, &here),
        "$type" => contained_type(value).ok_or_else(refuse),
        "$all" => match value {
            Bson::Array(items) if !items.is_empty() => contained_list(items, &here),
            Bson::Array(_) => Err(refuse()),
            _ => Err(here.invalid("$all needs an array")),
        },
        _ => Err(refuse()),
    }
}

/// Puts `value` at the dotted `path` of `out`, creating the objects on the way.
fn insert(out: &mut Map<String, Value>, path: &str, value: Value, loc: &Loc<'_>) -> Result<()> {
    let mut segments = path.split('.').peekable();
    let mut at = out;
    while let Some(segment) = segments.next() {
        if let Some(problem) = key_problem(segment) {
            return Err(loc.unsupported(format!("the path {path:?} cannot be written as contained keys: {problem}")));
        }
        if segments.peek().is_none() {
            if at.contains_key(segment) {
                return Err(loc.unsupported(format!("the path {path:?} is tested twice")));
            }
            at.insert(segment.to_owned(), value);
            return Ok(());
        }
        let entry = at.entry(segment.to_owned());
        let fresh = matches!(entry, Entry::Vacant(_));
        match entry.or_insert_with(|| Value::Object(Map::new())) {
            // An empty object placed before stands for `$type: "object"`, which a key below would drop.
            Value::Object(inner) if fresh || !inner.is_empty() => at = inner,
            _ => return Err(loc.unsupported(format!("the path {path:?} crosses a value tested on its own"))),
        }
    }
    Ok(())
}
