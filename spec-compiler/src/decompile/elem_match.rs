//! `{field: {"$elemMatch": F}}` → `elem_match`: `F` is a filter document on one element, its
//! fields relative to the element. The compiler writes one condition's filter as it is and
//! several in `{"$and": [...]}`, so an `and` of two or more becomes the group's conditions;
//! a hand-written `F` with several fields (`{"sku": "A", "qty": {"$gte": 3}}`) is their `and`.

use std::borrow::Cow;

use bson::Bson;

use super::document;
use super::error::{Loc, Result};
use crate::spec::{ElemMatch, Spec};

/// The `elem_match` group of `{field: {"$elemMatch": value}}` (`loc` is the value).
pub(crate) fn clause(field: &str, value: &Bson, loc: &Loc<'_>) -> Result<Spec<'static>> {
    let Bson::Document(element) = value else {
        return Err(loc.invalid("$elemMatch needs a document"));
    };
    if let Some(key) = element.keys().find(|key| matches!(key.as_str(), "$text" | "$expr" | "$where")) {
        return Err(loc.key(key).invalid(format!("MongoDB refuses {key} inside $elemMatch")));
    }
    if element.keys().next().is_some_and(|key| key.starts_with('$') && !matches!(key.as_str(), "$and" | "$or" | "$nor"))
    {
        return Err(loc.unsupported(
            "$elemMatch with operators on the elements themselves (an array of values, not of documents) has no \
             specification form: the conditions of elem_match name fields of the element",
        ));
    }
    let conditions = match document(element, loc)? {
        Spec::And(children) if children.len() >= 2 => children,
        one => vec![one],
    };
    Ok(Spec::ElemMatch(ElemMatch { attr: Cow::Owned(field.to_owned()), conditions }))
}
