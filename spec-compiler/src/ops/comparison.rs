//! `=` `!=` `>` `>=` `<` `<=` `between` `not_between`.

use bson::Bson;

use super::{field_op, group, is_scalar};
use crate::compile::LeafCx;
use crate::diag::{Seg, bson_type_name};
use crate::error::ErrorCode;
use crate::operator::Operator;
use crate::out::Out;

pub(crate) fn compile<W: Out>(op: Operator, field: &str, cx: &mut LeafCx<'_, '_, '_>, w: &mut W) -> Option<()> {
    let value = cx.value()?;
    let operator = match op {
        Operator::Eq => "$eq",
        Operator::Ne => "$ne",
        Operator::Between | Operator::NotBetween => return range(op, field, value, cx, w),
        Operator::Gt => "$gt",
        Operator::Gte => "$gte",
        Operator::Lt => "$lt",
        _ => "$lte",
    };
    if !matches!(op, Operator::Eq | Operator::Ne) && !is_scalar(&value) {
        cx.error(
            ErrorCode::InvalidValue,
            format!("{:?} compares with one value, got {}", op.name(), bson_type_name(&value)),
        );
        return None;
    }
    field_op(w, field, operator, &value);
    Some(())
}

fn range<W: Out>(op: Operator, field: &str, value: Bson, cx: &mut LeafCx<'_, '_, '_>, w: &mut W) -> Option<()> {
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
    let (low, high) = (&bounds[0], &bounds[1]);
    if op == Operator::Between {
        group(w, "$and", |w| {
            field_op(w, field, "$gte", low);
            field_op(w, field, "$lte", high);
        });
    } else {
        group(w, "$or", |w| {
            field_op(w, field, "$lt", low);
            field_op(w, field, "$gt", high);
        });
    }
    Some(())
}

fn describe(value: &Bson) -> String {
    match value {
        Bson::Array(items) => format!("a list of {} values", items.len()),
        other => bson_type_name(other).to_owned(),
    }
}
