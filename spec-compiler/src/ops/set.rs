//! `in` `not_in` `all`: a list of literals; any other value is wrapped in a one-item list.

use bson::{Bson, Document};

use super::field_op;
use crate::compile::LeafCx;
use crate::operator::Operator;

pub(crate) fn compile(op: Operator, field: &str, cx: &mut LeafCx<'_, '_, '_>) -> Option<Document> {
    let value = cx.value()?;
    let items = match value {
        Bson::Array(items) => items,
        single => vec![single],
    };
    let operator = match op {
        Operator::In => "$in",
        Operator::NotIn => "$nin",
        _ => "$all",
    };
    Some(field_op(field, operator, Bson::Array(items)))
}
