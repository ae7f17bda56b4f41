//! MongoDB filter → specification: the inverse of the compiler.
//!
//! [`decompile`] reads a filter document and returns a [`Spec`] that compiles back to the same
//! filter for every filter the compiler emits (`compile(decompile(compile(s))) == compile(s)`,
//! key order and BSON types included), and to an equivalent one for the usual hand-written
//! forms: implicit equality `{a: 1}`, several fields in one document (an implicit `and`),
//! several operators on one field, `{a: /re/i}`, `$exists`, `$size: 0`, `$nor` of several
//! clauses. Anything a specification cannot express is a [`DecompileError`] with a stable code,
//! the path into the filter, and a message; nothing panics, and nesting is bounded by MongoDB's
//! 100 levels.
//!
//! ```
//! use cqrs_mongo_spec::{compile, decompile};
//! use serde_json::json;
//!
//! let spec = json!({"op": "and", "conditions": [
//!     {"op": "between", "attr": "total", "val": [100, 500]},
//!     {"op": "ilike", "attr": "note", "val": "%urgent%"},
//! ]});
//! let filter = compile(&spec).unwrap();
//! assert_eq!(decompile(&filter).unwrap().to_json(), spec);
//!
//! let hand_written = bson::doc! {"status": "paid", "qty": {"$gt": 1, "$lt": 5}};
//! assert_eq!(decompile(&hand_written).unwrap().to_json(), json!({"op": "and", "conditions": [
//!     {"op": "=", "attr": "status", "val": "paid"},
//!     {"op": ">", "attr": "qty", "val": 1},
//!     {"op": "<", "attr": "qty", "val": 5},
//! ]}));
//! ```

mod contains;
mod elem_match;
mod error;
mod expr;
mod extjson;
mod field;
mod geo;
mod pattern;
mod shapes;
mod value;

use std::borrow::Cow;

use bson::{Bson, Document};
use serde_json::Value;

pub use error::{DecompileError, DecompileErrorCode, display_filter_path};
use error::{Loc, Result};

use crate::operator::Operator;
use crate::spec::{Leaf, Not, Spec};

/// The `attr` of a text-search leaf: `$text` searches the collection's text index, whatever
/// field a spec names, so the filter does not say which one was written.
pub const TEXT_SEARCH_ATTR: &str = "text";

/// Decompiles a filter document into a specification.
///
/// ```
/// let spec = cqrs_mongo_spec::decompile(&bson::doc! {"name": {"$regex": "^ab", "$options": "i"}}).unwrap();
/// assert_eq!(spec.to_json(), serde_json::json!({"op": "istartswith", "attr": "name", "val": "ab"}));
/// ```
pub fn decompile(filter: &Document) -> std::result::Result<Spec<'static>, DecompileError> {
    document(filter, &Loc::ROOT)
}

/// Decompiles a filter given as Extended JSON (canonical or relaxed): plain integers are Int32,
/// or Int64 beyond 32 bits, numbers with a fraction or exponent Double, and the wrappers the
/// compiler reads in values (`$numberLong`, `$date`, `$oid`, …) plus `$regularExpression`.
///
/// ```
/// let filter = serde_json::json!({"n": {"$gte": {"$numberLong": "5"}}});
/// let spec = cqrs_mongo_spec::decompile_json(&filter).unwrap();
/// assert_eq!(spec.to_json(), serde_json::json!({"op": ">=", "attr": "n", "val": {"$numberLong": "5"}}));
/// ```
pub fn decompile_json(filter: &Value) -> std::result::Result<Spec<'static>, DecompileError> {
    decompile(&extjson::filter_document(filter)?)
}

/// Decompiles a filter given as Extended JSON text. Text that is not JSON is `invalid_json`;
/// the input rules of [`parse_json`](crate::parse_json) apply (nesting, integers beyond Int64,
/// lone surrogates), with their paths.
pub fn decompile_str(filter_json: &str) -> std::result::Result<Spec<'static>, DecompileError> {
    decompile_json(&crate::input::parse_json(filter_json).map_err(extjson::input_error)?)
}

/// [`decompile_str`] for text given as UTF-16 code units (a JS or Python string).
pub fn decompile_utf16(units: &[u16]) -> std::result::Result<Spec<'static>, DecompileError> {
    decompile_json(&crate::input::parse_json_utf16(units).map_err(extjson::input_error)?)
}

/// A leaf owning its parts.
pub(crate) fn leaf(op: Operator, attr: &str, val: Option<Value>) -> Spec<'static> {
    Spec::Leaf(Leaf { op, attr: Cow::Owned(attr.to_owned()), val: val.map(Cow::Owned), value_type: None })
}

