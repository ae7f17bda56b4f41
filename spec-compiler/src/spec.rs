//! The specification AST and its parsing from the legacy JSON shape.
//!
//! Parsing checks only the *shape* (objects, keys, operator names, `value_type` names); field
//! paths, values and limits are checked when the AST is compiled, so a spec built with the
//! [builder](crate::builder) gets exactly the same checks as one parsed from JSON.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::config::CompilerConfig;
use crate::diag::{Diag, Seg, json_type_name};
use crate::error::{ErrorCode, SpecError};
use crate::operator::Operator;
use crate::values::ValueType;

mod elem_match;
mod field_comparison;

/// A specification: a leaf condition, a comparison of two fields, or a group of specifications.
///
/// `'a` lets a parsed spec borrow field names and values from the JSON it was parsed from;
/// specs built with the builder are `Spec<'static>`.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec<'a> {
    /// One condition on one field.
    Leaf(Leaf<'a>),
    /// All of the conditions.
    And(Vec<Spec<'a>>),
    /// At least one of the conditions.
    Or(Vec<Spec<'a>>),
    /// The negation of a condition.
    Not(Not<'a>),
    /// One element of an array field satisfies all the conditions (`$elemMatch`).
    ElemMatch(ElemMatch<'a>),
    /// A comparison of two fields of the same document (`$expr`).
    FieldComparison(FieldComparison<'a>),
}

/// A condition on one field: `{"op", "attr", "val", "value_type"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf<'a> {
    /// The operator (never `and`, `or` or `not`).
    pub op: Operator,
    /// The dotted field path.
    pub attr: Cow<'a, str>,
    /// The value, as JSON; `None` when the key was absent.
    pub val: Option<Cow<'a, Value>>,
    /// The optional cast applied to the value.
    pub value_type: Option<ValueType>,
}

/// A negated condition. `listed` records whether the JSON used `"conditions": [x]` rather than
/// `"condition": x`, so that error paths and serialisation follow the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Not<'a> {
    /// The negated condition.
    pub condition: Box<Spec<'a>>,
    /// True when written as `"conditions": [condition]`.
    pub listed: bool,
}

/// `{"op": "elem_match", "attr": "items", "conditions": [...]}`: the conditions name fields of
/// one element of the array `attr`, and one element must satisfy all of them.
#[derive(Debug, Clone, PartialEq)]
pub struct ElemMatch<'a> {
    /// The dotted path of the array field.
    pub attr: Cow<'a, str>,
    /// The conditions on one element, their `attr`s relative to the element.
    pub conditions: Vec<Spec<'a>>,
}

/// `{"op": ">", "attr": "shipped_at", "field": "promised_at"}`: compares two fields of the same
/// document, with the aggregation comparison of `$expr` (no type bracketing).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldComparison<'a> {
    /// The comparison: `=`, `!=`, `>`, `>=`, `<` or `<=`.
    pub op: Operator,
    /// The dotted path of the left field.
    pub attr: Cow<'a, str>,
    /// The dotted path of the right field.
    pub field: Cow<'a, str>,
}

impl<'a> Spec<'a> {
    /// Parses a specification from JSON, reporting the first error.
    pub fn from_value(value: &'a Value) -> Result<Spec<'a>, SpecError> {
        Spec::parse_with(value, &CompilerConfig::default())
    }

    /// Parses with the depth limit of `config` (never more than
    /// [`MAX_DEPTH_LIMIT`](crate::MAX_DEPTH_LIMIT), whatever `config.max_depth` says).
    pub fn parse_with(value: &'a Value, config: &CompilerConfig) -> Result<Spec<'a>, SpecError> {
        let mut diag = Diag::new(false);
        match parse_node(value, 1, config, &mut diag) {
            Some(spec) if !diag.has_errors() => Ok(spec),
            _ => Err(diag.into_first().expect("a failed parse reports an error")),
        }
    }

    /// Copies every borrowed part, giving a spec that outlives its JSON.
    pub fn into_owned(self) -> Spec<'static> {
        match self {
            Spec::Leaf(leaf) => Spec::Leaf(Leaf {
                op: leaf.op,
                attr: Cow::Owned(leaf.attr.into_owned()),
                val: leaf.val.map(|v| Cow::Owned(v.into_owned())),
                value_type: leaf.value_type,
            }),
            Spec::And(children) => Spec::And(children.into_iter().map(Spec::into_owned).collect()),
            Spec::Or(children) => Spec::Or(children.into_iter().map(Spec::into_owned).collect()),
            Spec::Not(not) => Spec::Not(Not { condition: Box::new(not.condition.into_owned()), listed: not.listed }),
            Spec::ElemMatch(group) => Spec::ElemMatch(ElemMatch {
                attr: Cow::Owned(group.attr.into_owned()),
                conditions: group.conditions.into_iter().map(Spec::into_owned).collect(),
            }),
            Spec::FieldComparison(cmp) => Spec::FieldComparison(FieldComparison {
                op: cmp.op,
                attr: Cow::Owned(cmp.attr.into_owned()),
                field: Cow::Owned(cmp.field.into_owned()),
            }),
        }
    }

    /// The legacy JSON shape of this spec.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a spec always serialises to JSON")
    }
}

/// Parses one node; `None` means an error was reported (or the walk was asked to stop).
pub(crate) fn parse_node<'a>(
    value: &'a Value,
    depth: usize,
    config: &CompilerConfig,
    diag: &mut Diag<'a>,
) -> Option<Spec<'a>> {
    if depth > config.depth_limit() {
        diag.error(ErrorCode::TooDeep, format!("the specification nests deeper than {} levels", config.depth_limit()));
        return None;
    }
    if depth == 1 && crate::input::json_len_exceeds(value, config.max_spec_len) {
        diag.error(
            ErrorCode::SpecTooLarge,
            format!("the specification is larger than {} bytes of JSON", config.max_spec_len),
        );
        return None;
    }
    let Value::Object(node) = value else {
        diag.error(
            ErrorCode::InvalidNode,
            format!("a specification node must be an object, got {}", json_type_name(value)),
        );
        return None;
    };
    let op = parse_op(node, diag)?;
    match op {
        Operator::And | Operator::Or => parse_group(op, node, depth, config, diag),
        Operator::Not => parse_not(node, depth, config, diag),
        Operator::ElemMatch => elem_match::parse(node, depth, config, diag),
        _ if field_comparison::compares(op) && field(node, "field").is_some() => {
            field_comparison::parse(op, node, diag)
        }
        _ => parse_leaf(op, node, diag),
    }
}

