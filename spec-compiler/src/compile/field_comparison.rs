//! `{"op": ">", "attr": "shipped_at", "field": "promised_at"}` compiles to
//! `{"$expr": {"$gt": ["$shipped_at", "$promised_at"]}}`: the aggregation comparison of two fields
//! of the same document (never `$where`).

use super::Walker;
use super::fields::Entry;
use crate::config::schema::{FieldDef, FieldType};
use crate::error::ErrorCode;
use crate::operator::Operator;
use crate::out::Out;
use crate::spec::FieldComparison;

impl<W: Out> Walker<'_, '_, W> {
    /// Writes the filter of a comparison of two fields; `None` after an error.
    pub(super) fn field_comparison(&mut self, comparison: &FieldComparison<'_>) -> Option<()> {
        let op = comparison.op;
        let Some(operator) = aggregation_operator(op) else {
            let message = format!("{:?} cannot compare two fields (only = != > >= < <= can)", op.name());
            self.diag.error_at_key("op", ErrorCode::InvalidNode, message);
            return None;
        };
        if !self.rules.operators.contains(op) {
            let message = format!("the operator {:?} is not allowed here", op.name());
            self.diag.error_at_key("op", ErrorCode::OperatorNotAllowed, message);
            return None;
        }
        if !self.scopes.is_empty() {
            let message = "a comparison of two fields compiles to $expr, which MongoDB accepts only at the top \
                           level of a filter, not inside $elemMatch";
            self.diag.error_at_key("field", ErrorCode::InvalidFieldComparison, message);
            return None;
        }
        // Both sides are checked, so that `validate` reports a bad field on either.
        let left = self.resolve(&comparison.attr, "attr");
        let right = self.resolve(&comparison.field, "field");
        let ((left, left_entry), (right, right_entry)) = (left?, right?);
        if let (Some(left_entry), Some(right_entry)) = (left_entry, right_entry) {
            self.schema_comparison(op, left_entry, right_entry)?;
        }
        self.out.begin("");
        self.out.begin("$expr");
        self.out.begin_array(operator);
        for path in [left, right] {
            self.out.string_with("", |out| {
                out.push(b'$');
                out.extend_from_slice(path.as_bytes());
            });
        }
        self.out.end();
        self.out.end();
        self.out.end();
        Some(())
    }

    /// With a schema: the operator must be allowed on both fields, and their types comparable.
    fn schema_comparison(&mut self, op: Operator, left: Entry<'_>, right: Entry<'_>) -> Option<()> {
        for (def, rules) in [left, right] {
            if !rules.operators.contains(op) {
                let message = format!("the operator {:?} is not allowed on the field {:?}", op.name(), def.name);
                self.diag.error_at_key("op", ErrorCode::OperatorNotAllowed, message);
                return None;
            }
        }
        let (left, right) = (left.0, right.0);
        if kind(left) != kind(right) {
            let message = format!(
                "the field {:?} ({}) cannot be compared with the field {:?} ({}): $expr compares values of \
                 different types by their BSON type order, not by value",
                left.name,
                describe(left),
                right.name,
                describe(right)
            );
            self.diag.error_at_key("field", ErrorCode::InvalidFieldComparison, message);
            return None;
        }
        Some(())
    }
}

/// The aggregation operator of a comparison.
fn aggregation_operator(op: Operator) -> Option<&'static str> {
    Some(match op {
        Operator::Eq => "$eq",
        Operator::Ne => "$ne",
        Operator::Gt => "$gt",
        Operator::Gte => "$gte",
        Operator::Lt => "$lt",
        Operator::Lte => "$lte",
        _ => return None,
    })
}

/// What a schema type holds, for comparability: every number type is a number, a date is a
/// date and time at midnight; an array compares as an array of its items' kind.
fn kind(def: &FieldDef) -> (Kind, Option<Kind>) {
    (Kind::of(def.field_type), def.items.filter(|_| def.field_type == FieldType::Array).map(Kind::of))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Date,
    Other(FieldType),
}

impl Kind {
    fn of(field_type: FieldType) -> Kind {
        match field_type {
            FieldType::Integer | FieldType::Decimal | FieldType::Double => Kind::Number,
            FieldType::Date | FieldType::Datetime => Kind::Date,
            other => Kind::Other(other),
        }
    }
}

