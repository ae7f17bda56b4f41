//! Operators on embedded documents: `json_contains` (PostgreSQL `@>` over MongoDB paths),
//! `json_has_key`, `json_has_any`, `json_has_all`, `json_path_exists`.

use bson::{Bson, Document, doc};

use super::{field_op, group};
use crate::compile::LeafCx;
use crate::config::key_problem;
use crate::diag::{Seg, bson_type_name};
use crate::error::ErrorCode;
use crate::operator::Operator;

pub(crate) fn compile(op: Operator, field: &str, cx: &mut LeafCx<'_, '_, '_>) -> Option<Document> {
    let value = cx.value()?;
    match op {
        Operator::JsonContains => contains(field, value, cx),
        Operator::JsonHasKey => {
            let key = key_string(op, &value, cx)?;
            cx.check_key(&key)?;
            Some(exists(field, &key))
        }
        Operator::JsonPathExists => path_exists(field, value, cx),
        _ => {
            let keys = match value {
                Bson::Array(items) => items,
                single => vec![single],
            };
            if keys.is_empty() {
                cx.error(ErrorCode::InvalidValue, format!("{:?} needs at least one key", op.name()));
                return None;
            }
            let mut clauses = Vec::with_capacity(keys.len());
            for (index, key) in keys.iter().enumerate() {
                let clause = cx.at(Seg::Index(index), |cx| {
                    let key = key_string(op, key, cx)?;
                    cx.check_key(&key)?;
                    Some(exists(field, &key))
                });
                clauses.push(clause?);
            }
            Some(group(if op == Operator::JsonHasAny { "$or" } else { "$and" }, clauses))
        }
    }
}

fn exists(field: &str, key: &str) -> Document {
    field_op(&format!("{field}.{key}"), "$exists", Bson::Boolean(true))
}

fn key_string(op: Operator, value: &Bson, cx: &mut LeafCx<'_, '_, '_>) -> Option<String> {
    match value {
        Bson::String(key) => Some(key.clone()),
        other => {
            cx.error(
                ErrorCode::InvalidValue,
                format!("{:?} expects key strings, got {}", op.name(), bson_type_name(other)),
            );
            None
        }
    }
}

/// `a.b.0`, `$.a.b[0]` or `$` → `{"f.a.b.0": {"$exists": true}}`.
fn path_exists(field: &str, value: Bson, cx: &mut LeafCx<'_, '_, '_>) -> Option<Document> {
    let path = key_string(Operator::JsonPathExists, &value, cx)?;
    let relative = if path == "$" {
        String::new()
    } else if let Some(rest) = path.strip_prefix("$.") {
        jsonpath_to_dotted(rest)
    } else {
        path.clone()
    };
    if relative.is_empty() {
        return Some(field_op(field, "$exists", Bson::Boolean(true)));
    }
    for segment in relative.split('.') {
        if let Some(problem) = key_problem(segment) {
            cx.error(ErrorCode::InvalidFieldPath, format!("invalid path {path:?}: {problem}"));
            return None;
        }
    }
    Some(exists(field, &relative))
}

/// `a.b[0].c` → `a.b.0.c`.
fn jsonpath_to_dotted(path: &str) -> String {
    path.replace('[', ".").replace(']', "")
}

fn contains(field: &str, value: Bson, cx: &mut LeafCx<'_, '_, '_>) -> Option<Document> {
    let mut clauses = Vec::new();
    flatten(field, value, &mut clauses, cx)?;
    Some(if clauses.len() == 1 { clauses.remove(0) } else { group("$and", clauses) })
}

/// Appends the containment clauses of `value` at `path`.
fn flatten(path: &str, value: Bson, out: &mut Vec<Document>, cx: &mut LeafCx<'_, '_, '_>) -> Option<()> {
    match value {
        Bson::Document(map) if map.is_empty() => out.push(field_op(path, "$type", Bson::from("object"))),
        Bson::Document(map) => {
            for (key, item) in map {
                cx.at(Seg::Owned(key.clone()), |cx| {
                    cx.check_key(&key)?;
                    flatten(&format!("{path}.{key}"), item, out, cx)
                })?;
            }
        }
        Bson::Array(items) if items.is_empty() => out.push(field_op(path, "$type", Bson::from("array"))),
        Bson::Array(items) => {
            let mut all = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                all.push(cx.at(Seg::Index(index), |cx| list_item(item, cx))?);
            }
            out.push(field_op(path, "$all", Bson::Array(all)));
        }
        Bson::Null => out.push(field_op(path, "$type", Bson::from("null"))),
        scalar => out.push(field_op(path, "$eq", scalar)),
    }
    Some(())
}

/// One item of a contained list: scalars stay, objects become `$elemMatch`.
fn list_item(item: Bson, cx: &mut LeafCx<'_, '_, '_>) -> Option<Bson> {
    match item {
        Bson::Array(_) => {
            cx.error(ErrorCode::InvalidValue, "json_contains does not support a list inside a list");
            None
        }
        Bson::Document(map) if map.is_empty() => Some(Bson::Document(doc! { "$elemMatch": { "$type": "object" } })),
        Bson::Document(map) => {
            let mut matcher = Document::new();
            for (key, value) in map {
                cx.at(Seg::Owned(key.clone()), |cx| {
                    cx.check_key(&key)?;
                    let mut clauses = Vec::new();
                    flatten(&key, value, &mut clauses, cx)?;
                    for clause in clauses {
                        matcher.extend(clause);
                    }
                    Some(())
                })?;
            }
            Some(Bson::Document(doc! { "$elemMatch": matcher }))
        }
        scalar => Some(scalar),
    }
}