/// A key of a spec node. Nodes have at most four keys, so a scan beats hashing.
fn field<'a>(node: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    node.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
}

fn parse_op<'a>(node: &'a Map<String, Value>, diag: &mut Diag<'a>) -> Option<Operator> {
    let Some(op) = field(node, "op") else {
        let hint = if field(node, "attr").is_some() || field(node, "conditions").is_some() {
            ""
        } else {
            " (raw MongoDB filters are not accepted by compile)"
        };
        diag.error_at_key("op", ErrorCode::MissingField, format!("a node needs an \"op\"{hint}"));
        return None;
    };
    let Value::String(name) = op else {
        diag.error_at_key("op", ErrorCode::InvalidNode, format!("\"op\" must be a string, got {}", json_type_name(op)));
        return None;
    };
    let parsed = Operator::parse(name);
    if parsed.is_none() {
        let suggestions = Operator::suggestions(name);
        let hint = if suggestions.is_empty() {
            String::new()
        } else {
            format!("; did you mean {}?", quoted_list(&suggestions))
        };
        diag.error_at_key("op", ErrorCode::UnknownOperator, format!("unknown operator {name:?}{hint}"));
    }
    parsed
}

fn quoted_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    quoted.join(", ")
}

/// Reports every key of `node` not in `allowed`; false when there was one.
fn check_keys<'a>(node: &'a Map<String, Value>, allowed: &[&str], op: Operator, diag: &mut Diag<'a>) -> bool {
    let mut ok = true;
    for key in node.keys() {
        if !allowed.contains(&key.as_str()) {
            ok = false;
            unknown_key(key, allowed, op, diag);
            if diag.stop() {
                return false;
            }
        }
    }
    ok
}

