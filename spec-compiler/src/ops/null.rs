//! `is_null` `is_not_null` `is_empty` `is_not_empty`. `val` is an optional flag: absent, null
//! or true mean the operator as named, false its negation.

use bson::Bson;

use super::{field_op, group};
use crate::compile::LeafCx;
use crate::diag::bson_type_name;
use crate::error::ErrorCode;
use crate::operator::Operator;
use crate::out::Out;

pub(crate) fn compile<W: Out>(op: Operator, field: &str, cx: &mut LeafCx<'_, '_, '_>, w: &mut W) -> Option<()> {
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
    let empty = Bson::String(String::new());
    match (null_test, wants_missing) {
        (true, true) => group(w, "$or", |w| {
            field_op(w, field, "$exists", &Bson::Boolean(false));
            field_op(w, field, "$eq", &Bson::Null);
        }),
        (true, false) => {
            w.begin("");
            w.begin(field);
            w.boolean("$exists", true);
            w.value("$ne", &Bson::Null);
            w.end();
            w.end();
        }
        (false, true) => group(w, "$or", |w| {
            field_op(w, field, "$exists", &Bson::Boolean(false));
            field_op(w, field, "$eq", &Bson::Null);
            field_op(w, field, "$eq", &empty);
            field_op(w, field, "$size", &Bson::Int32(0));
        }),
        (false, false) => group(w, "$and", |w| {
            field_op(w, field, "$exists", &Bson::Boolean(true));
            field_op(w, field, "$ne", &Bson::Null);
            field_op(w, field, "$ne", &empty);
            w.begin("");
            w.begin(field);
            w.begin("$not");
            w.int32("$size", 0);
            w.end();
            w.end();
            w.end();
        }),
    }
    Some(())
}
