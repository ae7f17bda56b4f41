//! `{"$expr": {op: ["$a", "$b"]}}` → a comparison of two fields (`{"op", "attr", "field"}`),
//! for `$eq` `$ne` `$gt` `$gte` `$lt` `$lte`: exactly what the compiler emits for one. Any other
//! `$expr` (a literal operand, `$$variables`, arithmetic, `$and` of comparisons…) has no
//! specification form: a literal compared in `$expr` follows the aggregation comparison, which a
//! leaf's value (query comparison, with type bracketing) does not.

use std::borrow::Cow;

use bson::Bson;

use super::error::{Loc, Result};
use crate::config::field_path_problem;
use crate::operator::Operator;
use crate::spec::{FieldComparison, Spec};

/// The comparison of `{"$expr": value}` (`loc` is the value).
pub(crate) fn clause(value: &Bson, loc: &Loc<'_>) -> Result<Spec<'static>> {
    let refuse = |loc: &Loc<'_>| {
        loc.unsupported(
            "$expr is decompiled only as a comparison of two fields: {\"$gt\": [\"$a\", \"$b\"]} with $eq, $ne, \
             $gt, $gte, $lt or $lte",
        )
    };
    let Bson::Document(expr) = value else { return Err(refuse(loc)) };
    let mut entries = expr.iter();
    let (Some((name, operands)), None) = (entries.next(), entries.next()) else { return Err(refuse(loc)) };
    let here = loc.key(name);
    let op = match name.as_str() {
        "$eq" => Operator::Eq,
        "$ne" => Operator::Ne,
        "$gt" => Operator::Gt,
        "$gte" => Operator::Gte,
        "$lt" => Operator::Lt,
        "$lte" => Operator::Lte,
        _ => return Err(refuse(&here)),
    };
    let Bson::Array(operands) = operands else { return Err(refuse(&here)) };
    let [left, right] = operands.as_slice() else { return Err(refuse(&here)) };
    let attr = field_reference(left, &here.index(0))?;
    let field = field_reference(right, &here.index(1))?;
    Ok(Spec::FieldComparison(FieldComparison { op, attr: Cow::Owned(attr), field: Cow::Owned(field) }))
}

/// `"$a.b"` → `a.b`.
fn field_reference(operand: &Bson, loc: &Loc<'_>) -> Result<String> {
    let path = match operand {
        Bson::String(text) => text.strip_prefix('$').filter(|path| !path.starts_with('$')),
        _ => None,
    };
    let Some(path) = path else {
        return Err(loc.unsupported(
            "a $expr operand is decompiled only as a field reference \"$path\" (a literal is compared by the \
             aggregation rules, which a specification's value does not follow)",
        ));
    };
    match field_path_problem(path) {
        None => Ok(path.to_owned()),
        Some(problem) => {
            Err(loc.unsupported(format!("the field {path:?} cannot be named in a specification: {problem}")))
        }
    }
}
