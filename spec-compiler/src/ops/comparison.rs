//! `=` `!=` `>` `>=` `<` `<=` `between` `not_between`.

use bson::{Bson, Document};

use super::{field_op, group, is_scalar};
use crate::compile::LeafCx;
use crate::diag::{Seg, bson_type_name};
use crate::error::ErrorCode;
use crate::operator::Operator;

pub(crate) fn compile(op: Operator, field: &str, cx: &mut LeafCx<'_, '_, '_>) -> Option<Document> {
    let value = cx.value()?;
    let operator = match op {
        Operator::Eq => return Some(field_op(field, "$eq", value)),
        Operator::Ne => return Some(field_op(field, "$ne", value)),
        Operator::Between | Operator::NotBetween => return range(op, field, value, cx),
        Operator::Gt => "$gt",
        Operator::Gte => "$gte",
        Operator::Lt => "$lt",
        _ => "$lte",
    };
    if !is_scalar(&value) {
        cx.error(
            ErrorCode::InvalidValue,
            format!("{:?} compares with one value, got {}", op.name(), bson_type_name(&value)),
        );
        return None;
    }
    Some(field_op(field, operator, value))
}

fn range(op: Operator, field: &str, value: Bson, cx: &mut LeafCx<'_, '_, '_>) -> Option<Document> {
    let bounds = match value {
        Bson::Array(items) if items.len() == 2 => items,
        other => {
            cx.error(
                ErrorCode::InvalidValue,
                format!("{:?} expects a list of two values [low, high], got {}", op.name(), describe(&other)),
            );
            return None;
        }
    };
    for (index, bound) in bounds.iter().enumerate() {
        if !is_scalar(bound) {
            cx.error_at(
                Seg::Index(index),
                ErrorCode::InvalidValue,
                format!("{:?} bounds must be single values, got {}", op.name(), bson_type_name(bound)),
            );
            return None;
        }
    }
    let [low, high]: [Bson; 2] = bounds.try_into().expect("checked length");
    Some(if op == Operator::Between {
        group("$and", vec![field_op(field, "$gte", low), field_op(field, "$lte", high)])
    } else {
        group("$or", vec![field_op(field, "$lt", low), field_op(field, "$gt", high)])
    })
}

fn describe(value: &Bson) -> String {
    match value {
        Bson::Array(items) => format!("a list of {} values", items.len()),
        other => bson_type_name(other).to_owned(),
    }
}