/// A field's type in messages: `integer`, `array of string`.
fn describe(def: &FieldDef) -> String {
    let name = |t: FieldType| serde_json::to_value(t).ok().and_then(|v| v.as_str().map(str::to_owned));
    let base = name(def.field_type).unwrap_or_default();
    match def.items.filter(|_| def.field_type == FieldType::Array).and_then(name) {
        Some(items) => format!("{base} of {items}"),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;
    use serde_json::{Value, json};

    use crate::{Compiler, CompilerConfig, FieldSchema, compile, compile_raw, validate};

    fn compiled(spec: Value) -> bson::Document {
        let filter = compile(&spec).unwrap();
        let raw = compile_raw(&spec).unwrap();
        assert_eq!(raw.as_bytes(), bson::RawDocumentBuf::try_from(&filter).unwrap().as_bytes(), "{spec}");
        filter
    }

    fn first_error(compiler: &Compiler, spec: Value) -> (String, String) {
        let err = compiler.compile(&spec).unwrap_err();
        (err.code().as_str().to_owned(), err.path_string())
    }

    #[test]
    fn each_comparison_is_its_aggregation_operator() {
        for (op, operator) in [("=", "$eq"), ("ne", "$ne"), (">", "$gt"), ("ge", "$gte"), ("lt", "$lt"), ("<=", "$lte")]
        {
            let spec = json!({"op": op, "attr": "shipped_at", "field": "promised.at"});
            let mut expected = bson::Document::new();
            expected.insert(operator, vec!["$shipped_at", "$promised.at"]);
            assert_eq!(compiled(spec), doc! {"$expr": expected});
        }
    }

    #[test]
    fn inside_not_and_or() {
        let spec = json!({"op": "or", "conditions": [
            {"op": "not", "condition": {"op": ">", "attr": "a", "field": "b"}},
            {"op": "=", "attr": "c", "val": 1}
        ]});
        assert_eq!(compiled(spec), doc! {"$or": [{"$nor": [{"$expr": {"$gt": ["$a", "$b"]}}]}, {"c": {"$eq": 1}}]});
    }

    #[test]
    fn both_fields_are_checked() {
        let compiler = Compiler::new(CompilerConfig::default().allow_fields(["a", "b"]));
        assert!(compiler.compile(&json!({"op": ">", "attr": "a", "field": "b"})).is_ok());
        let spec = json!({"op": ">", "attr": "a", "field": "secret"});
        assert_eq!(first_error(&compiler, spec), ("field_not_allowed".into(), "<root>.field".into()));
        let spec = json!({"op": ">", "attr": "$a", "field": "b."});
        let found: Vec<_> = validate(&spec).iter().map(|e| (e.code().as_str(), e.path_string())).collect();
        assert_eq!(
            found,
            [("invalid_field_path", "<root>.attr".to_owned()), ("invalid_field_path", "<root>.field".to_owned())]
        );
        let denied = Compiler::new(CompilerConfig::default().deny_operators([">"]));
        let spec = json!({"op": "gt", "attr": "a", "field": "b"});
        assert_eq!(first_error(&denied, spec), ("operator_not_allowed".into(), "<root>.op".into()));
    }

    #[test]
    fn the_schema_maps_paths_and_refuses_different_types() {
        let schema = FieldSchema::from_json(&json!({"fields": [
            {"name": "total", "type": "decimal", "path": "amounts.total"},
            {"name": "paid", "type": "integer"},
            {"name": "placed", "type": "date"},
            {"name": "shipped", "type": "datetime"},
            {"name": "note", "type": "string", "operators": ["=", ">"]},
            {"name": "status", "type": "string", "operators": ["="]}
        ]}))
        .unwrap();
        let compiler = Compiler::new(CompilerConfig::default().with_schema(schema));
        let spec = json!({"op": ">", "attr": "total", "field": "paid"});
        assert_eq!(compiler.compile(&spec).unwrap(), doc! {"$expr": {"$gt": ["$amounts.total", "$paid"]}});
        assert!(compiler.compile(&json!({"op": "<", "attr": "placed", "field": "shipped"})).is_ok());
        let spec = json!({"op": ">", "attr": "total", "field": "placed"});
        assert_eq!(first_error(&compiler, spec), ("invalid_field_comparison".into(), "<root>.field".into()));
        let spec = json!({"op": ">", "attr": "note", "field": "status"});
        assert_eq!(first_error(&compiler, spec), ("operator_not_allowed".into(), "<root>.op".into()));
        let spec = json!({"op": "=", "attr": "note", "field": "nope"});
        assert_eq!(first_error(&compiler, spec), ("field_not_allowed".into(), "<root>.field".into()));
    }

    #[test]
    fn a_hand_built_comparison_with_another_operator_is_an_error() {
        let spec = crate::Spec::FieldComparison(crate::FieldComparison {
            op: crate::Operator::In,
            attr: "a".into(),
            field: "b".into(),
        });
        assert_eq!(crate::compile_spec(&spec).unwrap_err().code(), crate::ErrorCode::InvalidNode);
    }
}
