//! Parsing `{"op": "elem_match", "attr": "items", "conditions": [...]}`: the shape checks of a
//! group (unknown keys, `conditions` a non-empty list) plus the array's `attr`.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{ElemMatch, Spec, attr_of, check_keys, field, parse_children};
use crate::config::CompilerConfig;
use crate::diag::{Diag, Seg};
use crate::error::ErrorCode;
use crate::operator::Operator;

const KEYS: [&str; 3] = ["op", "attr", "conditions"];

pub(super) fn parse<'a>(
    node: &'a Map<String, Value>,
    depth: usize,
    config: &CompilerConfig,
    diag: &mut Diag<'a>,
) -> Option<Spec<'a>> {
    let op = Operator::ElemMatch;
    let keys_ok = check_keys(node, &KEYS, op, diag);
    if diag.stop() {
        return None;
    }
    let attr = attr_of(field(node, "attr"), op, diag);
    if diag.stop() {
        return None;
    }
    let Some(conditions) = field(node, "conditions") else {
        diag.error_at_key("conditions", ErrorCode::MissingField, "\"elem_match\" needs \"conditions\"");
        return None;
    };
    // Several conditions may compile to `{"$elemMatch": {"$and": [...]}}` (when a key repeats,
    // which only compiling tells): they count one level deeper, as the conditions of an `and`
    // inside the elem_match would.
    let several = conditions.as_array().is_some_and(|items| items.len() > 1);
    let depth = depth + usize::from(several);
    let conditions = diag.at(Seg::Key("conditions"), |diag| parse_children(op, conditions, depth, config, diag))?;
    let attr = attr?;
    keys_ok.then(|| Spec::ElemMatch(ElemMatch { attr: Cow::Borrowed(attr), conditions }))
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
    fn parses_and_round_trips() {
        let value = json!({"op": "elem_match", "attr": "items", "conditions": [
            {"op": "=", "attr": "sku", "val": "AB-123"},
            {"op": "elem_match", "attr": "lots", "conditions": [{"op": ">", "attr": "qty", "val": 1}]},
            {"op": "not", "condition": {"op": "is_null", "attr": "note"}}
        ]});
        let spec = Spec::from_value(&value).unwrap();
        assert!(matches!(&spec, Spec::ElemMatch(group) if group.attr == "items" && group.conditions.len() == 3));
        assert_eq!(spec.to_json(), value);
        assert_eq!(spec.into_owned().to_json(), value);
    }

    #[test]
    fn shape_errors_point_at_the_key() {
        let cases = [
            (json!({"op": "elem_match", "attr": "items"}), "missing_field", "<root>.conditions"),
            (json!({"op": "elem_match", "attr": "items", "conditions": []}), "empty_group", "<root>.conditions"),
            (json!({"op": "elem_match", "attr": "items", "conditions": {}}), "invalid_node", "<root>.conditions"),
            (
                json!({"op": "elem_match", "conditions": [{"op": "is_null", "attr": "a"}]}),
                "missing_field",
                "<root>.attr",
            ),
            (
                json!({"op": "elem_match", "attr": 3, "conditions": [{"op": "is_null", "attr": "a"}]}),
                "invalid_node",
                "<root>.attr",
            ),
            (
                json!({"op": "elem_match", "attr": "items", "val": 1, "conditions": [{"op": "is_null", "attr": "a"}]}),
                "unknown_key",
                "<root>.val",
            ),
            (
                json!({"op": "elem_match", "attr": "items", "conditions": [{"op": "=", "attr": "a"}]}),
                "missing_field",
                "<root>.conditions[0].val",
            ),
        ];
        for (value, code, path) in cases {
            assert_eq!(first_error(value.clone()), (code.to_owned(), path.to_owned()), "{value}");
        }
    }

    #[test]
    fn several_conditions_count_one_level_deeper() {
        let leaf = json!({"op": "is_null", "attr": "a"});
        let nest = |levels: usize, several: bool| {
            let mut value = leaf.clone();
            for _ in 0..levels {
                let conditions = if several { vec![value, leaf.clone()] } else { vec![value] };
                value = json!({"op": "elem_match", "attr": "xs", "conditions": conditions});
            }
            value
        };
        // The default depth limit is 32 levels: 31 elem_matches of one condition above a leaf,
        // or 15 of several conditions (two levels each) above it.
        assert!(Spec::from_value(&nest(31, false)).is_ok());
        assert_eq!(Spec::from_value(&nest(32, false)).unwrap_err().code(), ErrorCode::TooDeep);
        assert!(Spec::from_value(&nest(15, true)).is_ok());
        let err = Spec::from_value(&nest(16, true)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::TooDeep);
        // The first condition of the 16th elem_match is at level 33.
        assert_eq!(err.path().len(), 2 * 15 + 2);
    }
}