fn unknown_key<'a>(key: &'a str, allowed: &[&str], op: Operator, diag: &mut Diag<'a>) {
    let hint = if key == "field" { field_comparison::HINT } else { "" };
    let message = format!("{:?} nodes take only {}; unexpected key {key:?}{hint}", op.name(), quoted_list(allowed));
    diag.error_at_key(key, ErrorCode::UnknownKey, message);
}

fn parse_group<'a>(
    op: Operator,
    node: &'a Map<String, Value>,
    depth: usize,
    config: &CompilerConfig,
    diag: &mut Diag<'a>,
) -> Option<Spec<'a>> {
    let keys_ok = check_keys(node, &["op", "conditions"], op, diag);
    if diag.stop() {
        return None;
    }
    let Some(conditions) = field(node, "conditions") else {
        diag.error_at_key("conditions", ErrorCode::MissingField, format!("{:?} needs \"conditions\"", op.name()));
        return None;
    };
    let children = diag.at(Seg::Key("conditions"), |diag| parse_children(op, conditions, depth, config, diag))?;
    if !keys_ok {
        return None;
    }
    Some(if op == Operator::And { Spec::And(children) } else { Spec::Or(children) })
}

fn parse_children<'a>(
    op: Operator,
    conditions: &'a Value,
    depth: usize,
    config: &CompilerConfig,
    diag: &mut Diag<'a>,
) -> Option<Vec<Spec<'a>>> {
    let Value::Array(items) = conditions else {
        diag.error(
            ErrorCode::InvalidNode,
            format!("\"conditions\" must be a list, got {}", json_type_name(conditions)),
        );
        return None;
    };
    if items.is_empty() {
        let why = match op {
            Operator::ElemMatch => "an empty $elemMatch would match any array holding a document",
            _ => "an empty group would match every document",
        };
        diag.error(ErrorCode::EmptyGroup, format!("{:?} needs at least one condition ({why})", op.name()));
        return None;
    }
    let mut children = Vec::with_capacity(items.len());
    let mut parsed_any = false;
    for (index, item) in items.iter().enumerate() {
        match diag.at(Seg::Index(index), |diag| parse_node(item, depth + 1, config, diag)) {
            Some(child) => {
                parsed_any = true;
                children.push(child);
            }
            // Only reached when collecting every error: a stand-in keeps the siblings' indexes.
            None => children.push(placeholder()),
        }
        if diag.stop() {
            return None;
        }
    }
    parsed_any.then_some(children)
}

/// Marks a node that failed to parse, so `validate` can still compile its siblings with their
/// original indexes; the compiler skips it silently (its errors are already reported).
pub(crate) const PLACEHOLDER_ATTR: &str = "\0<node that failed to parse>";

fn placeholder() -> Spec<'static> {
    Spec::Leaf(Leaf { op: Operator::IsNull, attr: Cow::Borrowed(PLACEHOLDER_ATTR), val: None, value_type: None })
}

