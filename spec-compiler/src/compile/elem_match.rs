//! `{"op": "elem_match", "attr": "items", "conditions": [...]}` compiles to
//! `{"items": {"$elemMatch": F}}`, where `F` is the conditions compiled with their paths relative
//! to one element: one condition's filter as it is; several merged into one document, as
//! `$elemMatch` is written by hand (`{"sku": {"$eq": "A"}, "qty": {"$gte": 3}}`), when no
//! top-level key of their filters repeats (an implicit `and` of distinct keys is exactly
//! `$and`); `{"$and": [...]}` of their filters when one does (two conditions on one field, two
//! `or`s).
//!
//! The keys are known before anything is written, so the filter is written once, in its final
//! form, and MongoDB's 100 levels are counted on it: an `and`, `or`, `not`, `elem_match` or
//! comparison of two fields has its one key (`$and`, `$or`, `$nor`, the array's path, `$expr`);
//! a leaf is compiled once more, on the side, into a scratch document whose keys are read.

use std::collections::HashSet;

use super::Walker;
use super::fields::Scope;
use crate::config::schema::FieldType;
use crate::diag::{Diag, Seg};
use crate::error::ErrorCode;
use crate::operator::Operator;
use crate::out::{Out, RawWriter};
use crate::spec::{ElemMatch, Spec};

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
        let written = match group.conditions.as_slice() {
            // The one condition's document is `$elemMatch`.
            [only] => {
                self.out.name_next("$elemMatch");
                self.diag.push(Seg::Key("conditions"));
                self.diag.push(Seg::Index(0));
                let written = self.node(only, depth + 1);
                self.diag.pop();
                self.diag.pop();
                written
            }
            // Several count one level deeper for `max_depth` whatever their form, as the
            // conditions of an `and` inside the elem_match (the parser counts them so).
            several if self.keys_distinct(several) => {
                self.out.begin("$elemMatch");
                let written = self.merged(several, depth + 2);
                self.out.end();
                written
            }
            several => {
                self.out.name_next("$elemMatch");
                self.group("$and", Operator::ElemMatch, several, depth + 1)
            }
        };
        self.out.end();
        self.out.end();
        self.scopes.pop();
        written.filter(|()| array_ok)
    }

    /// Writes the conditions' filters into the open document, each one's keys beside the others'.
    fn merged(&mut self, conditions: &[Spec<'_>], depth: usize) -> Option<()> {
        self.diag.push(Seg::Key("conditions"));
        let mut ok = true;
        for (index, condition) in conditions.iter().enumerate() {
            self.diag.push(Seg::Index(index));
            self.out.merge_next();
            ok &= self.node(condition, depth).is_some();
            self.diag.pop();
            if self.diag.stop() || self.aborted {
                break;
            }
        }
        self.diag.pop();
        ok.then_some(())
    }

    /// Whether no top-level key repeats across the filters of `conditions` (relative to the
    /// innermost scope). Nothing is reported here: a condition in error adds no key, and its
    /// errors are reported when it is written.
    fn keys_distinct(&mut self, conditions: &[Spec<'_>]) -> bool {
        let mut diag = Diag::new(false);
        let mut scratch = Walker {
            config: self.config,
            rules: self.rules,
            diag: &mut diag,
            out: RawWriter::new(),
            nodes: 0,
            text_clauses: 0,
            under_not: self.under_not,
            scopes: std::mem::take(&mut self.scopes),
            aborted: false,
        };
        let mut seen = HashSet::with_capacity(conditions.len());
        let mut distinct = true;
        for condition in conditions {
            let keys = match condition {
                Spec::And(_) => vec!["$and".to_owned()],
                Spec::Or(_) => vec!["$or".to_owned()],
                Spec::Not(_) => vec!["$nor".to_owned()],
                Spec::FieldComparison(_) => vec!["$expr".to_owned()],
                Spec::ElemMatch(inner) => {
                    scratch.array(&inner.attr).map(|(path, _)| path.to_owned()).into_iter().collect()
                }
                // One key so far for every operator; should one ever write several, each counts.
                Spec::Leaf(leaf) => match scratch.leaf(leaf) {
                    Some(()) => std::mem::replace(&mut scratch.out, RawWriter::new())
                        .finish()
                        .map(|doc| doc.iter().flatten().map(|(key, _)| key.as_str().to_owned()).collect())
                        .unwrap_or_default(),
                    None => {
                        scratch.out = RawWriter::new();
                        Vec::new()
                    }
                },
            };
            if scratch.diag.has_errors() {
                *scratch.diag = Diag::new(false);
            }
            if !keys.into_iter().all(|key| seen.insert(key)) {
                distinct = false;
                break;
            }
        }
        self.scopes = scratch.scopes;
        distinct
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
    fn several_conditions_merge_their_distinct_keys_and_groups_nest() {
        let spec = json!({"op": "elem_match", "attr": "items", "conditions": [
            {"op": "=", "attr": "sku", "val": "AB-123"}, {"op": ">=", "attr": "qty", "val": 3}
        ]});
        assert_eq!(compiled(spec), doc! {"items": {"$elemMatch": {"sku": {"$eq": "AB-123"}, "qty": {"$gte": 3}}}});
        // An `or`, a `not` and a nested elem_match bring their one key each.
        let spec = json!({"op": "not", "condition": {"op": "elem_match", "attr": "items", "conditions": [
            {"op": "=", "attr": "sku", "val": "A"},
            {"op": "or", "conditions": [{"op": ">=", "attr": "qty", "val": 3}, {"op": "is_null", "attr": "qty"}]},
            {"op": "not", "condition": {"op": "=", "attr": "state", "val": "void"}},
            {"op": "elem_match", "attr": "lots", "conditions": [
                {"op": "not", "condition": {"op": "<", "attr": "n", "val": 1}}, {"op": "is_null", "attr": "exp"}
            ]}
        ]}});
        assert_eq!(
            compiled(spec),
            doc! {"$nor": [{"items": {"$elemMatch": {
                "sku": {"$eq": "A"},
                "$or": [{"qty": {"$gte": 3}}, {"$or": [{"qty": {"$exists": false}}, {"qty": {"$eq": null}}]}],
                "$nor": [{"state": {"$eq": "void"}}],
                "lots": {"$elemMatch": {
                    "$nor": [{"n": {"$lt": 1}}],
                    "$or": [{"exp": {"$exists": false}}, {"exp": {"$eq": null}}]
                }}
            }}}]}
        );
    }

    #[test]
    fn a_repeated_key_keeps_the_conditions_in_and() {
        // Two conditions on one field.
        let spec = json!({"op": "elem_match", "attr": "items", "conditions": [
            {"op": "=", "attr": "sku", "val": "A"}, {"op": ">", "attr": "qty", "val": 3}, {"op": "<", "attr": "qty", "val": 5}
        ]});
        assert_eq!(
            compiled(spec),
            doc! {"items": {"$elemMatch": {"$and": [
                {"sku": {"$eq": "A"}}, {"qty": {"$gt": 3}}, {"qty": {"$lt": 5}}
            ]}}}
        );
        // `is_null` compiles to an `$or`, as does the `or` beside it.
        let spec = json!({"op": "elem_match", "attr": "items", "conditions": [
            {"op": "is_null", "attr": "note"},
            {"op": "or", "conditions": [{"op": "=", "attr": "sku", "val": "A"}, {"op": "=", "attr": "sku", "val": "B"}]}
        ]});
        assert_eq!(
            compiled(spec),
            doc! {"items": {"$elemMatch": {"$and": [
                {"$or": [{"note": {"$exists": false}}, {"note": {"$eq": null}}]},
                {"$or": [{"sku": {"$eq": "A"}}, {"sku": {"$eq": "B"}}]}
            ]}}}
        );
        // A leaf on the array a nested elem_match reads.
        let spec = json!({"op": "elem_match", "attr": "items", "conditions": [
            {"op": "is_not_null", "attr": "lots"},
            {"op": "elem_match", "attr": "lots", "conditions": [{"op": ">", "attr": "n", "val": 1}]}
        ]});
        assert_eq!(
            compiled(spec),
            doc! {"items": {"$elemMatch": {"$and": [
                {"lots": {"$exists": true, "$ne": null}}, {"lots": {"$elemMatch": {"n": {"$gt": 1}}}}
            ]}}}
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
            {"name": "lines.count", "type": "integer", "path": "order.lines.quantity"},
            {"name": "lines.sku", "type": "string", "path": "sku"},
            {"name": "status", "type": "string"}
        ]}))
        .unwrap();
        let compiler = Compiler::new(CompilerConfig::default().with_schema(schema));
        let spec =
            json!({"op": "elem_match", "attr": "lines", "conditions": [{"op": ">=", "attr": "qty", "val": "3"}]});
        assert_eq!(compiler.compile(&spec).unwrap(), doc! {"order.lines": {"$elemMatch": {"quantity": {"$gte": 3}}}});
        // Full names differ, stored paths repeat: the keys are the stored paths.
        let spec = json!({"op": "elem_match", "attr": "lines", "conditions": [
            {"op": ">=", "attr": "qty", "val": 3}, {"op": "<", "attr": "count", "val": 9}
        ]});
        assert_eq!(
            compiler.compile(&spec).unwrap(),
            doc! {"order.lines": {"$elemMatch": {"$and": [{"quantity": {"$gte": 3}}, {"quantity": {"$lt": 9}}]}}}
        );
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
        // levels of the spec and, in `$and` (`xs` repeats), four of the filter, end within
        // MongoDB's 100 levels.
        let compiler = Compiler::new(CompilerConfig::default().with_max_depth(crate::MAX_DEPTH_LIMIT));
        let leaf = json!({"op": "=", "attr": "xs", "val": {"b": {"c": 1}}});
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

    #[test]
    fn mongodb_levels_are_counted_on_the_form_written() {
        // `{"items": {"$elemMatch": {"sku": …, "qty": {"$eq": V}}}}`: V's first document is level
        // 5 merged, 7 in `$and`; `nested(n)` is n documents deep.
        fn nested(n: usize) -> Value {
            (1..n).fold(json!({"z": 1}), |inner, _| json!({"z": inner}))
        }
        let spec = |other: &str, n: usize| {
            json!({"op": "elem_match", "attr": "items", "conditions": [
                {"op": "=", "attr": other, "val": "A"}, {"op": "=", "attr": "qty", "val": nested(n)}
            ]})
        };
        let levels = |filter: &bson::Document| crate::out::nesting(&bson::Bson::Document(filter.clone()));
        assert_eq!(levels(&compiled(spec("sku", 96))), 100);
        assert_eq!(levels(&compiled(spec("qty", 94))), 100);
        for too_deep in [spec("sku", 97), spec("qty", 95)] {
            assert_eq!(
                first_error(&Compiler::default(), too_deep),
                ("too_deep".into(), "<root>.conditions[1].val".into())
            );
        }
    }
}
