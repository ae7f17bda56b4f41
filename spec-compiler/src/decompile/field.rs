//! One field's condition: `{field: value}` (implicit equality, or a pattern for a regular
//! expression) or `{field: {operators…}}`, one leaf per operator (several are an implicit `and`).

use bson::{Bson, Document};
use serde_json::{Value, json};

use super::error::{Loc, Result};
use super::value::{check_field_path, is_scalar, to_spec};
use super::{all_of, contains, elem_match, geo, leaf, not, pattern, shapes};
use crate::operator::Operator;
use crate::spec::Spec;

/// The MongoDB operators that apply to a field (for messages: known but not expressible, or
/// misplaced at the top level).
const FIELD_OPERATORS: [&str; 27] = [
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$all",
    "$exists",
    "$type",
    "$size",
    "$regex",
    "$options",
    "$not",
    "$elemMatch",
    "$mod",
    "$bitsAllClear",
    "$bitsAllSet",
    "$bitsAnyClear",
    "$bitsAnySet",
    "$geoWithin",
    "$geoIntersects",
    "$near",
    "$nearSphere",
    "$maxDistance",
    "$minDistance",
];

/// True for a MongoDB operator that applies to a field.
pub(crate) fn is_field_operator(key: &str) -> bool {
    FIELD_OPERATORS.contains(&key)
}

