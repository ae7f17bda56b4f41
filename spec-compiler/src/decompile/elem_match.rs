//! `{field: {"$elemMatch": F}}` → `elem_match`: `F` is a filter document on one element, its
//! fields relative to the element. The compiler writes one condition's filter as it is, several
//! merged into one document when their keys are distinct, and several in `{"$and": [...]}` when
//! a key repeats. So the keys of `F` are the conditions (a hand-written
//! `{"sku": "A", "qty": {"$gte": 3}}` as well); `{"$and": [...]}` alone gives its items as the
//! conditions when a key repeats among them, and is one `and` condition when none does (several
//! conditions would have been merged).

use std::borrow::Cow;
use std::collections::HashSet;

use bson::{Bson, Document};

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
        Spec::And(children) if children.len() >= 2 && !and_of_distinct_keys(element) => children,
        one => vec![one],
    };
    Ok(Spec::ElemMatch(ElemMatch { attr: Cow::Owned(field.to_owned()), conditions }))
}

/// `{"$and": [items]}` alone, no key repeating across the items.
fn and_of_distinct_keys(element: &Document) -> bool {
    let mut entries = element.iter();
    let (Some((key, Bson::Array(items))), None) = (entries.next(), entries.next()) else { return false };
    let mut seen = HashSet::new();
    key == "$and"
        && items.iter().all(|item| match item {
            Bson::Document(doc) => doc.keys().all(|key| seen.insert(key.as_str())),
            _ => true,
        })
}
