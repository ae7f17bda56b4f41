//! Parsing `{"op": ">", "attr": "shipped_at", "field": "promised_at"}`: a comparison whose right
//! side is another field of the same document instead of a `val`.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{FieldComparison, Spec, attr_of, unknown_key};
use crate::diag::{Diag, json_type_name};
use crate::error::ErrorCode;
use crate::operator::Operator;

const KEYS: [&str; 3] = ["op", "attr", "field"];

/// Added to the `unknown_key` message of a `field` on any other operator.
pub(super) const HINT: &str = " (only = != > >= < <= compare with another \"field\")";

/// The operators that may compare two fields.
pub(crate) const fn compares(op: Operator) -> bool {
    matches!(op, Operator::Eq | Operator::Ne | Operator::Gt | Operator::Gte | Operator::Lt | Operator::Lte)
}

pub(super) fn parse<'a>(op: Operator, node: &'a Map<String, Value>, diag: &mut Diag<'a>) -> Option<Spec<'a>> {
    let mut ok = true;
    let (mut attr_value, mut field_value) = (None, None);
    for (key, value) in node {
        match key.as_str() {
            "op" => {}
            "attr" => attr_value = Some(value),
            "field" => field_value = Some(value),
            "val" => {
                ok = false;
                let message = "a comparison takes either \"val\" (a value) or \"field\" (another field), not both";
                diag.error_at_key("val", ErrorCode::InvalidNode, message);
            }
            "value_type" if !value.is_null() => {
                ok = false;
                let message = "\"value_type\" casts a \"val\"; a comparison with another \"field\" compares the \
                               stored values as they are";
                diag.error_at_key("value_type", ErrorCode::InvalidNode, message);
            }
            "value_type" => {}
            _ => {
                ok = false;
                unknown_key(key, &KEYS, op, diag);
            }
        }
        if diag.stop() {
            return None;
        }
    }
    let attr = attr_of(attr_value, op, diag);
    if diag.stop() {
        return None;
    }
    let field = match field_value {
        Some(Value::String(field)) => Some(field.as_str()),
        other => {
            let got = other.map_or("nothing", json_type_name);
            let message = format!("\"field\" must be a string field path, got {got}");
            diag.error_at_key("field", ErrorCode::InvalidNode, message);
            None
        }
    };
    let (attr, field) = (attr?, field?);
    ok.then(|| Spec::FieldComparison(FieldComparison { op, attr: Cow::Borrowed(attr), field: Cow::Borrowed(field) }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn first_error(value: Value) -> (String, String) {
        let err = Spec::from_value(&value).unwrap_err();
        (err.code().as_str().to_owned(), err.path_string())
    }

    #[test]
    fn parses_every_comparison_and_alias() {
        for (name, op) in [("=", Operator::Eq), ("ne", Operator::Ne), ("GT", Operator::Gt), ("ge", Operator::Gte)] {
            let value = json!({"op": name, "attr": "a", "field": "b"});
            let spec = Spec::from_value(&value).unwrap();
            assert_eq!(
                spec,
                Spec::FieldComparison(FieldComparison { op, attr: Cow::Borrowed("a"), field: Cow::Borrowed("b") })
            );
            assert_eq!(spec.to_json(), json!({"op": op.name(), "attr": "a", "field": "b"}));
        }
    }

    #[test]
    fn shape_errors_point_at_the_key() {
        let cases = [
            (json!({"op": ">", "attr": "a", "field": "b", "val": 1}), "invalid_node", "<root>.val"),
            (
                json!({"op": ">", "attr": "a", "field": "b", "value_type": "integer"}),
                "invalid_node",
                "<root>.value_type",
            ),
            (json!({"op": ">", "attr": "a", "field": 5}), "invalid_node", "<root>.field"),
            (json!({"op": ">", "field": "b"}), "missing_field", "<root>.attr"),
            (json!({"op": ">", "attr": "a", "field": "b", "fied": 1}), "unknown_key", "<root>.fied"),
            (json!({"op": "in", "attr": "a", "field": "b"}), "unknown_key", "<root>.field"),
            (json!({"op": "between", "attr": "a", "field": "b", "val": [1, 2]}), "unknown_key", "<root>.field"),
        ];
        for (value, code, path) in cases {
            assert_eq!(first_error(value.clone()), (code.to_owned(), path.to_owned()), "{value}");
        }
        let err = Spec::from_value(&json!({"op": "in", "attr": "a", "field": "b", "val": [1]})).unwrap_err();
        assert!(err.message().contains("compare with another \"field\""), "{}", err.message());
    }

    #[test]
    fn a_null_value_type_is_no_cast() {
        let value = json!({"op": "<", "attr": "a", "field": "b", "value_type": null});
        assert!(matches!(Spec::from_value(&value), Ok(Spec::FieldComparison(_))));
    }
}