/// The clauses of `{field: value}`.
pub(crate) fn clauses(field: &str, value: &Bson, loc: &Loc<'_>) -> Result<Vec<Spec<'static>>> {
    check_field_path(field, loc)?;
    match value {
        Bson::RegularExpression(regex) => {
            Ok(vec![pattern::leaf_for(field, regex.pattern.as_str(), regex.options.as_str(), loc)?])
        }
        Bson::Document(doc) if doc.keys().next().is_some_and(|key| key.starts_with('$')) => operators(field, doc, loc),
        literal => Ok(vec![leaf(Operator::Eq, field, Some(to_spec(literal, loc)?))]),
    }
}

/// `{op: value, …}` on `field` (`loc` is the operator document).
fn operators(field: &str, doc: &Document, loc: &Loc<'_>) -> Result<Vec<Spec<'static>>> {
    loc.check_depth()?;
    if let Some(plain) = doc.keys().find(|key| !key.starts_with('$')) {
        return Err(loc.key(plain).invalid(format!(
            "a field's document holds either operators or plain keys, not both (found {plain:?} after an operator)"
        )));
    }
    if let Some(spec) = shapes::field_pair(field, doc) {
        return Ok(vec![spec]);
    }
    let mut out = Vec::with_capacity(doc.len());
    for (key, value) in doc {
        let here = loc.key(key);
        match key.as_str() {
            "$regex" => out.push(regex(field, value, doc.get("$options"), &here, loc)?),
            "$options" if doc.contains_key("$regex") => {}
            "$options" => return Err(here.invalid("$options needs $regex beside it")),
            _ => out.push(operator(field, key, value, &here)?),
        }
    }
    Ok(out)
}

/// `$regex` (a string or a regular expression) with the `$options` beside it, if any; the
/// options given beside replace those of a regular expression value.
fn regex(field: &str, value: &Bson, options: Option<&Bson>, loc: &Loc<'_>, doc_loc: &Loc<'_>) -> Result<Spec<'static>> {
    let options_loc = doc_loc.key("$options");
    let options = match options {
        None => None,
        Some(Bson::String(options)) => Some(options.as_str()),
        Some(_) => return Err(options_loc.invalid("$options needs a string")),
    };
    match value {
        Bson::String(text) => pattern::leaf_for(field, text, options.unwrap_or(""), &options_loc),
        Bson::RegularExpression(regex) => pattern::leaf_for(
            field,
            regex.pattern.as_str(),
            options.unwrap_or(regex.options.as_str()),
            if options.is_some() { &options_loc } else { loc },
        ),
        _ => Err(loc.invalid("$regex needs a string or a regular expression")),
    }
}

/// One operator on `field` (`loc` is the operator's value).
fn operator(field: &str, key: &str, value: &Bson, loc: &Loc<'_>) -> Result<Spec<'static>> {
    let comparison = match key {
        "$eq" => Some(Operator::Eq),
        "$ne" => Some(Operator::Ne),
        "$gt" => Some(Operator::Gt),
        "$gte" => Some(Operator::Gte),
        "$lt" => Some(Operator::Lt),
        "$lte" => Some(Operator::Lte),
        _ => None,
    };
    if let Some(op) = comparison {
        if !matches!(op, Operator::Eq | Operator::Ne) && !is_scalar(value) {
            return Err(loc.unsupported(format!(
                "{key} with {} has no specification form (ordering comparisons take one value)",
                crate::diag::bson_type_name(value)
            )));
        }
        return Ok(leaf(op, field, Some(to_spec(value, loc)?)));
    }
    match key {
        "$in" | "$nin" | "$all" => set(field, key, value, loc),
        "$exists" => exists(field, value, loc),
        "$type" => contains::type_test(field, value, loc),
        "$size" => size(field, value, loc),
        "$not" => negation(field, value, loc),
        "$geoWithin" | "$geoIntersects" => geo::clause(field, key, value, loc),
        "$elemMatch" => elem_match::clause(field, value, loc),
        "$near" | "$nearSphere" => Err(loc.unsupported(format!(
            "{key} sorts by distance and has no specification form; distance_lt filters within a radius \
             ($geoWithin with $centerSphere)"
        ))),
        other if is_field_operator(other) => Err(loc.unsupported(format!("{other} has no specification form"))),
        other => Err(loc.invalid(format!("unknown operator {other}"))),
    }
}

/// `$in`, `$nin`, `$all`: a list of values (`$all` with `$elemMatch` items is `json_contains`).
fn set(field: &str, key: &str, value: &Bson, loc: &Loc<'_>) -> Result<Spec<'static>> {
    let Bson::Array(items) = value else {
        return Err(loc.invalid(format!("{key} needs an array")));
    };
    if key == "$all"
        && let Some(spec) = contains::all(field, items, loc)?
    {
        return Ok(spec);
    }
    let op = match key {
        "$in" => Operator::In,
        "$nin" => Operator::NotIn,
        _ => Operator::All,
    };
    Ok(leaf(op, field, Some(to_spec(value, loc)?)))
}

/// `$exists`: true is `json_has_key` on the parent (`a.b` → key `b` of `a`) or
/// `json_path_exists` `"$"` for a top-level field; false is the `not` of that.
fn exists(field: &str, value: &Bson, loc: &Loc<'_>) -> Result<Spec<'static>> {
    let wanted = match value {
        Bson::Boolean(b) => *b,
        Bson::Int32(n) => *n != 0,
        Bson::Int64(n) => *n != 0,
        Bson::Double(n) => *n != 0.0,
        _ => return Err(loc.invalid("$exists needs true or false")),
    };
    let test = shapes::exists_leaf(field);
    Ok(if wanted { test } else { not(test) })
}

/// `$size: 0`: an empty array, i.e. equal to `[]` and without an element 0 (`= []` alone also
/// matches an array holding an empty array).
fn size(field: &str, value: &Bson, loc: &Loc<'_>) -> Result<Spec<'static>> {
    let zero = match value {
        Bson::Int32(n) => *n == 0,
        Bson::Int64(n) => *n == 0,
        Bson::Double(n) => *n == 0.0,
        _ => return Err(loc.invalid("$size needs a number")),
    };
    if !zero {
        return Err(loc.unsupported("$size other than 0 has no specification form"));
    }
    Ok(all_of(vec![
        leaf(Operator::Eq, field, Some(json!([]))),
        not(leaf(Operator::JsonHasKey, field, Some(Value::from("0")))),
    ]))
}

/// `$not`: a regular expression, or an operator document; `not_like` when it holds exactly the
/// regex `not_like` compiles to.
fn negation(field: &str, value: &Bson, loc: &Loc<'_>) -> Result<Spec<'static>> {
    match value {
        Bson::RegularExpression(regex) => {
            Ok(not(pattern::leaf_for(field, regex.pattern.as_str(), regex.options.as_str(), loc)?))
        }
        Bson::Document(doc) if !doc.is_empty() && doc.keys().all(|key| key.starts_with('$')) => {
            if let (2, Ok(text), Ok(options)) = (doc.len(), doc.get_str("$regex"), doc.get_str("$options"))
                && let Some(spec) = pattern::not_like(field, text, options)
            {
                return Ok(spec);
            }
            Ok(not(all_of(operators(field, doc, loc)?)))
        }
        _ => Err(loc.invalid("$not needs a regular expression or a document of operators")),
    }
}
