//! One module per operator family. Each takes the field path and the leaf's value (through
//! [`LeafCx`](crate::compile::LeafCx)) and writes one filter document into the
//! [`Out`](crate::out::Out) writer; `None` means an error was reported and nothing usable was written.

pub(crate) mod comparison;
pub(crate) mod geo;
pub(crate) mod json;
pub(crate) mod null;
pub(crate) mod set;
pub(crate) mod string;
pub(crate) mod text;

use bson::Bson;

use crate::out::Out;

/// Writes `{field: {operator: value}}`.
pub(crate) fn field_op<W: Out>(w: &mut W, field: &str, operator: &str, value: &Bson) {
    w.begin("");
    w.begin(field);
    w.value(operator, value);
    w.end();
    w.end();
}

/// Writes `{operator: [items...]}`; `items` writes one document per item.
pub(crate) fn group<W: Out>(w: &mut W, operator: &str, items: impl FnOnce(&mut W)) {
    w.begin("");
    w.begin_array(operator);
    items(w);
    w.end();
    w.end();
}

/// True for values an ordering comparison accepts: not null, not a list, not an object.
pub(crate) fn is_scalar(value: &Bson) -> bool {
    !matches!(value, Bson::Null | Bson::Array(_) | Bson::Document(_))
}
