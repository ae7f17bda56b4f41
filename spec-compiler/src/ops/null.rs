//! `is_null` `is_not_null` `is_empty` `is_not_empty`. `val` is an optional flag: absent, null
//! or true mean the operator as named, false its negation.

use bson::{Bson, Document, doc};

use super::{field_op, group};
use crate::compile::LeafCx;
use crate::diag::bson_type_name;
use crate::error::ErrorCode;
use crate::operator::Operator;

pub(crate) fn compile(op: Operator, field: &str, cx: &mut LeafCx<'_, '_, '_>) -> Option<Document> {
    let positive = match cx.optional_value()? {
        None | Some(Bson::Null) | Some(Bson::Boolean(true)) => true,
        Some(Bson::Boolean(false)) => false,
        Some(other) => {
            cx.error(
                ErrorCode::InvalidValue,
                format!("{:?} takes an optional true/false flag, got {}", op.name(), bson_type_name(&other)),
            );
            return None;
        }
    };
    let null_test = matches!(op, Operator::IsNull | Operator::IsNotNull);
    let wants_missing = matches!(op, Operator::IsNull | Operator::IsEmpty) == positive;
    Some(match (null_test, wants_missing) {
        (true, true) => is_null(field),
        (true, false) => doc! { field: { "$exists": true, "$ne": Bson::Null } },
        (false, true) => group(
            "$or",
            vec![
                field_op(field, "$exists", Bson::Boolean(false)),
                field_op(field, "$eq", Bson::Null),
                field_op(field, "$eq", Bson::from("")),
                field_op(field, "$size", Bson::Int32(0)),
            ],
        ),
        (false, false) => group(
            "$and",
            vec![
                field_op(field, "$exists", Bson::Boolean(true)),
                field_op(field, "$ne", Bson::Null),
                field_op(field, "$ne", Bson::from("")),
                field_op(field, "$not", Bson::Document(doc! { "$size": 0 })),
            ],
        ),
    })
}

fn is_null(field: &str) -> Document {
    group("$or", vec![field_op(field, "$exists", Bson::Boolean(false)), field_op(field, "$eq", Bson::Null)])
}