fn parse_not<'a>(
    node: &'a Map<String, Value>,
    depth: usize,
    config: &CompilerConfig,
    diag: &mut Diag<'a>,
) -> Option<Spec<'a>> {
    let keys_ok = check_keys(node, &["op", "condition", "conditions"], Operator::Not, diag);
    if diag.stop() {
        return None;
    }
    let inner = match (field(node, "condition"), field(node, "conditions")) {
        (Some(_), Some(_)) => {
            diag.error(ErrorCode::InvalidNode, "\"not\" takes either \"condition\" or \"conditions\", not both");
            return None;
        }
        (None, None) => {
            diag.error_at_key("condition", ErrorCode::MissingField, "\"not\" needs a \"condition\"");
            return None;
        }
        (Some(condition), None) => {
            let child = diag.at(Seg::Key("condition"), |diag| parse_node(condition, depth + 1, config, diag))?;
            Not { condition: Box::new(child), listed: false }
        }
        (None, Some(conditions)) => {
            let mut children =
                diag.at(Seg::Key("conditions"), |diag| parse_children(Operator::Not, conditions, depth, config, diag))?;
            if children.len() != 1 {
                diag.error_at_key(
                    "conditions",
                    ErrorCode::InvalidNode,
                    format!("\"not\" negates exactly one condition, got {}", children.len()),
                );
                return None;
            }
            Not { condition: Box::new(children.remove(0)), listed: true }
        }
    };
    keys_ok.then_some(Spec::Not(inner))
}

