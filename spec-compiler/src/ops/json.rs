//! Operators on embedded documents: `json_contains` (PostgreSQL `@>` over MongoDB paths),
//! `json_has_key`, `json_has_any`, `json_has_all`, `json_path_exists`.

use bson::Bson;

use super::{field_op, group};
use crate::compile::LeafCx;
use crate::config::key_problem;
use crate::diag::{Seg, bson_type_name};
use crate::error::ErrorCode;
use crate::operator::Operator;
use crate::out::Out;

const EXISTS: Bson = Bson::Boolean(true);

pub(crate) fn compile<W: Out>(op: Operator, field: &str, cx: &mut LeafCx<'_, '_, '_>, w: &mut W) -> Option<()> {
    let value = cx.value()?;
    match op {
        Operator::JsonContains => {
            let mut clauses = Vec::new();
            flatten(field.to_owned(), value, &mut clauses, cx)?;
            if let [clause] = clauses.as_slice() {
                write_clause(w, clause);
            } else {
                group(w, "$and", |w| clauses.iter().for_each(|clause| write_clause(w, clause)));
            }
        }
        Operator::JsonHasKey => {
            let key = key_string(op, &value, cx)?;
            cx.check_key(&key)?;
            field_op(w, &format!("{field}.{key}"), "$exists", &EXISTS);
        }
        Operator::JsonPathExists => {
            let path = path_exists(&value, cx)?;
            let full = if path.is_empty() { field.to_owned() } else { format!("{field}.{path}") };
            field_op(w, &full, "$exists", &EXISTS);
        }
        _ => {
            let keys = match value {
                Bson::Array(items) => items,
                single => vec![single],
            };
            if keys.is_empty() {
                cx.error(ErrorCode::InvalidValue, format!("{:?} needs at least one key", op.name()));
                return None;
            }
            let mut paths = Vec::with_capacity(keys.len());
            for (index, key) in keys.iter().enumerate() {
                let key = cx.at(Seg::Index(index), |cx| {
                    let key = key_string(op, key, cx)?;
                    cx.check_key(&key).map(|()| key)
                })?;
                paths.push(format!("{field}.{key}"));
            }
            group(w, if op == Operator::JsonHasAny { "$or" } else { "$and" }, |w| {
                paths.iter().for_each(|path| field_op(w, path, "$exists", &EXISTS));
            });
        }
    }
    Some(())
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

/// `a.b.0`, `$.a.b[0]` or `$` → the dotted path below the field (`""` for the field itself).
fn path_exists(value: &Bson, cx: &mut LeafCx<'_, '_, '_>) -> Option<String> {
    let path = key_string(Operator::JsonPathExists, value, cx)?;
    let relative = if path == "$" {
        String::new()
    } else if let Some(rest) = path.strip_prefix("$.") {
        rest.replace('[', ".").replace(']', "")
    } else {
        path.clone()
    };
    if !relative.is_empty()
        && let Some(problem) = relative.split('.').find_map(key_problem)
    {
        cx.error(ErrorCode::InvalidFieldPath, format!("invalid path {path:?}: {problem}"));
        return None;
    }
    Some(relative)
}

/// One containment test on one path.
struct Clause {
    path: String,
    test: Test,
}

enum Test {
    Eq(Bson),
    Type(&'static str),
    All(Vec<Item>),
}

enum Item {
    Scalar(Bson),
    /// `{"$elemMatch": {clauses}}`; no clauses means `{"$elemMatch": {"$type": "object"}}`.
    ElemMatch(Vec<Clause>),
}

/// Collects the containment clauses of `value` at `path`.
fn flatten(path: String, value: Bson, out: &mut Vec<Clause>, cx: &mut LeafCx<'_, '_, '_>) -> Option<()> {
    let test = match value {
        Bson::Document(map) if map.is_empty() => Test::Type("object"),
        Bson::Document(map) => {
            for (key, item) in map {
                cx.at(Seg::Owned(key.clone()), |cx| {
                    cx.check_key(&key)?;
                    flatten(format!("{path}.{key}"), item, out, cx)
                })?;
            }
            return Some(());
        }
        Bson::Array(items) if items.is_empty() => Test::Type("array"),
        Bson::Array(items) => {
            let mut all = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                all.push(cx.at(Seg::Index(index), |cx| list_item(item, cx))?);
            }
            Test::All(all)
        }
        Bson::Null => Test::Type("null"),
        scalar => Test::Eq(scalar),
    };
    out.push(Clause { path, test });
    Some(())
}

/// One item of a contained list: scalars stay, objects become `$elemMatch`.
fn list_item(item: Bson, cx: &mut LeafCx<'_, '_, '_>) -> Option<Item> {
    match item {
        Bson::Array(_) => {
            cx.error(ErrorCode::InvalidValue, "json_contains does not support a list inside a list");
            None
        }
        Bson::Document(map) => {
            let mut clauses = Vec::new();
            for (key, value) in map {
                cx.at(Seg::Owned(key.clone()), |cx| {
                    cx.check_key(&key)?;
                    flatten(key, value, &mut clauses, cx)
                })?;
            }
            Some(Item::ElemMatch(clauses))
        }
        scalar => Some(Item::Scalar(scalar)),
    }
}

/// Writes `{path: {test}}`.
fn write_clause<W: Out>(w: &mut W, clause: &Clause) {
    w.begin("");
    write_path_test(w, clause);
    w.end();
}

/// Writes the `path: {test}` element into the open document.
fn write_path_test<W: Out>(w: &mut W, clause: &Clause) {
    w.begin(&clause.path);
    match &clause.test {
        Test::Eq(value) => w.value("$eq", value),
        Test::Type(name) => w.string("$type", name),
        Test::All(items) => {
            w.begin_array("$all");
            for item in items {
                match item {
                    Item::Scalar(value) => w.value("", value),
                    Item::ElemMatch(clauses) => {
                        w.begin("");
                        w.begin("$elemMatch");
                        if clauses.is_empty() {
                            w.string("$type", "object");
                        }
                        clauses.iter().for_each(|clause| write_path_test(w, clause));
                        w.end();
                        w.end();
                    }
                }
            }
            w.end();
        }
    }
    w.end();
}