/// `not` around a spec.
pub(crate) fn not(spec: Spec<'static>) -> Spec<'static> {
    Spec::Not(Not { condition: Box::new(spec), listed: false })
}

/// One spec for several clauses: the clause itself, or their `and`.
pub(crate) fn all_of(mut clauses: Vec<Spec<'static>>) -> Spec<'static> {
    if clauses.len() == 1 { clauses.remove(0) } else { Spec::And(clauses) }
}

/// A filter document: each key is one clause (a field or a top-level operator); several are an
/// implicit `and`.
fn document(doc: &Document, loc: &Loc<'_>) -> Result<Spec<'static>> {
    loc.check_depth()?;
    if doc.is_empty() {
        return Err(loc.unsupported(
            "an empty filter matches every document; a specification has no condition that is always true",
        ));
    }
    let mut clauses = Vec::with_capacity(doc.len());
    for (key, value) in doc {
        let here = loc.key(key);
        if key.starts_with('$') {
            clauses.push(top_level(key, value, &here)?);
        } else {
            clauses.extend(field::clauses(key, value, &here)?);
        }
    }
    Ok(all_of(clauses))
}

/// A top-level operator: `$and`, `$or`, `$nor`, `$text` (and the refusals).
fn top_level(key: &str, value: &Bson, loc: &Loc<'_>) -> Result<Spec<'static>> {
    match key {
        "$and" | "$or" | "$nor" => {
            let items = documents(key, value, loc)?;
            let shape = match key {
                "$and" => shapes::and(&items),
                "$or" => shapes::or(&items),
                _ => shapes::nor(&items),
            };
            if let Some(spec) = shape {
                return Ok(spec);
            }
            let mut children = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                children.push(document(item, &loc.index(index))?);
            }
            Ok(match key {
                "$and" => Spec::And(children),
                "$or" => Spec::Or(children),
                _ if children.len() == 1 => not(children.remove(0)),
                // None of them: not (a or b).
                _ => not(Spec::Or(children)),
            })
        }
        "$text" => text_search(value, loc),
        "$expr" => expr::clause(value, loc),
        "$where" | "$jsonSchema" | "$comment" | "$sampleRate" => {
            Err(loc.unsupported(format!("{key} has no specification form")))
        }
        other if field::is_field_operator(other) => {
            Err(loc.invalid(format!("{other} applies to a field: write {{\"field\": {{\"{other}\": …}}}}")))
        }
        other => Err(loc.invalid(format!("unknown top-level operator {other}"))),
    }
}

/// The documents of `$and`/`$or`/`$nor`: a non-empty array of documents.
fn documents<'b>(key: &str, value: &'b Bson, loc: &Loc<'_>) -> Result<Vec<&'b Document>> {
    let Bson::Array(items) = value else {
        return Err(loc.invalid(format!("{key} needs a list of filter documents")));
    };
    loc.check_depth()?;
    if items.is_empty() {
        return Err(loc.invalid(format!("{key} needs at least one filter document (MongoDB refuses an empty list)")));
    }
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match item {
            Bson::Document(doc) => out.push(doc),
            _ => return Err(loc.index(index).invalid(format!("{key} holds filter documents only"))),
        }
    }
    Ok(out)
}

/// `{"$text": {"$search": text}}` → `fts`, or `fts_phrase` for one quoted phrase.
fn text_search(value: &Bson, loc: &Loc<'_>) -> Result<Spec<'static>> {
    let Bson::Document(body) = value else {
        return Err(loc.invalid("$text needs a document such as {\"$search\": \"words\"}"));
    };
    let mut search = None;
    for (key, item) in body {
        match (key.as_str(), item) {
            ("$search", Bson::String(text)) => search = Some(text),
            ("$search", _) => return Err(loc.key(key).invalid("$search needs a string")),
            ("$language" | "$caseSensitive" | "$diacriticSensitive", _) => {
                return Err(loc.key(key).unsupported(format!("text search with {key} has no specification form")));
            }
            _ => return Err(loc.key(key).invalid(format!("unknown $text option {key}"))),
        }
    }
    let Some(text) = search else {
        return Err(loc.invalid("$text needs $search"));
    };
    let phrase = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .filter(|inner| !inner.contains('"') && !inner.trim().is_empty());
    Ok(match phrase {
        Some(inner) => leaf(Operator::FtsPhrase, TEXT_SEARCH_ATTR, Some(inner.into())),
        None => leaf(Operator::Fts, TEXT_SEARCH_ATTR, Some(text.as_str().into())),
    })
}
