//! `{"op": "elem_match", "attr": "items", "conditions": [...]}` compiles to
//! `{"items": {"$elemMatch": filter}}`, where `filter` is the conditions compiled with their paths
//! relative to one element: one condition's filter as it is, several in `{"$and": [...]}`.

use super::Walker;
use super::fields::Scope;
use crate::config::schema::FieldType;
use crate::diag::Seg;
use crate::error::ErrorCode;
use crate::operator::Operator;
use crate::out::Out;
use crate::spec::ElemMatch;

impl<'c, W: Out> Walker<'_, 'c, W> {
    /// Writes the filter of an elem_match at spec level `depth`; `None` after an error.
    pub(super) fn elem_match(&mut self, group: &ElemMatch<'_>, depth: usize) -> Option<()> {
        let (path, scope, array_ok) = match self.array(&group.attr) {
            Some((path, scope)) => (path, scope, true),
            // `validate` still walks the conditions, to report their errors too.
            None if self.diag.collects_all() => {
                let name = self.full_name(&group.attr).into_owned();
                (group.attr.as_ref(), Scope { stored: name.clone(), name }, false)
            }
            None => return None,
        };
        self.scopes.push(scope);
        self.out.begin("");
        self.out.begin(path);
        // The one condition's document, or the `{"$and": [...]}` of several, is `$elemMatch`.
        self.out.name_next("$elemMatch");
        let written = if let [only] = group.conditions.as_slice() {
            self.diag.push(Seg::Key("conditions"));
            self.diag.push(Seg::Index(0));
            let written = self.node(only, depth + 1);
            self.diag.pop();
            self.diag.pop();
            written
        } else {
            // As an `and` inside the elem_match: its conditions are one level deeper.
            self.group("$and", Operator::ElemMatch, &group.conditions, depth + 1)
        };
        self.out.end();
        self.out.end();
        self.scopes.pop();
        written.filter(|()| array_ok)
    }

    /// The array an elem_match names: its path in the filter, and the scope of its conditions.
    /// Its own name is not checked against the whitelist: the conditions' full names are, and
    /// an elem_match reads nothing else.
    fn array<'n>(&mut self, name: &'n str) -> Option<(&'n str, Scope)>
    where
        'c: 'n,
    {
        self.check_path(name, "attr")?;
        let full = self.full_name(name).into_owned();
        match self.schema_entry(&full).flatten() {
            Some((def, _)) if def.field_type != FieldType::Array => {
                let message = format!("\"elem_match\" needs an array field; the schema's {:?} is not one", def.name);
                self.diag.error_at_key("op", ErrorCode::OperatorNotAllowed, message);
                None
            }
            Some((def, _)) => {
                let stored = def.stored_path();
                let path = self.relative(&full, stored, "attr")?;
                Some((path, Scope { name: full, stored: stored.to_owned() }))
            }
            None => {
                let stored = match self.scopes.last() {
                    Some(outer) => format!("{}.{name}", outer.stored),
                    None => name.to_owned(),
                };
                Some((name, Scope { name: full, stored }))
            }
        }
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
    fn one_condition_is_the_elem_match_filter() {
        let spec = json!({"op": "elem_match", "attr": "items", "conditions": [{"op": "=", "attr": "sku", "val": "A"}]});
        assert_eq!(compiled(spec), doc! {"items": {"$elemMatch": {"sku": {"$eq": "A"}}}});
    }

    #[test]
    fn several_conditions_are_an_and_and_groups_nest() {
        let spec = json!({"op": "not", "condition": {"op": "elem_match", "attr": "items", "conditions": [
            {"op": "=", "attr": "sku", "val": "A"},
            {"op": "or", "conditions": [{"op": ">=", "attr": "qty", "val": 3}, {"op": "is_null", "attr": "qty"}]},
            {"op": "elem_match", "attr": "lots", "conditions": [{"op": "not", "condition": {"op": "<", "attr": "n", "val": 1}}]}
        ]}});
        assert_eq!(
            compiled(spec),
            doc! {"$nor": [{"items": {"$elemMatch": {"$and": [
                {"sku": {"$eq": "A"}},
                {"$or": [{"qty": {"$gte": 3}}, {"$or": [{"qty": {"$exists": false}}, {"qty": {"$eq": null}}]}]},
                {"lots": {"$elemMatch": {"$nor": [{"n": {"$lt": 1}}]}}}
            ]}}}]}
        );
    }

    #[test]
    fn the_whitelist_sees_full_names() {
        let compiler = Compiler::new(CompilerConfig::default().allow_fields(["items.sku", "orders.items.*"]));
        let ok = json!({"op": "elem_match", "attr": "items", "conditions": [{"op": "=", "attr": "sku", "val": "A"}]});
        assert!(compiler.compile(&ok).is_ok());
        let nested = json!({"op": "elem_match", "attr": "orders", "conditions": [
            {"op": "elem_match", "attr": "items", "conditions": [{"op": ">", "attr": "qty", "val": 1}]}
        ]});
        assert!(compiler.compile(&nested).is_ok());
        let bad = json!({"op": "elem_match", "attr": "items", "conditions": [
            {"op": "=", "attr": "sku", "val": "A"}, {"op": ">", "attr": "qty", "val": 1}
        ]});
        assert_eq!(first_error(&compiler, bad), ("field_not_allowed".into(), "<root>.conditions[1].attr".into()));
    }

    #[test]
    fn the_schema_sees_full_names_and_relative_stored_paths() {
        let schema = FieldSchema::from_json(&json!({"fields": [
            {"name": "lines", "type": "array", "items": "object", "path": "order.lines"},
            {"name": "lines.qty", "type": "integer", "path": "order.lines.quantity"},
            {"name": "lines.sku", "type": "string", "path": "sku"},
            {"name": "status", "type": "string"}
        ]}))
        .unwrap();
        let compiler = Compiler::new(CompilerConfig::default().with_schema(schema));
        let spec =
            json!({"op": "elem_match", "attr": "lines", "conditions": [{"op": ">=", "attr": "qty", "val": "3"}]});
        assert_eq!(compiler.compile(&spec).unwrap(), doc! {"order.lines": {"$elemMatch": {"quantity": {"$gte": 3}}}});
        let outside =
            json!({"op": "elem_match", "attr": "lines", "conditions": [{"op": "=", "attr": "sku", "val": "A"}]});
        assert_eq!(first_error(&compiler, outside), ("field_not_allowed".into(), "<root>.conditions[0].attr".into()));
        let scalar = json!({"op": "elem_match", "attr": "status", "conditions": [{"op": "=", "attr": "x", "val": 1}]});
        assert_eq!(first_error(&compiler, scalar), ("operator_not_allowed".into(), "<root>.op".into()));
    }

    #[test]
    fn text_and_field_comparisons_are_refused_inside() {
        let text =
            json!({"op": "elem_match", "attr": "items", "conditions": [{"op": "fts", "attr": "sku", "val": "a"}]});
        assert_eq!(
            first_error(&Compiler::default(), text),
            ("invalid_text_search".into(), "<root>.conditions[0]".into())
        );
        let expr = json!({"op": "elem_match", "attr": "items", "conditions": [
            {"op": "=", "attr": "sku", "val": "A"}, {"op": ">", "attr": "qty", "field": "min"}
        ]});
        assert_eq!(
            first_error(&Compiler::default(), expr),
            ("invalid_field_comparison".into(), "<root>.conditions[1].field".into())
        );
    }

    #[test]
    fn validate_reports_every_error_inside() {
        let spec = json!({"op": "elem_match", "attr": "$items", "conditions": [
            {"op": "=", "attr": "sku"}, {"op": ">", "attr": "qty", "val": [1]}
        ]});
        let found: Vec<_> = validate(&spec).iter().map(|e| (e.code().as_str(), e.path_string())).collect();
        assert_eq!(
            found,
            [
                ("missing_field", "<root>.conditions[0].val".to_owned()),
                ("invalid_field_path", "<root>.attr".to_owned()),
                ("invalid_value", "<root>.conditions[1].val".to_owned())
            ]
        );
    }

    #[test]
    fn nodes_count_and_deep_nesting_stays_within_mongodb_levels() {
        let compiler = Compiler::new(CompilerConfig::default().with_max_nodes(2));
        let spec = json!({"op": "elem_match", "attr": "items", "conditions": [
            {"op": "=", "attr": "sku", "val": "A"}, {"op": ">", "attr": "qty", "val": 1}
        ]});
        assert_eq!(first_error(&compiler, spec), ("too_many_nodes".into(), "<root>.conditions[1]".into()));
        // The deepest spec the capped depth allows: elem_matches of two conditions, each two
        // levels of the spec and four of the filter, end within MongoDB's 100 levels.
        let compiler = Compiler::new(CompilerConfig::default().with_max_depth(crate::MAX_DEPTH_LIMIT));
        let leaf = json!({"op": "=", "attr": "a", "val": {"b": {"c": 1}}});
        let mut spec = leaf.clone();
        for _ in 0..22 {
            spec = json!({"op": "elem_match", "attr": "xs", "conditions": [spec, leaf]});
        }
        let raw = compiler.compile_raw(&spec).unwrap();
        assert!(!raw.as_bytes().is_empty());
        assert_eq!(
            compiler
                .compile(&json!({"op": "elem_match", "attr": "xs", "conditions": [spec, leaf]}))
                .unwrap_err()
                .code()
                .as_str(),
            "too_deep"
        );
    }
}
