//! One module per operator family. Each takes the field path and the leaf's raw `val` and
//! returns the filter document, reporting errors through the compile context.

pub(crate) mod comparison;
pub(crate) mod geo;
pub(crate) mod json;
pub(crate) mod null;
pub(crate) mod set;
pub(crate) mod string;
pub(crate) mod text;

use bson::{Bson, Document};

/// `{field: {operator: value}}`.
pub(crate) fn field_op(field: &str, operator: &str, value: Bson) -> Document {
    let mut inner = Document::new();
    inner.insert(operator, value);
    let mut outer = Document::new();
    outer.insert(field, inner);
    outer
}

/// `{operator: [clauses...]}`.
pub(crate) fn group(operator: &str, clauses: Vec<Document>) -> Document {
    group_of(operator, clauses.into_iter().map(Bson::Document).collect())
}

/// `{operator: [clauses...]}` from clauses already wrapped as BSON values.
pub(crate) fn group_of(operator: &str, clauses: Vec<Bson>) -> Document {
    let mut outer = Document::new();
    outer.insert(operator, Bson::Array(clauses));
    outer
}

/// True for values an ordering comparison accepts: not null, not a list, not an object.
pub(crate) fn is_scalar(value: &Bson) -> bool {
    !matches!(value, Bson::Null | Bson::Array(_) | Bson::Document(_))
}