fn parse_leaf<'a>(op: Operator, node: &'a Map<String, Value>, diag: &mut Diag<'a>) -> Option<Spec<'a>> {
    // One pass over the node's keys: the known ones into their slots, the others reported in
    // key order (what `check_keys` and a lookup per key would find).
    const KEYS: [&str; 4] = ["op", "attr", "val", "value_type"];
    let mut ok = true;
    let (mut attr_value, mut val, mut value_type_value) = (None, None, None);
    for (key, value) in node {
        match key.as_str() {
            "op" => {}
            "attr" => attr_value = Some(value),
            "val" => val = Some(value),
            "value_type" => value_type_value = Some(value),
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
    if val.is_none() && op.value_shape() != crate::operator::ValueShape::Flag {
        diag.error_at_key("val", ErrorCode::MissingField, format!("{:?} needs a \"val\"", op.name()));
        ok = false;
        if diag.stop() {
            return None;
        }
    }
    let value_type = match value_type_value {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => match ValueType::parse(name) {
            Some(value_type) => Some(value_type),
            None => {
                diag.error_at_key(
                    "value_type",
                    ErrorCode::UnknownValueType,
                    format!("unknown value_type {name:?}; known types: {}", ValueType::NAMES.join(", ")),
                );
                ok = false;
                None
            }
        },
        Some(other) => {
            diag.error_at_key(
                "value_type",
                ErrorCode::InvalidNode,
                format!("\"value_type\" must be a string, got {}", json_type_name(other)),
            );
            ok = false;
            None
        }
    };
    let attr = attr?;
    ok.then(|| Spec::Leaf(Leaf { op, attr: Cow::Borrowed(attr), val: val.map(Cow::Borrowed), value_type }))
}

/// The node's `attr` (given as `value`): `missing_field` when absent, `invalid_node` when not a string.
fn attr_of<'a>(value: Option<&'a Value>, op: Operator, diag: &mut Diag<'a>) -> Option<&'a str> {
    match value {
        Some(Value::String(attr)) => Some(attr.as_str()),
        Some(other) => {
            diag.error_at_key(
                "attr",
                ErrorCode::InvalidNode,
                format!("\"attr\" must be a string field path, got {}", json_type_name(other)),
            );
            None
        }
        None => {
            diag.error_at_key("attr", ErrorCode::MissingField, format!("{:?} needs an \"attr\"", op.name()));
            None
        }
    }
}

impl Serialize for Spec<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Spec::Leaf(leaf) => {
                let mut map = serializer.serialize_map(None)?;
                map.serialize_entry("op", leaf.op.name())?;
                map.serialize_entry("attr", &leaf.attr)?;
                if let Some(val) = &leaf.val {
                    map.serialize_entry("val", val.as_ref())?;
                }
                if let Some(value_type) = leaf.value_type {
                    map.serialize_entry("value_type", value_type.name())?;
                }
                map.end()
            }
            Spec::And(children) | Spec::Or(children) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("op", if matches!(self, Spec::And(_)) { "and" } else { "or" })?;
                map.serialize_entry("conditions", children)?;
                map.end()
            }
            Spec::Not(not) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("op", "not")?;
                if not.listed {
                    map.serialize_entry("conditions", std::slice::from_ref(not.condition.as_ref()))?;
                } else {
                    map.serialize_entry("condition", not.condition.as_ref())?;
                }
                map.end()
            }
            Spec::ElemMatch(group) => {
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry("op", Operator::ElemMatch.name())?;
                map.serialize_entry("attr", &group.attr)?;
                map.serialize_entry("conditions", &group.conditions)?;
                map.end()
            }
            Spec::FieldComparison(cmp) => {
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry("op", cmp.op.name())?;
                map.serialize_entry("attr", &cmp.attr)?;
                map.serialize_entry("field", &cmp.field)?;
                map.end()
            }
        }
    }
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
        let value = json!({"op": "and", "conditions": [
            {"op": ">=", "attr": "total", "val": 100},
            {"op": "not", "conditions": [{"op": "is_null", "attr": "x"}]},
            {"op": "in", "attr": "d", "val": ["2024-01-01"], "value_type": "date"}
        ]});
        let spec = Spec::from_value(&value).unwrap();
        assert_eq!(spec.to_json(), value);
    }

    #[test]
    fn op_names_are_case_insensitive() {
        let value = json!({"op": "AND", "conditions": [{"op": "IN", "attr": "a", "val": [1]}]});
        let Spec::And(children) = Spec::from_value(&value).unwrap() else { panic!("not an and") };
        assert!(matches!(&children[0], Spec::Leaf(leaf) if leaf.op == Operator::In));
    }

    #[test]
    fn shape_errors_point_at_the_node() {
        assert_eq!(first_error(json!(5)), ("invalid_node".into(), "<root>".into()));
        assert_eq!(first_error(json!({"status": "x"})), ("missing_field".into(), "<root>.op".into()));
        assert_eq!(
            first_error(
                json!({"op": "or", "conditions": [{"op": "=", "attr": "a", "val": 1}, {"op": "eqq", "attr": "a", "val": 1}]})
            ),
            ("unknown_operator".into(), "<root>.conditions[1].op".into())
        );
        assert_eq!(
            first_error(json!({"op": "and", "conditions": []})),
            ("empty_group".into(), "<root>.conditions".into())
        );
        assert_eq!(
            first_error(json!({"op": "=", "attr": "a", "vale": 1})),
            ("unknown_key".into(), "<root>.vale".into())
        );
        assert_eq!(first_error(json!({"op": "=", "attr": "a"})), ("missing_field".into(), "<root>.val".into()));
        assert_eq!(
            first_error(json!({"op": "=", "attr": "a", "val": 1, "value_type": "money"})),
            ("unknown_value_type".into(), "<root>.value_type".into())
        );
        assert_eq!(
            first_error(
                json!({"op": "not", "conditions": [{"op": "is_null", "attr": "a"}, {"op": "is_null", "attr": "b"}]})
            ),
            ("invalid_node".into(), "<root>.conditions".into())
        );
    }

    #[test]
    fn unknown_operator_suggests() {
        let err = Spec::from_value(&json!({"op": "betwen", "attr": "a", "val": [1, 2]})).unwrap_err();
        assert!(err.message().contains("\"between\""), "{}", err.message());
    }

    #[test]
    fn depth_bomb_stops_at_the_limit() {
        let mut value = json!({"op": "is_null", "attr": "a"});
        for _ in 0..40 {
            value = json!({"op": "not", "condition": value});
        }
        let err = Spec::from_value(&value).unwrap_err();
        assert_eq!(err.code(), ErrorCode::TooDeep);
        assert_eq!(err.path().len(), 32);
    }
}
