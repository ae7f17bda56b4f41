//! `in` `not_in` `all`: a list of literals; any other value is wrapped in a one-item list.

use bson::Bson;

use crate::compile::LeafCx;
use crate::operator::Operator;
use crate::out::Out;

pub(crate) fn compile<W: Out>(op: Operator, field: &str, cx: &mut LeafCx<'_, '_, '_>, w: &mut W) -> Option<()> {
    let value = cx.value()?;
    let operator = match op {
        Operator::In => "$in",
        Operator::NotIn => "$nin",
        _ => "$all",
    };
    w.begin("");
    w.begin(field);
    match &value {
        Bson::Array(_) => w.value(operator, &value),
        single => {
            w.begin_array(operator);
            w.value("", single);
            w.end();
        }
    }
    w.end();
    w.end();
    Some(())
}
